// Fills `{{name}}` placeholders in the peer config templates (bench/peers/*). A placeholder without a
// value is an error naming it, so a template and its caller cannot drift apart silently.

export type RenderResult = { ok: true; text: string } | { ok: false; error: string };

export function renderTemplate(
  template: string,
  values: Readonly<Record<string, string | number>>,
): RenderResult {
  const missing = new Set<string>();
  const text = template.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) {
      missing.add(name);
      return '';
    }
    return String(value);
  });
  if (missing.size > 0) return { ok: false, error: `template: no value for ${[...missing].join(', ')}` };
  return { ok: true, text };
}
