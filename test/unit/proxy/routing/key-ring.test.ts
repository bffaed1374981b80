import { describe, expect, it } from 'vitest';
import { createKeyRing, parseKeyRing, randomKeyRing } from '../../../../proxy/routing/key-ring.ts';

const SECRET_B64 = Buffer.alloc(32, 3).toString('base64');

describe('cookie key ring', () => {
  it('parses id:base64secret lines, first key signs, all verify', () => {
    const r = parseKeyRing(
      `# rotated 2026-01\n\nnew:${SECRET_B64}\nold : ${Buffer.alloc(16, 9).toString('base64url')}\n`,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ring.signing.id).toBe('new');
    expect(r.ring.keys.map((k) => k.id)).toEqual(['new', 'old']);
    expect(r.ring.get('old')).toBeDefined();
    expect(r.ring.get('missing')).toBeUndefined();
  });

  it.each([
    ['', 'no keys'],
    ['# only a comment\n', 'no keys'],
    ['justsomething', 'line 1: expected "id:base64secret"'],
    [`a:${SECRET_B64}\nbad id:${SECRET_B64}`, 'line 2: key id "bad id"'],
    [`a.b:${SECRET_B64}`, 'line 1: key id "a.b"'],
    ['a:not base64!', 'line 1: secret of key "a" is not base64'],
    ['a:c2hvcnQ=', 'line 1: key "a" secret must be at least 16 bytes'],
    [`a:${SECRET_B64}\na:${SECRET_B64}`, 'line 2: duplicate key id "a"'],
  ])('rejects %j with a clear message', (text, message) => {
    const r = parseKeyRing(text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(message);
  });

  it('refuses empty rings and short secrets at construction', () => {
    expect(() => createKeyRing([])).toThrow(/at least one key/);
    expect(() => createKeyRing([{ id: 'a', secret: Buffer.alloc(8) }])).toThrow(/at least 16 bytes/);
  });

  it('makes a distinct random key when none is configured', () => {
    const a = randomKeyRing();
    const b = randomKeyRing();
    expect(a.signing.id).toMatch(/^r[0-9a-f]{8}$/);
    expect(a.signing.key.export().equals(b.signing.key.export())).toBe(false);
    expect(a.signing.key.symmetricKeySize).toBe(32);
  });
});
