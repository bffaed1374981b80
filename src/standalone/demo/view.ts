// The demo's live view. On a TTY, a compact screen redrawn in place: the stage, the Rollout's step and
// phase with a progress bar, desired vs measured traffic share per version (measured: who answered the
// load generator in the last 2 s), success rate and p95/p99 per version, and the latest AnalysisRun's
// measurements and verdicts. Otherwise plain timestamped lines, one per change.

import type { WindowStats } from './load.ts';

export interface DemoState {
  readonly startedAt: number;
  readonly stage: string;
  readonly release: string;
  readonly phase: string;
  readonly message: string;
  readonly aborted: boolean;
  readonly stepIndex: number;
  readonly stepCount: number;
  readonly desired: readonly { version: string; weight: number }[];
  readonly traffic: readonly WindowStats[];
  readonly analysis:
    | {
        readonly name: string;
        readonly phase: string;
        readonly runs: number;
        readonly measurements: readonly {
          metric: string;
          phase: string;
          value: string;
          message: string;
          at: string;
        }[];
      }
    | undefined;
}

function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

function ms(v: number): string {
  return Number.isFinite(v) ? `${Math.round(v)} ms` : '-';
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

/** The TTY screen, as lines. */
export function renderScreen(s: DemoState, width = 100): string[] {
  const elapsed = ((Date.now() - s.startedAt) / 1000).toFixed(1);
  const step = s.stepCount === 0 ? 0 : Math.min(s.stepIndex, s.stepCount) / s.stepCount;
  const lines = [
    `Sluice demo  ${elapsed} s   ${s.stage}`,
    `Rollout demo: ${s.phase}${s.aborted ? ' (aborted)' : ''}, step ${Math.min(s.stepIndex, s.stepCount)}/${s.stepCount} ${bar(step, 30)}`,
    `  ${clip(s.message, width - 2)}`,
    '',
    'version  desired  measured                         success    p95      p99      req/2s',
  ];
  const versions = new Set([...s.desired.map((d) => d.version), ...s.traffic.map((t) => t.version)]);
  for (const v of [...versions].sort()) {
    const d = s.desired.find((x) => x.version === v);
    const t = s.traffic.find((x) => x.version === v);
    lines.push(
      `${v.padEnd(8)} ${(d === undefined ? '-' : `${d.weight}%`).padStart(7)}  ${(t === undefined ? '-' : pct(t.share)).padStart(6)} ${bar(t?.share ?? 0, 24)}  ${(t === undefined ? '-' : pct(t.successRate)).padStart(7)}  ${ms(t?.p95 ?? Number.NaN).padStart(7)}  ${ms(t?.p99 ?? Number.NaN).padStart(7)}  ${String(t?.requests ?? 0).padStart(6)}`,
    );
  }
  lines.push('');
  if (s.analysis === undefined) lines.push('analysis: none yet');
  else {
    lines.push(`analysis ${s.analysis.name}: ${s.analysis.phase} (runs so far: ${s.analysis.runs})`);
    for (const m of s.analysis.measurements)
      lines.push(clip(`  ${m.at.slice(11, 23)} ${m.metric} ${m.phase} ${m.value} ${m.message}`, width));
  }
  return lines.map((l) => clip(l, width));
}

/** A one-line account of the state for plain output. */
export function stateLine(s: DemoState): string {
  const desired = s.desired.map((d) => `${d.version} ${d.weight}%`).join(' / ') || '-';
  const measured =
    s.traffic
      .map((t) => `${t.version} ${pct(t.share)} ok ${pct(t.successRate)} p99 ${ms(t.p99)}`)
      .join(' / ') || '-';
  return `step ${s.stepIndex}/${s.stepCount} ${s.phase}${s.aborted ? ' aborted' : ''}; desired ${desired}; measured ${measured}`;
}

export interface View {
  update(state: DemoState): void;
  event(line: string): void;
  /** Leaves the screen as it is (TTY) and stops drawing. */
  close(): void;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

export function createView(
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  tty: boolean,
): View {
  if (tty) {
    let drawn = 0;
    let last: DemoState | undefined;
    const events: string[] = [];
    let closed = false;
    const draw = (): void => {
      if (last === undefined || closed) return;
      const width = Math.max(60, (out.columns ?? 100) - 1);
      const lines = [...renderScreen(last, width), '', ...events.slice(-6).map((e) => clip(e, width))];
      out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}\x1b[J${lines.join('\n')}\n`);
      drawn = lines.length;
    };
    return {
      update(state) {
        last = state;
        draw();
      },
      event(line) {
        events.push(`${stamp()} ${line}`);
        draw();
      },
      close() {
        draw();
        closed = true;
      },
    };
  }
  let lastLine = '';
  let lastAt = 0;
  let lastMeasurement = '';
  return {
    update(state) {
      const m = state.analysis?.measurements.at(-1);
      const mLine =
        m === undefined ? '' : `${state.analysis?.name} ${m.metric} ${m.phase} ${m.value} ${m.message}`;
      if (mLine !== '' && mLine !== lastMeasurement) {
        lastMeasurement = mLine;
        out.write(`${stamp()} analysis ${mLine}\n`);
      }
      const line = stateLine(state);
      const key = line.replace(/measured .*/, '');
      if (key !== lastLine.replace(/measured .*/, '') || Date.now() - lastAt >= 5_000) {
        lastLine = line;
        lastAt = Date.now();
        out.write(`${stamp()} ${line}\n`);
      }
    },
    event(line) {
      out.write(`${stamp()} ${line}\n`);
    },
    close() {},
  };
}
