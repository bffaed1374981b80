// The logs of the long-running commands (controller, proxy, standalone, demo, demo-proxy): pino, JSON lines
// by default when the log's stream is not a terminal (what a log shipper reads), readable text on a
// terminal; `--log-format text|json` and `--loglevel` override (the level also from SLUICE_LOG_LEVEL).
// The text form is formatted here from pino's JSON line instead of through pino-pretty: that package
// brings about ten more dependencies for what is a 30-line function, and the text form is only for people
// reading a terminal, where the cost of re-parsing each line does not matter.

import pino, { type Logger, type LoggerOptions } from 'pino';
import { LOG_FORMATS, LOG_LEVELS } from './command-table.ts';
import { UsageError } from './flags.ts';

export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogSettings {
  readonly format: LogFormat;
  readonly level: string;
}

/**
 * The log settings from the parsed flags: `--log-format` (default text when `isTTY`, else json) and
 * `--loglevel` (default $SLUICE_LOG_LEVEL, else info). Throws UsageError naming the flag.
 */
export function logSettings(
  values: Readonly<Record<string, unknown>>,
  isTTY: boolean,
  env: NodeJS.ProcessEnv = process.env,
): LogSettings {
  const format = values['log-format'];
  const level = values.loglevel ?? env.SLUICE_LOG_LEVEL ?? 'info';
  if (format !== undefined && !(LOG_FORMATS as readonly unknown[]).includes(format))
    throw new UsageError(`--log-format: expected ${LOG_FORMATS.join(' or ')}, got "${String(format)}"`);
  if (!(LOG_LEVELS as readonly unknown[]).includes(level)) {
    const from = values.loglevel === undefined ? 'SLUICE_LOG_LEVEL' : '--loglevel';
    throw new UsageError(`${from}: expected one of ${LOG_LEVELS.join(', ')}, got "${String(level)}"`);
  }
  return { format: (format as LogFormat | undefined) ?? (isTTY ? 'text' : 'json'), level: level as string };
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields the text line shows in its prefix, or that pino adds to every line. */
const PREFIX_FIELDS = new Set(['level', 'time', 'msg', 'name', 'component', 'pid', 'hostname']);

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON line as text: `12:04:05.123 INFO  sluice-proxy: routes applied version=3 routes=2`; an
 * `err` object's stack follows on its own lines. A line that is not JSON is passed through.
 */
export function textLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const source = entry.name ?? entry.component;
  const fields: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(entry)) {
    if (PREFIX_FIELDS.has(key)) continue;
    if (key === 'err' && typeof value === 'object' && value !== null && 'stack' in value) {
      stack = `\n    ${String((value as { stack: unknown }).stack).replaceAll('\n', '\n    ')}`;
      continue;
    }
    fields.push(`${key}=${fieldValue(value)}`);
  }
  const head = [time, level, source === undefined ? '' : `${String(source)}:`, String(entry.msg ?? '')]
    .filter((part) => part !== '')
    .join(' ');
  return `${[head, ...fields].join(' ')}${stack}\n`;
}

/** A pino logger with these settings writing to `stream` (stdout unless given). */
export function createLogger(
  settings: LogSettings,
  options: LoggerOptions = {},
  stream: { write(text: string): unknown } = process.stdout,
): Logger {
  const opts: LoggerOptions = { ...options, level: settings.level };
  if (settings.format === 'json') {
    if (stream === process.stdout) return pino(opts);
    return pino(opts, stream === process.stderr ? pino.destination(2) : stream);
  }
  return pino(opts, { write: (line: string) => stream.write(textLine(line)) });
}
