// The test control plane: etcd, kube-apiserver, kube-controller-manager (ReplicaSets create Pods, garbage
// collection follows ownerReferences, namespaces are finalized) and the pod-readiness simulator, all on
// 127.0.0.1 as background processes. A state file records their pids and ports so another process
// (`npm run cluster:down`) can stop them; stop checks /proc/<pid>/cmdline first so a recycled pid is never
// signalled. Certificates and the service-account key are generated with openssl.

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeClient } from './kube-client.ts';
import {
  BUILD_SCRIPT,
  etcdBinary,
  kubeApiserverBinary,
  kubeControllerManagerBinary,
  kubeconfigPath,
  kubectlBinary,
  REPO_ROOT,
  stateFilePath,
} from './paths.ts';
import { SIMULATED_NODE_NAME } from './pod-simulator.ts';

const execFileAsync = promisify(execFile);

const DEFAULT_READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_CHARS = 3_000;
const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const CONTROLLERS = 'replicaset,garbagecollector,namespace,endpoint,endpointslice,serviceaccount,job';
const STATE_VERSION = 1;

export interface ClusterProcess {
  name: 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'pod-simulator';
  pid: number;
  /** A substring of /proc/<pid>/cmdline identifying the process (guards against pid reuse). */
  commandMarker: string;
  logFile: string;
}

export interface ClusterState {
  version: number;
  stateDir: string;
  kubeconfig: string;
  server: string;
  etcdClientPort: number;
  apiserverPort: number;
  startedAt: string;
  processes: ClusterProcess[];
}

export interface StartOptions {
  stateDir: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  readyTimeoutMs?: number;
  /** Environment for the pod simulator (SLUICE_SIM_READY_DELAY_MS ...). */
  simulatorEnv?: Record<string, string>;
}

function defaultLog(line: string): void {
  process.stderr.write(`[cluster] ${line}\n`);
}

export function binariesPresent(): boolean {
  return (
    existsSync(kubeApiserverBinary()) &&
    existsSync(kubeControllerManagerBinary()) &&
    existsSync(kubectlBinary())
  );
}

/** Runs build.sh (progress on this process's stderr) unless the binaries are already cached. */
export async function ensureBinaries(log: (line: string) => void = defaultLog): Promise<void> {
  if (binariesPresent() && existsSync(etcdBinary())) return;
  log(`binaries missing; building with ${BUILD_SCRIPT} (about 8-10 minutes the first time)`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${BUILD_SCRIPT} exited with ${code}`)),
    );
  });
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync('openssl', args, { cwd });
}

/** CA, apiserver serving certificate (127.0.0.1, localhost, in-cluster names) and the service-account key pair. */
async function generatePki(pkiDir: string): Promise<void> {
  await mkdir(pkiDir, { recursive: true });
  await openssl(['genrsa', '-out', 'ca.key', '2048'], pkiDir);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-nodes',
      '-key',
      'ca.key',
      '-subj',
      '/CN=sluice-test-ca',
      '-days',
      '3650',
      '-out',
      'ca.crt',
    ],
    pkiDir,
  );
  await openssl(['genrsa', '-out', 'apiserver.key', '2048'], pkiDir);
  await openssl(
    ['req', '-new', '-key', 'apiserver.key', '-subj', '/CN=kube-apiserver', '-out', 'apiserver.csr'],
    pkiDir,
  );
  const extensions = [
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
  ].join('\n');
  await writeFile(join(pkiDir, 'apiserver.ext'), `${extensions}\n`);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-extfile',
      'apiserver.ext',
      '-out',
      'apiserver.crt',
    ],
    pkiDir,
  );
  await openssl(['genrsa', '-out', 'sa.key', '2048'], pkiDir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], pkiDir);
}

function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sluice-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: sluice-test',
    '  context:',
    '    cluster: sluice-test',
    `    user: ${user}`,
    '    namespace: default',
    'current-context: sluice-test',
    '',
  ].join('\n');
}

function spawnDetached(
  name: ClusterProcess['name'],
  command: string,
  args: string[],
  logFile: string,
  env?: Record<string, string>,
): ClusterProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    child.unref();
    return { name, pid: child.pid, commandMarker: command, logFile };
  } finally {
    closeSync(fd);
  }
}

async function processMatches(proc: ClusterProcess): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${proc.pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    return cmdline.includes(proc.commandMarker);
  } catch {
    return false;
  }
}

async function logTail(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-LOG_TAIL_CHARS);
  } catch {
    return '(no log)';
  }
}

async function assertAlive(proc: ClusterProcess): Promise<void> {
  if (!(await processMatches(proc))) {
    throw new Error(
      `${proc.name} (pid ${proc.pid}) exited during startup; log ${proc.logFile}:\n${await logTail(proc.logFile)}`,
    );
  }
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  alive: ClusterProcess[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const proc of alive) await assertAlive(proc);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** Reads the state file of a cluster, or undefined when there is none (or it is unreadable). */
export async function readState(stateDir: string): Promise<ClusterState | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(stateFilePath(stateDir), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const state = parsed as ClusterState;
    if (state.version !== STATE_VERSION || !Array.isArray(state.processes)) return undefined;
    return state;
  } catch {
    return undefined;
  }
}

/** True when the kubeconfig in stateDir reaches an apiserver whose /readyz answers ok. */
export async function clusterAnswers(stateDir: string): Promise<boolean> {
  const path = kubeconfigPath(stateDir);
  if (!existsSync(path)) return false;
  let client: KubeClient | undefined;
  try {
    client = await KubeClient.fromKubeconfig(path);
    const response = await client.raw('GET', '/readyz');
    return response.status === 200;
  } catch {
    return false;
  } finally {
    await client?.close();
  }
}

/** True when the cluster answers and every process in its state file is still running. */
export async function clusterHealthy(stateDir: string): Promise<boolean> {
  const state = await readState(stateDir);
  if (state === undefined) return false;
  for (const proc of state.processes) if (!(await processMatches(proc))) return false;
  return await clusterAnswers(stateDir);
}

async function stopProcess(proc: ClusterProcess): Promise<void> {
  if (!(await processMatches(proc))) return;
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + STOP_GRACE_MS;
  while (Date.now() < deadline) {
    if (!(await processMatches(proc))) return;
    await sleep(100);
  }
  try {
    process.kill(proc.pid, 'SIGKILL');
  } catch {}
  while (await processMatches(proc)) await sleep(50);
}

/**
 * Stops every process recorded in stateDir's state file (simulator and controller-manager first, etcd last)
 * and removes the state directory. Safe to call when nothing runs.
 */
export async function stopCluster(stateDir: string, log: (line: string) => void = defaultLog): Promise<void> {
  const state = await readState(stateDir);
  if (state !== undefined) {
    for (const proc of [...state.processes].reverse()) {
      log(`stopping ${proc.name} (pid ${proc.pid})`);
      await stopProcess(proc);
    }
  }
  await rm(stateDir, { recursive: true, force: true });
}

/**
 * Starts a fresh cluster in stateDir (which must not hold a running one) and resolves once the apiserver is
 * ready, the controller-manager runs and the simulator has registered its Node. On failure, everything
 * started is stopped again and the error carries the failing process's log tail.
 */
export async function startCluster(options: StartOptions): Promise<ClusterState> {
  const log = options.log ?? defaultLog;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const { stateDir } = options;
  await ensureBinaries(log);

  await rm(stateDir, { recursive: true, force: true });
  const pkiDir = join(stateDir, 'pki');
  const logDir = join(stateDir, 'logs');
  await mkdir(logDir, { recursive: true });
  await writeFile(join(stateDir, '.gitignore'), '*\n');
  log('generating certificates and the service-account key (openssl)');
  await generatePki(pkiDir);

  const [etcdClientPort, etcdPeerPort, apiserverPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const server = `https://127.0.0.1:${apiserverPort}`;
  const adminToken = randomBytes(24).toString('hex');
  const controllerManagerToken = randomBytes(24).toString('hex');
  const simulatorToken = randomBytes(24).toString('hex');
  // system:masters for all three: the controller-manager runs without per-controller service accounts.
  await writeFile(
    join(pkiDir, 'tokens.csv'),
    [
      `${adminToken},admin,admin,"system:masters"`,
      `${controllerManagerToken},system:kube-controller-manager,kcm,"system:masters"`,
      `${simulatorToken},sluice:pod-simulator,sim,"system:masters"`,
      '',
    ].join('\n'),
  );
  const caPem = await readFile(join(pkiDir, 'ca.crt'), 'utf8');
  const adminKubeconfig = kubeconfigPath(stateDir);
  await writeFile(adminKubeconfig, kubeconfigYaml(server, caPem, 'admin', adminToken), { mode: 0o600 });
  const kcmKubeconfig = join(pkiDir, 'controller-manager.kubeconfig');
  await writeFile(
    kcmKubeconfig,
    kubeconfigYaml(server, caPem, 'kube-controller-manager', controllerManagerToken),
    { mode: 0o600 },
  );
  const simKubeconfig = join(pkiDir, 'pod-simulator.kubeconfig');
  await writeFile(simKubeconfig, kubeconfigYaml(server, caPem, 'pod-simulator', simulatorToken), {
    mode: 0o600,
  });

  const state: ClusterState = {
    version: STATE_VERSION,
    stateDir,
    kubeconfig: adminKubeconfig,
    server,
    etcdClientPort,
    apiserverPort,
    startedAt: new Date().toISOString(),
    processes: [],
  };
  const saveState = () => writeFile(stateFilePath(stateDir), `${JSON.stringify(state, null, 2)}\n`);

  try {
    log(`starting etcd on 127.0.0.1:${etcdClientPort}`);
    const etcd = spawnDetached(
      'etcd',
      etcdBinary(),
      [
        '--name=sluice-test',
        `--data-dir=${join(stateDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=sluice-test=http://127.0.0.1:${etcdPeerPort}`,
        '--log-level=warn',
      ],
      join(logDir, 'etcd.log'),
    );
    state.processes.push(etcd);
    await saveState();

    log(`starting kube-apiserver on ${server}`);
    const apiserver = spawnDetached(
      'kube-apiserver',
      kubeApiserverBinary(),
      [
        `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
        `--secure-port=${apiserverPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--insecure-port=0',
        `--cert-dir=${pkiDir}`,
        `--tls-cert-file=${join(pkiDir, 'apiserver.crt')}`,
        `--tls-private-key-file=${join(pkiDir, 'apiserver.key')}`,
        `--token-auth-file=${join(pkiDir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(pkiDir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(pkiDir, 'sa.key')}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--disable-admission-plugins=ServiceAccount',
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
      ],
      join(logDir, 'kube-apiserver.log'),
    );
    state.processes.push(apiserver);
    await saveState();

    const admin = await KubeClient.fromKubeconfig(adminKubeconfig);
    try {
      await waitFor(
        'kube-apiserver /readyz',
        readyTimeoutMs,
        async () => (await admin.raw('GET', '/readyz')).status === 200,
        state.processes,
      );
      log('kube-apiserver is ready; starting kube-controller-manager');
      const kcm = spawnDetached(
        'kube-controller-manager',
        kubeControllerManagerBinary(),
        [
          `--kubeconfig=${kcmKubeconfig}`,
          `--controllers=${CONTROLLERS}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--port=0',
          `--service-account-private-key-file=${join(pkiDir, 'sa.key')}`,
          `--root-ca-file=${join(pkiDir, 'ca.crt')}`,
          '--concurrent-replicaset-syncs=10',
          '--concurrent-gc-syncs=20',
          '--v=1',
        ],
        join(logDir, 'kube-controller-manager.log'),
      );
      state.processes.push(kcm);
      await saveState();

      log('starting the pod-readiness simulator');
      const simulator = spawnDetached(
        'pod-simulator',
        process.execPath,
        [join(REPO_ROOT, 'test', 'cluster', 'pod-simulator.ts'), '--kubeconfig', simKubeconfig],
        join(logDir, 'pod-simulator.log'),
        options.simulatorEnv,
      );
      // The marker for the simulator is its script, not the node binary shared by every node process.
      simulator.commandMarker = 'test/cluster/pod-simulator.ts';
      state.processes.push(simulator);
      await saveState();

      await waitFor(
        `the simulated Node ${SIMULATED_NODE_NAME} and the default ServiceAccount`,
        readyTimeoutMs,
        async () =>
          (await admin.raw('GET', `/api/v1/nodes/${SIMULATED_NODE_NAME}`)).status === 200 &&
          (await admin.raw('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
        state.processes,
      );
    } finally {
      await admin.close();
    }
    log(`ready: kubeconfig ${adminKubeconfig}`);
    return state;
  } catch (error) {
    await stopCluster(stateDir, log).catch(() => undefined);
    throw error;
  }
}

/**
 * Takes an exclusive lock on stateDir (a lock file in the temp dir named after it) while `fn` runs, so two processes starting
 * the shared cluster at once do not both start one. A lock held by a dead process is taken over.
 */
export async function withClusterLock<T>(
  stateDir: string,
  fn: () => Promise<T>,
  timeoutMs = 600_000,
): Promise<T> {
  // In the temp dir, not beside stateDir: the repo's .gitignore covers .cluster/ but not a sibling file.
  const lockFile = join(
    tmpdir(),
    `sluice-cluster-${createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 16)}.lock`,
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
      let holderAlive = false;
      if (Number.isInteger(holder) && holder > 0) {
        try {
          process.kill(holder, 0);
          holderAlive = true;
        } catch {}
      }
      if (!holderAlive) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for the cluster lock ${lockFile} (held by pid ${holder})`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}

/**
 * Ensures a cluster runs in stateDir: reuses a healthy one, otherwise clears leftovers and starts a new one.
 * Returns the state and whether this call started it.
 */
export async function ensureCluster(
  options: StartOptions,
): Promise<{ state: ClusterState; started: boolean }> {
  const log = options.log ?? defaultLog;
  return await withClusterLock(options.stateDir, async () => {
    const existing = await readState(options.stateDir);
    if (existing !== undefined && (await clusterHealthy(options.stateDir))) {
      log(`reusing the running cluster at ${existing.server}`);
      return { state: existing, started: false };
    }
    if (existing !== undefined) {
      log('found a stale cluster state; stopping its leftovers');
      await stopCluster(options.stateDir, log);
    }
    return { state: await startCluster(options), started: true };
  });
}
