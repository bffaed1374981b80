// SigV4 against vectors of AWS's aws-sig-v4-test-suite (credentials AKIDEXAMPLE, region us-east-1,
// service "service", 2015-08-30T12:36:00Z): the canonical request, string to sign and Authorization
// header of get-vanilla as published, and the published signatures of three more cases.

import { describe, expect, it } from 'vitest';
import { amzDate, awsEnvironment, signV4, uriEncode } from '../../../../src/analysis/providers/sigv4.ts';

const NOW = Date.parse('2015-08-30T12:36:00Z');
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const SUITE_HEADERS = { Host: 'example.amazonaws.com', 'X-Amz-Date': '20150830T123600Z' };

function suite(method: string, path: string, body = '') {
  return signV4({
    method,
    url: new URL(`https://example.amazonaws.com${path}`),
    headers: SUITE_HEADERS,
    body,
    region: 'us-east-1',
    service: 'service',
    credentials: CREDENTIALS,
    nowMs: NOW,
  });
}

describe('SigV4 (aws-sig-v4-test-suite)', () => {
  it('get-vanilla: canonical request, string to sign and Authorization header as published', () => {
    const signed = suite('GET', '/');
    expect(signed.canonicalRequest).toBe(
      [
        'GET',
        '/',
        '',
        'host:example.amazonaws.com',
        'x-amz-date:20150830T123600Z',
        '',
        'host;x-amz-date',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ].join('\n'),
    );
    expect(signed.stringToSign).toBe(
      [
        'AWS4-HMAC-SHA256',
        '20150830T123600Z',
        '20150830/us-east-1/service/aws4_request',
        'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
      ].join('\n'),
    );
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, ' +
        'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it.each([
    [
      'get-vanilla-query-order-key-case',
      'GET',
      '/?Param2=value2&Param1=value1',
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
    ['post-vanilla', 'POST', '/', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
    ['get-utf8', 'GET', '/ሴ', '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'],
  ])('%s gives the published signature', (_name, method, path, signature) => {
    expect(suite(method, path).signature).toBe(signature);
  });

  it('get-utf8 puts the path in the canonical request encoded once', () => {
    expect(suite('GET', '/ሴ').canonicalRequest.split('\n')[1]).toBe('/%E1%88%B4');
  });

  it('adds x-amz-date, host and the session token, and signs them', () => {
    const signed = signV4({
      method: 'POST',
      url: new URL('http://127.0.0.1:9000/'),
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
      region: 'eu-west-1',
      service: 'monitoring',
      credentials: { ...CREDENTIALS, sessionToken: 'TOKEN' },
      nowMs: NOW,
    });
    expect(signed.headers['x-amz-date']).toBe('20150830T123600Z');
    expect(signed.headers.host).toBe('127.0.0.1:9000');
    expect(signed.headers['x-amz-security-token']).toBe('TOKEN');
    expect(signed.headers.authorization).toContain(
      'SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,',
    );
    expect(signed.headers.authorization).toContain('/20150830/eu-west-1/monitoring/aws4_request');
  });

  it('encodes as RFC 3986 and formats the date as AWS does', () => {
    expect(uriEncode("a b*!'()~")).toBe('a%20b%2A%21%27%28%29~');
    expect(amzDate(NOW)).toBe('20150830T123600Z');
  });

  it('reads credentials and region from the environment only', () => {
    expect(awsEnvironment({}).ok).toBe(false);
    const env = awsEnvironment({
      AWS_ACCESS_KEY_ID: 'AK',
      AWS_SECRET_ACCESS_KEY: 'SK',
      AWS_SESSION_TOKEN: 'ST',
      AWS_DEFAULT_REGION: 'us-west-2',
    });
    expect(env).toEqual({
      ok: true,
      value: {
        credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' },
        region: 'us-west-2',
      },
    });
  });
});
