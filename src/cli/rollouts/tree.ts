// Rendering of `sluice get rollout` and `sluice list rollouts`, laid out as Argo's plugin does
// (cmd/get/get.go, get_rollout.go, cmd/list): a `%-17s` header block, then a NAME KIND STATUS AGE INFO
// tree aligned like Go's text/tabwriter (padding 2, widths in code points, ANSI escapes not counted),
// ages as Kubernetes' HumanDuration. Pure: the clock and colour choice are parameters.

import {
  type AnalysisRunInfo,
  ICON,
  type ImageInfo,
  type ReplicaSetInfo,
  type RolloutInfo,
  revisions,
  rolloutImages,
} from './info.ts';

// Deliberately parallel constants: Argo's tree glyphs, one per kind of object.
export const ICON_ROLLOUT = '⟳';
export const ICON_REVISION = '#';
export const ICON_REPLICA_SET = '⧉';
export const ICON_POD = '□';
export const ICON_ANALYSIS = 'α';
export const ICON_JOB = '⊞';

const FG_RED = 31;
const FG_GREEN = 32;
const FG_YELLOW = 33;
const FG_HI_BLUE = 94;

const COLORS: Readonly<Record<string, number>> = {
  [ICON.waiting]: FG_YELLOW,
  [ICON.progressing]: FG_HI_BLUE,
  [ICON.warning]: FG_RED,
  [ICON.unknown]: FG_YELLOW,
  [ICON.ok]: FG_GREEN,
  [ICON.bad]: FG_RED,
  canary: FG_YELLOW,
  stable: FG_GREEN,
  active: FG_GREEN,
  preview: FG_HI_BLUE,
  Pending: FG_HI_BLUE,
  Running: FG_HI_BLUE,
};

export interface RenderOptions {
  nowMs: number;
  color: boolean;
}

function colorize(s: string, key: string, color: boolean): string {
  const code = COLORS[key];
  if (!color || code === undefined) return s;
  return `\x1b[${code}m${s}\x1b[0m`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI_RE = /\x1b\[[0-9;]*m/g;

/** Display width as Go's tabwriter counts it: code points, ANSI escapes excluded. */
export function displayWidth(s: string): number {
  return [...s.replace(ANSI_RE, '')].length;
}

/**
 * Go's text/tabwriter (minwidth 0, padding 2, pad with spaces) for lines whose cells are separated by
 * tabs: every tab-terminated cell is padded to its column's width plus 2; the text after a line's last
 * tab is not aligned. Columns are aligned over consecutive lines that have that column, as Go does.
 */
export function tabulate(lines: readonly string[], padding = 2): string {
  const rows = lines.map((l) => l.split('\t'));
  const out: string[] = rows.map(() => '');
  const align = (start: number, end: number, column: number): void => {
    // Lines start..end-1 all have a cell at `column` followed by a tab.
    let width = 0;
    for (let i = start; i < end; i++) width = Math.max(width, displayWidth(rows[i]![column]!) + padding);
    for (let i = start; i < end; i++) {
      const cell = rows[i]![column]!;
      out[i] += cell + ' '.repeat(width - displayWidth(cell));
    }
  };
  const walk = (start: number, end: number, column: number): void => {
    let i = start;
    while (i < end) {
      if (rows[i]!.length - 1 <= column) {
        i++;
        continue;
      }
      let j = i;
      while (j < end && rows[j]!.length - 1 > column) j++;
      align(i, j, column);
      walk(i, j, column + 1);
      i = j;
    }
  };
  walk(0, rows.length, 0);
  return rows.map((r, i) => `${out[i]}${r[r.length - 1]}\n`).join('');
}

/** Kubernetes' duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

export function age(creationTimestamp: string | undefined, nowMs: number): string {
  if (creationTimestamp === undefined) return '';
  const t = Date.parse(creationTimestamp);
  return Number.isNaN(t) ? '' : humanDuration(nowMs - t);
}

/** Argo's ScaleDownDelay: time left before the annotated deadline, or "passed". */
export function scaleDownDelay(deadline: string, nowMs: number): string {
  const t = Date.parse(deadline);
  if (Number.isNaN(t)) return '';
  if (t < nowMs) return 'passed';
  return humanDuration(t - nowMs);
}

function prefixes(isLast: boolean, sub: string): [string, string] {
  return isLast ? [`${sub}└──`, `${sub}   `] : [`${sub}├──`, `${sub}│  `];
}

function formatImage(image: ImageInfo, color: boolean): string {
  if (image.tags.length === 0) return image.image;
  return `${image.image} (${image.tags.map((t) => colorize(t, t, color)).join(', ')})`;
}

function field(label: string, value: string | number): string {
  return `${label.padEnd(17)}${value}\n`;
}

function replicaSetLines(rs: ReplicaSetInfo, prefix: string, sub: string, opts: RenderOptions): string[] {
  const info: string[] = [];
  let name = rs.name;
  const tag = (t: string): void => {
    info.push(colorize(t, t, opts.color));
    name = colorize(rs.name, t, opts.color);
  };
  if (rs.stable) tag('stable');
  if (rs.canary) tag('canary');
  else if (rs.active) tag('active');
  else if (rs.preview) tag('preview');
  if (rs.scaleDownDeadline !== '') info.push(`delay:${scaleDownDelay(rs.scaleDownDeadline, opts.nowMs)}`);
  const icon = colorize(rs.icon, rs.icon, opts.color);
  const lines = [
    `${prefix}${ICON_REPLICA_SET} ${name}\tReplicaSet\t${icon} ${rs.status}\t${age(rs.creationTimestamp, opts.nowMs)}\t${info.join(',')}`,
  ];
  rs.pods.forEach((pod, i) => {
    const [podPrefix] = prefixes(i === rs.pods.length - 1, sub);
    const cols = [`ready:${pod.ready}`];
    if (pod.restarts > 0) cols.push(`restarts:${pod.restarts}`);
    const podIcon = colorize(pod.icon, pod.icon, opts.color);
    lines.push(
      `${podPrefix}${ICON_POD} ${pod.name}\tPod\t${podIcon} ${pod.status}\t${age(pod.creationTimestamp, opts.nowMs)}\t${cols.join(',')}`,
    );
  });
  return lines;
}

function analysisRunLines(run: AnalysisRunInfo, prefix: string, sub: string, opts: RenderOptions): string[] {
  const cols: string[] = [];
  const count = (icon: string, n: number): void => {
    if (n > 0) cols.push(`${colorize(icon, icon, opts.color)} ${n}`);
  };
  count(ICON.ok, run.successful);
  count(ICON.bad, run.failed);
  count(ICON.unknown, run.inconclusive);
  count(ICON.warning, run.error);
  const name = colorize(run.name, run.status, opts.color);
  const icon = colorize(run.icon, run.icon, opts.color);
  const lines = [
    `${prefix}${ICON_ANALYSIS} ${name}\tAnalysisRun\t${icon} ${run.status}\t${age(run.creationTimestamp, opts.nowMs)}\t${cols.join(',')}`,
  ];
  run.jobs.forEach((job, i) => {
    const [jobPrefix] = prefixes(i === run.jobs.length - 1, sub);
    const jobIcon = colorize(job.icon, job.icon, opts.color);
    lines.push(
      `${jobPrefix}${ICON_JOB} ${colorize(job.name, job.status, opts.color)}\tJob\t${jobIcon} ${job.status}\t${age(job.creationTimestamp, opts.nowMs)}\t`,
    );
  });
  return lines;
}

/** The NAME KIND STATUS AGE INFO tree: rollout, revisions, their ReplicaSets (with pods) and AnalysisRuns. */
export function renderRolloutTree(info: RolloutInfo, opts: RenderOptions): string {
  const icon = colorize(info.icon, info.icon, opts.color);
  const lines = [
    'NAME\tKIND\tSTATUS\tAGE\tINFO',
    `${ICON_ROLLOUT} ${info.name}\tRollout\t${icon} ${info.status}\t${age(info.creationTimestamp, opts.nowMs)}\t`,
  ];
  const revs = revisions(info);
  revs.forEach((rev, i) => {
    const [prefix, sub] = prefixes(i === revs.length - 1, '');
    lines.push(`${prefix}${ICON_REVISION} revision:${rev}\t\t \t\t`);
    const rss = info.replicaSets.filter((r) => r.revision === rev);
    const runs = info.analysisRuns.filter((r) => r.revision === rev);
    const total = rss.length + runs.length;
    let n = 0;
    for (const rs of rss) {
      const [p, s] = prefixes(n++ === total - 1, sub);
      lines.push(...replicaSetLines(rs, p, s, opts));
    }
    for (const run of runs) {
      const [p, s] = prefixes(n++ === total - 1, sub);
      lines.push(...analysisRunLines(run, p, s, opts));
    }
  });
  return tabulate(lines);
}

/**
 * The whole `get rollout` output: header block, then `traffic` (the routers' weights, router-weights.ts;
 * '' for none), a blank line, the tree.
 */
export function renderRollout(info: RolloutInfo, opts: RenderOptions, traffic = ''): string {
  let out = '';
  out += field('Name:', info.name);
  out += field('Namespace:', info.namespace);
  out += field('Status:', `${colorize(info.icon, info.icon, opts.color)} ${info.status}`);
  if (info.message !== '') out += field('Message:', info.message);
  out += field('Strategy:', info.strategy);
  if (info.strategy === 'Canary') {
    out += field('  Step:', info.step);
    out += field('  SetWeight:', info.setWeight);
    out += field('  ActualWeight:', info.actualWeight);
  }
  const images = rolloutImages(info);
  images.forEach((image, i) => {
    out += field(i === 0 ? 'Images:' : '', formatImage(image, opts.color));
  });
  out += 'Replicas:\n';
  out += field('  Desired:', info.desired);
  out += field('  Current:', info.current);
  out += field('  Updated:', info.updated);
  out += field('  Ready:', info.ready);
  out += field('  Available:', info.available);
  out += traffic;
  out += '\n';
  out += renderRolloutTree(info, opts);
  return out;
}

/** Clears the terminal before a redraw (Argo's GetOptions.Clear). */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J\x1b[0;0H';
