// `sluice analysis run`: runs an AnalysisTemplate / ClusterAnalysisTemplate / AnalysisRun manifest
// locally to completion with every provider that needs no cluster (prometheus, web, graphite, influxdb,
// datadog, newRelic, cloudWatch, kayenta) and metric plugins given by --metric-plugin, printing each measurement as it is taken and the verdict. Exit code: 0 Successful, 1 Failed, 2 Error (also bad flags or input),
// 3 Inconclusive. Ctrl-C terminates the run (judged as Argo judges a terminated run); a second Ctrl-C exits.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { buildAnalysisRun, type SecretResolver } from '../analysis/args.ts';
import { createCloudWatchProvider } from '../analysis/providers/cloudwatch.ts';
import { createDatadogProvider } from '../analysis/providers/datadog.ts';
import { createGraphiteProvider, parseGraphiteConfig } from '../analysis/providers/graphite.ts';
import { isObject } from '../analysis/providers/http-client.ts';
import { createInfluxdbProvider, parseInfluxdbSpec } from '../analysis/providers/influxdb.ts';
import { createKayentaProvider } from '../analysis/providers/kayenta.ts';
import { createNewRelicProvider } from '../analysis/providers/newrelic.ts';
import {
  BUILT_IN_PLUGIN_NAMES,
  createPluginProvider,
  type MetricPluginEntry,
  mergeMetricPlugins,
  parseMetricPluginConfigMap,
  parseMetricPluginFlag,
} from '../analysis/providers/plugin.ts';
import { createPrometheusProvider } from '../analysis/providers/prometheus.ts';
import { createProviderRegistry, providerType } from '../analysis/providers/registry.ts';
import { createWebProvider } from '../analysis/providers/web.ts';
import { redact } from '../analysis/redact.ts';
import { type MeasurementEvent, type RunnerClock, runAnalysis, systemClock } from '../analysis/runner.ts';
import { type AnalysisPhase, type AnalysisRun, parseAnalysisRun } from '../api/analysis-run.ts';
import {
  type AnalysisTemplate,
  type Argument,
  formatFieldError,
  isRecord,
  parseAnalysisTemplate,
} from '../api/analysis-template.ts';
import { formatDurationMs, parseDuration } from '../api/duration.ts';
import { errorText } from '../api/errors.ts';
import { checkSaasProviderSpec } from '../api/metric-provider-specs.ts';
import { examplesHelp, parseArgsOptions } from './command-table.ts';
import { UsageError } from './flags.ts';

export const ANALYSIS_USAGE = `usage: sluice analysis run -f FILE [flags]

Runs an AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun locally until it completes.

flags:
  -f, --file FILE          manifest (YAML or JSON, several documents allowed; "-" reads stdin)
      --name NAME          which template/run in FILE to run (default: the one that no other references)
      --arg K=V            set argument K (repeatable)
      --secret N/K=V       value of key K of Secret N for valueFrom.secretKeyRef args and for
                           provider Secrets, e.g. datadog/api-key=... (repeatable)
      --prometheus URL     use this Prometheus address for every prometheus metric
      --kayenta URL        use this Kayenta address for every kayenta metric
      --metric-plugin NAME=PATH
                           serve provider.plugin.NAME from the Node module at PATH (repeatable)
      --plugin-config FILE an argo-rollouts-config ConfigMap: its metricProviderPlugins (file:// only)
      --interval-scale X   multiply every interval, initialDelay and the 10s error retry by X (e.g. 0.01)
      --duration D         stop metrics that have no count after D (e.g. 30s) and judge the run
  -o, --output FORMAT      text (default) or json: print the final AnalysisRun as JSON
  -h, --help               show this help

exit codes: 0 Successful, 1 Failed, 2 Error, 3 Inconclusive
${examplesHelp('analysis')}`;

export const EXIT_CODES: Readonly<Record<AnalysisPhase, number>> = {
  Successful: 0,
  Failed: 1,
  Error: 2,
  Inconclusive: 3,
  Running: 2,
  Pending: 2,
};

export interface AnalysisCommandIo {
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
  /** Aborting terminates the run (what Ctrl-C does); when given, no signal handlers are installed. */
  readonly terminateSignal?: AbortSignal;
  readonly clock?: RunnerClock;
  readonly readStdin?: () => string;
}

type Candidate =
  | { kind: 'template'; template: AnalysisTemplate }
  | { kind: 'run'; run: AnalysisRun; name: string | undefined };

function parseKeyValue(flag: string, text: string): { key: string; value: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected KEY=VALUE`);
  return { key: text.slice(0, eq), value: text.slice(eq + 1) };
}

function loadCandidates(file: string, text: string): Candidate[] {
  const docs = parseAllDocuments(text);
  const out: Candidate[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) {
      throw new UsageError(`--file ${file}: document ${i + 1}: ${doc.errors[0]!.message}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) throw new UsageError(`--file ${file}: document ${i + 1}: not an object`);
    const where = `--file ${file}: document ${i + 1} (${String(value.kind)} ${
      isRecord(value.metadata) ? String(value.metadata.name ?? '') : ''
    })`;
    if (value.kind === 'AnalysisTemplate' || value.kind === 'ClusterAnalysisTemplate') {
      const parsed = parseAnalysisTemplate(value);
      if (!parsed.ok) throw new UsageError(`${where}: ${formatFieldError(parsed.error)}`);
      out.push({ kind: 'template', template: parsed.value });
    } else if (value.kind === 'AnalysisRun') {
      const parsed = parseAnalysisRun(value);
      if (!parsed.ok) throw new UsageError(`${where}: ${formatFieldError(parsed.error)}`);
      out.push({ kind: 'run', run: parsed.value, name: parsed.value.metadata.name });
    }
    // Other kinds (Rollout, Service, ...) are skipped: guides put them in the same file.
  }
  return out;
}

function candidateName(c: Candidate): string | undefined {
  return c.kind === 'template' ? c.template.metadata.name : c.name;
}

function select(candidates: Candidate[], name: string | undefined, file: string): Candidate[] {
  const describe = (): string =>
    candidates
      .map(
        (c) =>
          `${c.kind === 'template' ? c.template.kind : 'AnalysisRun'}/${candidateName(c) ?? '(unnamed)'}`,
      )
      .join(', ');
  if (candidates.length === 0) {
    throw new UsageError(`--file ${file}: no AnalysisTemplate, ClusterAnalysisTemplate or AnalysisRun found`);
  }
  if (name !== undefined) {
    const matches = candidates.filter((c) => candidateName(c) === name);
    if (matches.length === 0)
      throw new UsageError(`--name ${name}: not found in ${file} (found: ${describe()})`);
    // A namespaced template wins over a cluster template of the same name.
    const preferred =
      matches.find((c) => c.kind === 'run') ??
      matches.find((c) => c.kind === 'template' && c.template.kind === 'AnalysisTemplate') ??
      matches[0]!;
    return [preferred];
  }
  if (candidates.length === 1) return candidates;
  const runs = candidates.filter((c) => c.kind === 'run');
  if (runs.length > 0) {
    if (runs.length === 1) return runs;
    throw new UsageError(
      `--file ${file} holds several AnalysisRuns; choose one with --name (found: ${describe()})`,
    );
  }
  // Templates only: the roots (not referenced by another template in the file) run together in one
  // run, as a Rollout step listing them would; referenced ones come in through composition.
  const referenced = new Set<string>();
  for (const c of candidates) {
    if (c.kind !== 'template') continue;
    for (const ref of c.template.spec.templates ?? []) {
      referenced.add(
        `${ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate'}/${ref.templateName}`,
      );
    }
  }
  const roots = candidates.filter(
    (c) => c.kind === 'template' && !referenced.has(`${c.template.kind}/${c.template.metadata.name ?? ''}`),
  );
  return roots.length > 0 ? roots : candidates;
}

function elapsed(startMs: number, nowMs: number): string {
  return `+${((nowMs - startMs) / 1_000).toFixed(1)}s`.padStart(8);
}

function formatMeasurement(e: MeasurementEvent): string {
  const m = e.measurement;
  const n = e.result ? e.result.count + e.result.error : 0;
  const parts = [`${e.metricName} #${n}`, m.phase];
  if (m.value !== undefined) parts.push(`value=${m.value}`);
  if (m.message) parts.push(`message=${JSON.stringify(m.message)}`);
  if (e.result) {
    parts.push(
      `(successful ${e.result.successful}, failed ${e.result.failed}, inconclusive ${e.result.inconclusive}, ` +
        `errors ${e.result.error}, consecutive errors ${e.result.consecutiveError})`,
    );
  }
  return parts.join('  ');
}

export async function runAnalysisCommand(argv: string[], io: AnalysisCommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const clock = io.clock ?? systemClock;
  const args = argv[0] === 'run' ? argv.slice(1) : argv;
  if (argv[0] !== undefined && argv[0] !== 'run' && !argv[0].startsWith('-')) {
    stderr.write(`sluice analysis: unknown subcommand "${argv[0]}"\n\n${ANALYSIS_USAGE}`);
    return 2;
  }
  let secretsForOutput: string[] = [];
  try {
    let parsed: ReturnType<typeof parseFlags>;
    try {
      parsed = parseFlags(args);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(errorText(error));
    }
    const { values } = parsed;
    if (values.help) {
      stdout.write(ANALYSIS_USAGE);
      return 0;
    }
    const file = values.file;
    if (file === undefined) throw new UsageError('--file: is required');
    const output = values.output ?? 'text';
    if (output !== 'text' && output !== 'json')
      throw new UsageError(`--output ${output}: must be text or json`);
    let intervalScale: number | undefined;
    if (values['interval-scale'] !== undefined) {
      intervalScale = Number(values['interval-scale']);
      if (!Number.isFinite(intervalScale) || intervalScale <= 0) {
        throw new UsageError(`--interval-scale ${values['interval-scale']}: must be a positive number`);
      }
    }
    let durationMs: number | undefined;
    if (values.duration !== undefined) {
      const d = parseDuration(values.duration);
      if (!d.ok) throw new UsageError(`--duration ${values.duration}: ${d.error}`);
      if (d.ms <= 0) throw new UsageError(`--duration ${values.duration}: must be positive`);
      durationMs = d.ms;
    }
    if (values.prometheus !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(values.prometheus);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new UsageError(`--prometheus ${values.prometheus}: must be an http or https URL`);
      }
    }
    const cliArgs: Argument[] = (values.arg ?? []).map((text) => {
      const { key, value } = parseKeyValue('--arg', text);
      return { name: key, value };
    });
    const secretMap = new Map<string, string>();
    for (const text of values.secret ?? []) {
      const { key, value } = parseKeyValue('--secret', text);
      const slash = key.indexOf('/');
      if (slash <= 0 || slash === key.length - 1) {
        throw new UsageError(`--secret ${JSON.stringify(text)}: expected SECRET/KEY=VALUE`);
      }
      secretMap.set(key, value);
    }
    secretsForOutput = [...secretMap.values()].filter((v) => v !== '');
    const resolveSecret: SecretResolver = async (ref) => {
      const value = secretMap.get(`${ref.name}/${ref.key}`);
      if (value === undefined) {
        return {
          ok: false,
          error: `secret "${ref.name}" key "${ref.key}" not given (pass --secret ${ref.name}/${ref.key}=VALUE)`,
        };
      }
      return { ok: true, value };
    };

    let text: string;
    try {
      text = file === '-' ? (io.readStdin ?? (() => readFileSync(0, 'utf8')))() : readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--file ${file}: ${errorText(error)}`);
    }
    const candidates = loadCandidates(file, text);
    const selected = select(candidates, values.name, file);
    const run = buildRun(selected, candidates, cliArgs, stderr);

    const prometheus = createPrometheusProvider(
      values.prometheus !== undefined ? { addressOverride: values.prometheus } : {},
    );
    const web = createWebProvider();
    const graphite = createGraphiteProvider();
    const influxdb = createInfluxdbProvider();
    const kayentaOverride = httpUrlFlag('--kayenta', values.kayenta);
    // Datadog / New Relic credentials come from --secret datadog/api-key=... (or DD_* env), CloudWatch's
    // from the AWS_* environment.
    const saas = [
      createDatadogProvider(),
      createNewRelicProvider(),
      createCloudWatchProvider(),
      createKayentaProvider(kayentaOverride !== undefined ? { addressOverride: kayentaOverride } : {}),
    ];
    const plugins = loadPluginFlags(values['metric-plugin'] ?? [], values['plugin-config']).map((entry) =>
      createPluginProvider(entry),
    );
    const providers = createProviderRegistry([prometheus, web, graphite, influxdb, ...saas, ...plugins]);
    for (const [i, metric] of run.spec.metrics.entries()) {
      const type = providerType(metric.provider);
      const spec = checkSaasProviderSpec(metric.provider, { lenient: true });
      if (spec.error !== undefined) {
        throw new UsageError(
          `metrics[${i}] (${metric.name}): provider.${spec.error.field}: ${spec.error.message}`,
        );
      }
      for (const warning of spec.warnings)
        stderr.write(`metrics[${i}] (${metric.name}): provider.${warning}\n`);
      const ours = checkGraphiteInfluxdbSpec(metric.provider);
      if (ours !== undefined) throw new UsageError(`metrics[${i}] (${metric.name}): provider.${ours}`);
      if (
        type !== undefined &&
        providers.get(type) === undefined &&
        isObject(metric.provider.plugin) &&
        !BUILT_IN_PLUGIN_NAMES.includes(type)
      ) {
        throw new UsageError(
          `metrics[${i}] (${metric.name}): plugin ${type} not configured in configmap (pass --metric-plugin ${type}=PATH or --plugin-config FILE)`,
        );
      }
      if (type !== undefined && providers.get(type) === undefined) {
        throw new UsageError(
          `metrics[${i}] (${metric.name}): provider "${type}" cannot run locally (available: ${providers.types.join(', ')})`,
        );
      }
    }

    const terminate = new AbortController();
    let interrupts = 0;
    const onSigint = (): void => {
      interrupts++;
      if (interrupts === 1) {
        stderr.write('terminating the run (Ctrl-C again to exit now)\n');
        terminate.abort();
      } else {
        process.exit(130);
      }
    };
    const signal = io.terminateSignal ?? terminate.signal;
    if (io.terminateSignal === undefined) process.on('SIGINT', onSigint);
    const startMs = clock.now();
    const say = (line: string): void => {
      if (output === 'text') stdout.write(`${redact(line, secretsForOutput)}\n`);
    };
    say(
      `AnalysisRun ${run.metadata.name}: ${run.spec.metrics.length} metric(s)` +
        (intervalScale !== undefined ? `, interval scale ${intervalScale}` : '') +
        (durationMs !== undefined ? `, duration ${formatDurationMs(durationMs)}` : ''),
    );
    let final: AnalysisRun;
    try {
      final = await runAnalysis(run, {
        providers,
        clock,
        resolveSecret,
        ...(intervalScale !== undefined ? { intervalScale } : {}),
        ...(durationMs !== undefined ? { durationMs } : {}),
        terminateSignal: signal,
        onMeasurement: (e) => say(`${elapsed(startMs, clock.now())}  ${formatMeasurement(e)}`),
        onTransition: (t) =>
          say(`${elapsed(startMs, clock.now())}  metric ${t.metricName}: ${t.from} -> ${t.to}`),
      });
    } finally {
      if (io.terminateSignal === undefined) process.off('SIGINT', onSigint);
      await Promise.all([
        prometheus.close(),
        web.close(),
        graphite.close(),
        influxdb.close(),
        ...saas.map((p) => p.close()),
        ...plugins.map((p) => p.close()),
      ]);
    }
    const status = final.status ?? {};
    const phase = status.phase ?? 'Error';
    if (output === 'json') {
      stdout.write(`${redact(JSON.stringify(final, null, 2), secretsForOutput)}\n`);
    } else {
      say(`${elapsed(startMs, clock.now())}  AnalysisRun ${final.metadata.name}: ${phase}`);
      if (status.message) say(`  message: ${status.message}`);
      for (const r of status.metricResults ?? []) {
        say(
          `  ${r.name}: ${r.phase}${r.dryRun ? ' (dry run)' : ''} — count ${r.count}, successful ${r.successful}, ` +
            `failed ${r.failed}, inconclusive ${r.inconclusive}, errors ${r.error}${r.message ? `, last message: ${r.message}` : ''}`,
        );
      }
      const s = status.runSummary;
      if (s) {
        say(
          `  summary: ${s.count} metric(s): ${s.successful} successful, ${s.failed} failed, ` +
            `${s.inconclusive} inconclusive, ${s.error} error`,
        );
      }
    }
    return EXIT_CODES[phase];
  } catch (error) {
    if (error instanceof UsageError) {
      stderr.write(`sluice analysis run: ${redact(error.message, secretsForOutput)}\n`);
      return 2;
    }
    throw error;
  }
}

function httpUrlFlag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`${flag} ${value}: must be an http or https URL`);
  }
  return value;
}

/** `--metric-plugin` entries and `--plugin-config`'s ConfigMap entries, checked as the controller checks them. */
function loadPluginFlags(flags: readonly string[], configFile: string | undefined): MetricPluginEntry[] {
  const entries: MetricPluginEntry[] = [];
  for (const text of flags) {
    const entry = parseMetricPluginFlag(text);
    if (!entry.ok) throw new UsageError(entry.error);
    entries.push(entry.value);
  }
  let fromFile: MetricPluginEntry[] = [];
  if (configFile !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(configFile, 'utf8'));
    } catch (error) {
      throw new UsageError(`--plugin-config ${configFile}: ${errorText(error)}`);
    }
    if (!isRecord(doc) || doc.kind !== 'ConfigMap') {
      throw new UsageError(`--plugin-config ${configFile}: not a ConfigMap`);
    }
    const parsed = parseMetricPluginConfigMap(doc.data);
    if (!parsed.ok) throw new UsageError(`--plugin-config ${configFile}: ${parsed.error}`);
    fromFile = parsed.value;
  }
  const all = mergeMetricPlugins(entries, fromFile);
  if (!all.ok) throw new UsageError(all.error);
  return all.value;
}

/** Field-path errors of the graphite and influxdb blocks; fields still holding `{{args.x}}` are not checked. */
function checkGraphiteInfluxdbSpec(provider: Readonly<Record<string, unknown>>): string | undefined {
  const withArgs = (v: unknown) => typeof v === 'string' && v.includes('{{');
  if (provider.graphite !== undefined) {
    const block = provider.graphite;
    const probe = isObject(block) && withArgs(block.address) ? { ...block, address: 'http://args' } : block;
    const parsed = parseGraphiteConfig(probe);
    if (!parsed.ok) return `${parsed.field}: ${parsed.message}`;
  }
  if (provider.influxdb !== undefined) {
    const parsed = parseInfluxdbSpec(provider.influxdb);
    if (!parsed.ok) return `${parsed.field}: ${parsed.message}`;
  }
  return undefined;
}

function parseFlags(args: string[]) {
  return parseArgs({ args, strict: true, allowPositionals: false, options: parseArgsOptions('analysis') });
}

function buildRun(
  selected: Candidate[],
  all: Candidate[],
  cliArgs: Argument[],
  stderr: { write(text: string): unknown },
): AnalysisRun {
  const first = selected[0]!;
  if (first.kind === 'run') {
    const declared = new Set((first.run.spec.args ?? []).map((a) => a.name));
    for (const a of cliArgs) {
      if (!declared.has(a.name))
        throw new UsageError(`--arg ${a.name}: the AnalysisRun declares no argument "${a.name}"`);
    }
    const args = (first.run.spec.args ?? []).map((a) => cliArgs.find((c) => c.name === a.name) ?? a);
    const { status: _status, ...rest } = first.run;
    return { ...rest, spec: { ...rest.spec, ...(args.length > 0 ? { args } : {}) } };
  }
  const templates = selected.flatMap((c) => (c.kind === 'template' ? [c.template] : []));
  if (selected.length > 1) {
    stderr.write(
      `running ${templates.map((t) => t.metadata.name).join(', ')} together in one run (choose one with --name)\n`,
    );
  }
  const lookup = (name: string, clusterScope: boolean): AnalysisTemplate | undefined => {
    for (const c of all) {
      if (c.kind !== 'template' || c.template.metadata.name !== name) continue;
      if ((c.template.kind === 'ClusterAnalysisTemplate') === clusterScope) return c.template;
    }
    return undefined;
  };
  const declared = new Set<string>();
  const collect = (t: AnalysisTemplate, seen: Set<AnalysisTemplate>): void => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const a of t.spec.args ?? []) declared.add(a.name);
    for (const ref of t.spec.templates ?? []) {
      const child = lookup(ref.templateName, ref.clusterScope === true);
      if (child) collect(child, seen);
    }
  };
  const seen = new Set<AnalysisTemplate>();
  for (const t of templates) collect(t, seen);
  for (const a of cliArgs) {
    if (!declared.has(a.name))
      throw new UsageError(`--arg ${a.name}: the template declares no argument "${a.name}"`);
  }
  const name = templates.map((t) => t.metadata.name ?? 'analysis').join('-');
  const namespace = templates[0]?.metadata.namespace;
  const built = buildAnalysisRun({
    templates,
    args: cliArgs,
    name,
    ...(namespace ? { namespace } : {}),
    lookup,
  });
  if (!built.ok) throw new UsageError(built.error);
  return built.value;
}
