// `sluice controller --control-*`: the control API's flags and the files they name.
import { describe, expect, it } from 'vitest';
import { loadControlSettings, parseControllerArgs } from '../../../src/cli/controller.ts';

describe('sluice controller control API flags', () => {
  it('has no control server without --control-listen', () => {
    const parsed = parseControllerArgs([]);
    expect(parsed.ok && parsed.control).toBe(undefined);
  });

  it('reads HOST:PORT, [IPv6]:PORT and :PORT', () => {
    const listen = (value: string) =>
      parseControllerArgs([`--control-listen=${value}`, '--control-token-file', '/t']);
    expect(listen('0.0.0.0:8443')).toMatchObject({
      ok: true,
      control: { host: '0.0.0.0', port: 8443, tokenFile: '/t' },
    });
    expect(listen('[::1]:9000')).toMatchObject({ ok: true, control: { host: '::1', port: 9000 } });
    expect(listen(':9000')).toMatchObject({ ok: true, control: { host: '0.0.0.0', port: 9000 } });
    expect(listen('localhost:0')).toMatchObject({ ok: true, control: { host: 'localhost', port: 0 } });
  });

  it('takes the TLS files together, mTLS on top', () => {
    const parsed = parseControllerArgs([
      '--control-listen=0.0.0.0:8443',
      '--control-token-file=/t',
      '--control-cert=/c',
      '--control-key=/k',
      '--control-client-ca=/ca',
    ]);
    expect(parsed).toMatchObject({
      ok: true,
      control: { tokenFile: '/t', certFile: '/c', keyFile: '/k', clientCaFile: '/ca' },
    });
  });

  it.each([
    [['--control-listen=0.0.0.0:8443'], '--control-listen: needs --control-token-file'],
    [['--control-listen=8443', '--control-token-file=/t'], '--control-listen: must be HOST:PORT'],
    [['--control-listen=h:70000', '--control-token-file=/t'], '--control-listen: must be HOST:PORT'],
    [['--control-token-file=/t'], '--control-token-file: needs --control-listen'],
    [
      ['--control-listen=:1', '--control-token-file=/t', '--control-cert=/c'],
      '--control-cert: needs --control-key',
    ],
    [
      ['--control-listen=:1', '--control-token-file=/t', '--control-key=/k'],
      '--control-key: needs --control-cert',
    ],
    [
      ['--control-listen=:1', '--control-token-file=/t', '--control-client-ca=/ca'],
      '--control-client-ca: needs --control-cert',
    ],
    [['--control-listen=:1', '--control-token-file='], '--control-token-file: must not be empty'],
  ])('refuses %j naming the flag', (argv, error) => {
    const parsed = parseControllerArgs(argv);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(error);
  });

  const files = (content: Record<string, string>) => (path: string) => {
    const text = content[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return Buffer.from(text);
  };

  it('reads the token without surrounding blanks, and the certificates as given', () => {
    const loaded = loadControlSettings(
      { host: '0.0.0.0', port: 8443, tokenFile: '/t', certFile: '/c', keyFile: '/k', clientCaFile: '/ca' },
      files({ '/t': '  tok-123\n', '/c': 'CERT', '/k': 'KEY', '/ca': 'CA' }),
    );
    expect(loaded).toEqual({
      ok: true,
      settings: {
        host: '0.0.0.0',
        port: 8443,
        token: 'tok-123',
        tls: { cert: Buffer.from('CERT'), key: Buffer.from('KEY'), clientCa: Buffer.from('CA') },
      },
    });
  });

  it.each([
    [{ '/c': 'C', '/k': 'K' }, '--control-token-file: cannot read /t'],
    [{ '/t': '\n', '/c': 'C', '/k': 'K' }, '--control-token-file: /t is empty'],
    [{ '/t': 'two words', '/c': 'C', '/k': 'K' }, '--control-token-file: the token in /t must be printable'],
    [{ '/t': 'tok', '/k': 'K' }, '--control-cert: cannot read /c'],
    [{ '/t': 'tok', '/c': 'C' }, '--control-key: cannot read /k'],
  ])('names the flag when a file is unusable (%j)', (content, error) => {
    const loaded = loadControlSettings(
      { host: '0.0.0.0', port: 1, tokenFile: '/t', certFile: '/c', keyFile: '/k' },
      files(content),
    );
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.error).toContain(error);
  });
});
