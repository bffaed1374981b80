// The control API's bearer-token check. The comparison runs in constant time over SHA-256 digests of the
// presented and the expected header value: timingSafeEqual wants equal lengths, and hashing both first
// makes the time independent of where they differ and of the presented value's length.

import { createHash, timingSafeEqual } from 'node:crypto';

export type TokenCheck = 'ok' | 'missing' | 'mismatch';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** A verifier for `authorization: Bearer <token>`; the token is held only as a digest. */
export function bearerTokenVerifier(token: string): (authorization: string | undefined) => TokenCheck {
  if (token === '') throw new Error('control: the token must not be empty');
  const expected = digest(`Bearer ${token}`);
  return (authorization) => {
    if (authorization === undefined || authorization === '') return 'missing';
    return timingSafeEqual(digest(authorization), expected) ? 'ok' : 'mismatch';
  };
}
