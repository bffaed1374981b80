// AWS Signature Version 4 for the cloudWatch provider and prometheus `authentication.sigv4` (Amazon
// Managed Prometheus), written against the AWS reference "Create a signed AWS API request" and checked
// with vectors of AWS's aws-sig-v4-test-suite (test/unit/analysis/providers/sigv4.test.ts).
// Credentials come from the environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION): the SDK default chain's shared config files, web
// identity (IRSA), container and instance-metadata credentials are not read. Nothing here throws.

import { createHash, createHmac } from 'node:crypto';
import type { Field } from './http-client.ts';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SigV4Input {
  readonly method: string;
  readonly url: URL;
  /** Headers to send; all of them are signed (host is added from the URL when absent). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly region: string;
  readonly service: string;
  readonly credentials: AwsCredentials;
  readonly nowMs: number;
}

export interface SigV4Output {
  /** `headers` plus host, x-amz-date, x-amz-security-token (with a session token) and authorization. */
  readonly headers: Record<string, string>;
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  readonly signature: string;
}

export function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 percent-encoding of everything but the unreserved characters (A-Z a-z 0-9 - _ . ~). */
export function uriEncode(text: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `20150830T123600Z` */
export function amzDate(nowMs: number): string {
  return new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The canonical URI: the decoded path, each segment encoded once (services other than S3). */
function canonicalUri(url: URL): string {
  const path = url.pathname === '' ? '/' : url.pathname;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    decoded = path;
  }
  return uriEncode(decoded, true);
}

function canonicalQuery(url: URL): string {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of url.searchParams) pairs.push([uriEncode(k), uriEncode(v)]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** The signing key: HMAC chain over date, region, service and "aws4_request". */
export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export function signV4(input: SigV4Input): SigV4Output {
  const date = amzDate(input.nowMs);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = { ...input.headers };
  const lower = new Map(Object.keys(headers).map((k) => [k.toLowerCase(), k]));
  if (!lower.has('host')) headers.host = input.url.host;
  if (!lower.has('x-amz-date')) headers['x-amz-date'] = date;
  if (input.credentials.sessionToken !== undefined && input.credentials.sessionToken !== '') {
    headers['x-amz-security-token'] = input.credentials.sessionToken;
  }
  const canonical = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (key === 'authorization') continue;
    const v = value.trim().replace(/\s+/g, ' ');
    canonical.set(key, canonical.has(key) ? `${canonical.get(key)},${v}` : v);
  }
  const names = [...canonical.keys()].sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method.toUpperCase(),
    canonicalUri(input.url),
    canonicalQuery(input.url),
    `${names.map((n) => `${n}:${canonical.get(n)}`).join('\n')}\n`,
    signedHeaders,
    sha256Hex(input.body),
  ].join('\n');
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = [SIGV4_ALGORITHM, date, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = signingKey(input.credentials.secretAccessKey, day, input.region, input.service);
  const signature = hmac(key, stringToSign).toString('hex');
  headers.authorization =
    `${SIGV4_ALGORITHM} Credential=${input.credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers, canonicalRequest, stringToSign, signature };
}

export interface AwsEnvironment {
  readonly credentials: AwsCredentials;
  readonly region: string | undefined;
}

/** Credentials and region from the environment, as the first link of the AWS SDK default chain. */
export function awsEnvironment(env: Readonly<Record<string, string | undefined>>): Field<AwsEnvironment> {
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? env.AWS_SECRET_KEY;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  if (!accessKeyId || !secretAccessKey) {
    return {
      ok: false,
      error:
        'no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Sluice reads AWS credentials from the environment only)',
    };
  }
  const sessionToken = env.AWS_SESSION_TOKEN;
  return {
    ok: true,
    value: {
      credentials: {
        accessKeyId,
        secretAccessKey,
        ...(sessionToken !== undefined && sessionToken !== '' ? { sessionToken } : {}),
      },
      region,
    },
  };
}
