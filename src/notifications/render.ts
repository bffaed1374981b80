// A notification template rendered for one service: the parts of the template that service reads
// (message for all; Slack's attachments/blocks parsed as JSON; the webhook part named after the service).
// The template variables are Argo Rollouts': `.rollout` (the Rollout as JSON) plus the ConfigMap's
// `.context`. Any parse, execution or JSON error is a TemplateRenderError naming template and field.

import type { NotificationTemplate, ServiceConfig, TemplateField } from './config.ts';
import { executeGoTemplate } from './go-template.ts';
import type { RenderedNotification } from './services.ts';

export type RenderResult = { ok: true; notification: RenderedNotification } | { ok: false; error: string };

function run(f: TemplateField | undefined, vars: unknown, nowMs: number): string | undefined {
  if (f === undefined) return undefined;
  if (!f.compiled.ok) throw new Error(f.compiled.error);
  const r = executeGoTemplate(f.compiled.template, vars, { nowMs });
  if (!r.ok) throw new Error(r.error);
  return r.text;
}

function json(what: string, text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${what} is not valid JSON after rendering: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export function renderNotification(
  t: NotificationTemplate,
  service: ServiceConfig,
  vars: Readonly<Record<string, unknown>>,
  nowMs: number,
): RenderResult {
  try {
    const message = run(t.message, vars, nowMs);
    const out: {
      message?: string;
      slack?: RenderedNotification['slack'];
      webhook?: RenderedNotification['webhook'];
    } = {};
    if (message !== undefined) out.message = message;
    if (service.type === 'slack' && t.slack) {
      const attachments = json(`template ${t.name} slack.attachments`, run(t.slack.attachments, vars, nowMs));
      const blocks = json(`template ${t.name} slack.blocks`, run(t.slack.blocks, vars, nowMs));
      const groupingKey = run(t.slack.groupingKey, vars, nowMs);
      out.slack = {
        ...(attachments !== undefined ? { attachments } : {}),
        ...(blocks !== undefined ? { blocks } : {}),
        ...(groupingKey !== undefined ? { groupingKey } : {}),
      };
    }
    const w = service.type === 'webhook' ? t.webhook[service.name] : undefined;
    if (w) {
      out.webhook = {
        method: (run(w.method, vars, nowMs) ?? 'GET').trim() || 'GET',
        path: run(w.path, vars, nowMs) ?? '',
        body: run(w.body, vars, nowMs) ?? '',
      };
    }
    return { ok: true, notification: out };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
