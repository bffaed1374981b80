// Secret values (args from secretKeyRef) never appear in a message, log line, measurement value or
// metadata: every string the engine stores or prints passes through redact(). Argo uses "*****".

export const REDACTED = '*****';

/** Replaces every occurrence of each secret (longest first, so overlapping secrets are fully hidden). */
export function redact(text: string, secrets: readonly string[] | undefined): string {
  if (secrets === undefined || secrets.length === 0 || text === '') return text;
  let out = text;
  const ordered = [...secrets].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  for (const secret of ordered) {
    out = out.split(secret).join(REDACTED);
    // A secret can also appear JSON-escaped (e.g. inside an echoed request body).
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) out = out.split(escaped).join(REDACTED);
  }
  return out;
}

export function redactRecord(
  record: Readonly<Record<string, string>>,
  secrets: readonly string[] | undefined,
): Record<string, string>;
export function redactRecord(
  record: Readonly<Record<string, string>> | undefined,
  secrets: readonly string[] | undefined,
): Record<string, string> | undefined;
export function redactRecord(
  record: Readonly<Record<string, string>> | undefined,
  secrets: readonly string[] | undefined,
): Record<string, string> | undefined {
  if (record === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[k] = redact(v, secrets);
  return out;
}
