// Heads as the proxy forwards them: the request towards the backend and the response towards the
// client. Hop-by-hop fields (RFC 9110 7.6.1), including those named in Connection, are dropped; the
// framing is the proxy's own; X-Forwarded-For is appended to and -Proto/-Host set. Forwarded field
// lines are copied as runs of the original head text, never rebuilt field by field.

import {
  FIELD_CONNECTION,
  FIELD_EXPECT,
  FIELD_UPGRADE,
  FIELD_XF_HOST,
  FIELD_XF_PROTO,
  FIELD_XFF,
  isEndToEnd,
  type RequestHead,
  type ResponseHead,
} from './head.ts';

/** What the request head needs to know about the client side of the connection. */
export interface ForwardingPeer {
  readonly clientIp: string;
  readonly secure: boolean;
  readonly trustForwarded: boolean;
}

/**
 * Request head towards the backend: hop-by-hop fields dropped (Host never), forwarding fields added,
 * re-framed; a Host of the backend's authority when the client sent none (HTTP/1.0).
 * Forwarded field lines are copied as runs of the original head text, not rebuilt field by field.
 */
export function buildUpstreamHead(
  head: RequestHead,
  host: ForwardingPeer,
  upgrade: boolean,
  upstreamAuthority: string,
): string {
  const s = head.source;
  let out =
    head.versionMinor === 1 && !head.targetRewritten
      ? s.slice(0, head.fieldsStart)
      : `${head.method} ${head.target} HTTP/1.1\r\n`;
  const kinds = head.kinds;
  let xff: string | null = null;
  let xfProto: string | null = null;
  let xfHost: string | null = null;
  let run = -1;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    // the proxy writes its own X-Forwarded-* (from the values collected below) and answers Expect itself
    if (
      k !== FIELD_EXPECT &&
      k !== FIELD_XFF &&
      k !== FIELD_XF_PROTO &&
      k !== FIELD_XF_HOST &&
      isEndToEnd(head, i)
    ) {
      if (run < 0) run = head.lineStart(i);
      continue;
    }
    if (run >= 0) {
      out += s.slice(run, head.lineStart(i));
      run = -1;
    }
    if (k === FIELD_XFF) xff = xff === null ? head.value(i) : `${xff}, ${head.value(i)}`;
    else if (k === FIELD_XF_PROTO) xfProto = head.value(i);
    else if (k === FIELD_XF_HOST) xfHost = head.value(i);
  }
  if (run >= 0) out += s.slice(run, s.length - 2);
  // An HTTP/1.0 request may come without Host; the HTTP/1.1 request upstream must have one (RFC 9112
  // 3.2): the backend's authority, as nginx sends its proxy_host.
  if (head.host === '') out += `host: ${upstreamAuthority}\r\n`;
  out += `x-forwarded-for: ${xff === null ? host.clientIp : `${xff}, ${host.clientIp}`}\r\n`;
  out += `x-forwarded-proto: ${host.trustForwarded && xfProto !== null ? xfProto : host.secure ? 'https' : 'http'}\r\n`;
  if (head.host !== '') {
    out += `x-forwarded-host: ${host.trustForwarded && xfHost !== null ? xfHost : head.host}\r\n`;
  }
  if (upgrade) out += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n`;
  if (head.chunked) out += 'transfer-encoding: chunked\r\n';
  else if (head.contentLength >= 0) out += `content-length: ${head.contentLength}\r\n`;
  return `${out}\r\n`;
}

/** Response head towards the client: hop-by-hop fields dropped, our framing added, lines copied in runs. */
export function buildResponseHead(res: ResponseHead, framing: string): string {
  const s = res.source;
  let out = res.versionMinor === 1 ? s.slice(0, res.fieldsStart) : `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  const kinds = res.kinds;
  const switching = res.status === 101;
  let run = -1;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    // a protocol switch relays its Connection / Upgrade to the client
    if ((switching && (k === FIELD_CONNECTION || k === FIELD_UPGRADE)) || isEndToEnd(res, i)) {
      if (run < 0) run = res.lineStart(i);
      continue;
    }
    if (run >= 0) {
      out += s.slice(run, res.lineStart(i));
      run = -1;
    }
  }
  if (run >= 0) out += s.slice(run, s.length - 2);
  return `${out}${framing}\r\n`;
}
