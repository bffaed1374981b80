// The proxy's one error catalogue: every failure the data path can meet has a stable SLUICE_* code,
// the HTTP status it maps to, and a message. Nothing else in proxy/ invents a status for an error
// (linkerd2-proxy's respond.rs, undici's lib/core/errors.js). docs/errors.md lists every code; a test
// fails when one is missing there.

export const ERRORS = {
  SLUICE_BAD_REQUEST: { status: 400, message: 'malformed request' },
  SLUICE_HEADERS_TOO_LARGE: { status: 431, message: 'request head too large' },
  SLUICE_REQUEST_TIMEOUT: { status: 408, message: 'request head or body not received in time' },
  SLUICE_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  SLUICE_NOT_IMPLEMENTED: { status: 501, message: 'unsupported transfer coding' },
  SLUICE_METHOD_NOT_ALLOWED: { status: 405, message: 'method not supported by the proxy' },
  SLUICE_METHOD_REFUSED: { status: 405, message: 'method refused by the proxy method policy' },
  SLUICE_HTTP_VERSION: { status: 505, message: 'HTTP version not supported' },
  SLUICE_EXPECTATION_FAILED: { status: 417, message: 'unsupported Expect' },
  SLUICE_NO_ROUTE: { status: 404, message: 'no route matches the request' },
  SLUICE_NO_BACKEND: { status: 503, message: 'no backend has weight for this route' },
  SLUICE_UPSTREAM_CONNECT_FAILED: { status: 502, message: 'could not connect to the backend' },
  SLUICE_UPSTREAM_CONNECT_TIMEOUT: { status: 504, message: 'connecting to the backend timed out' },
  SLUICE_UPSTREAM_POOL_FULL: { status: 503, message: 'backend connection pool exhausted' },
  SLUICE_UPSTREAM_RESET: { status: 502, message: 'backend closed the connection before responding' },
  SLUICE_UPSTREAM_HEADERS_TIMEOUT: { status: 504, message: 'backend did not send response headers in time' },
  SLUICE_UPSTREAM_BAD_RESPONSE: { status: 502, message: 'backend sent a malformed response' },
  SLUICE_UPSTREAM_HEADERS_TOO_LARGE: { status: 502, message: 'backend response head too large' },
  SLUICE_UPSTREAM_BODY_TIMEOUT: { status: 504, message: 'backend stalled while sending the body' },
  SLUICE_UPSTREAM_RESET_MID_BODY: { status: 502, message: 'backend reset the connection mid-body' },
  SLUICE_CLIENT_WRITE_STALL: { status: 408, message: 'client stopped reading the response' },
  SLUICE_TOO_MANY_TUNNELS: { status: 503, message: 'too many open WebSocket tunnels' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * A complete HTTP/1.1 error response for `code`. After a proxy-generated error the connection is
 * closed unless `keepAlive` (only for errors that leave the framing intact, e.g. no route). `detail`
 * says which case of the code this is (e.g. which backend had no ready endpoint) in a `detail` field.
 */
export function errorResponse(code: ErrorCode, keepAlive: boolean, extraHeaders = '', detail = ''): string {
  const { status, message } = ERRORS[code];
  const extra = detail === '' ? '' : `,"detail":${asciiJson(detail)}`;
  const body = `{"error":"${code}","message":"${message}"${extra}}\n`;
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
    `content-type: application/json\r\ncontent-length: ${body.length}\r\n` +
    `x-sluice-error: ${code}\r\n${extraHeaders}` +
    (keepAlive ? '' : 'connection: close\r\n') +
    `\r\n${body}`
  );
}

/** JSON string with every non-ASCII character escaped, so the body's length in bytes is its length. */
function asciiJson(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};
