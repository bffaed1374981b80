// The one cookie a sticky-session client needs: the value of a named cookie from Set-Cookie headers
// (RFC 6265 section 5.2: the name=value pair is everything before the first ';').

/** Value of cookie `name` from one or more Set-Cookie header values; the last one wins. */
export function cookieFromSetCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let found: string | undefined;
  for (const line of Array.isArray(header) ? header : [header]) {
    const pair = line.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) found = pair.slice(eq + 1).trim();
  }
  return found;
}
