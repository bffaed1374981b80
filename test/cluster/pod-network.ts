// The simulated pod network on this host: the pod simulator hands out pod IPs in 10.244.0.0/16 (the API
// server rejects loopback addresses in Endpoints, so pods cannot live on 127.x), and `sluice-demo` pods
// listen on those IPs. That needs the range routed locally: `ip route add local 10.244.0.0/16 dev lo`
// (root or CAP_NET_ADMIN), after which any 10.244.x.y can be bound and reached from this host.
//
// Ownership: the route is added only when the range is not local already, and removed at release only by
// the claim that added it, so a route an operator (or another running simulator) set up is never taken
// away. A simulator killed with SIGKILL leaves its route behind; it is harmless, and the next simulator
// finds and uses it without owning it (`ip route del local 10.244.0.0/16 dev lo` removes it by hand).

import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

export const POD_CIDR = '10.244.0.0/16';
/** Never given to a pod (the simulator starts at .4): used to check that the range is local and bindable. */
export const POD_NETWORK_PROBE_IP = '10.244.0.1';

const execFileAsync = promisify(execFile);
const IP_TIMEOUT_MS = 10_000;

/** Runs `ip` with args; rejects with the command's stderr (or ENOENT when it is not installed). */
export type IpCommand = (args: readonly string[]) => Promise<string>;

const runIp: IpCommand = async (args) => {
  const { stdout } = await execFileAsync('ip', [...args], { timeout: IP_TIMEOUT_MS });
  return stdout;
};

export type PodNetwork =
  | {
      readonly served: true;
      /** Whether this claim added the route (and so removes it at release). */
      readonly addedRoute: boolean;
      release(): Promise<void>;
    }
  | { readonly served: false; readonly reason: string; release(): Promise<void> };

function errorText(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const stderr = (error as { stderr?: unknown }).stderr;
    if (typeof stderr === 'string' && stderr.trim() !== '') return stderr.trim();
  }
  return error instanceof Error ? error.message : String(error);
}

/** `ip route get` answers `local 10.244.0.1 dev lo table local ...` when the address is routed to this host. */
export function isLocalRoute(routeGetOutput: string): boolean {
  return /^local\s/m.test(routeGetOutput.trimStart());
}

/** Binds ip on a free port and closes it: undefined when that works, else the error code. */
export async function bindError(ip: string): Promise<string | undefined> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(`${error.code ?? error.message}`));
    server.listen(0, ip, () => server.close(() => resolve(undefined)));
  });
}

const notServed = (reason: string): PodNetwork => ({ served: false, reason, release: async () => undefined });

/**
 * Makes the pod CIDR local to this host if it is not already. Never throws: a host where the route cannot
 * be added gets `served: false` with the reason (no `ip`, not root, bind still failing).
 */
export async function claimPodNetwork(
  deps: { ip?: IpCommand; bindError?: (ip: string) => Promise<string | undefined> } = {},
): Promise<PodNetwork> {
  const ip = deps.ip ?? runIp;
  let routeGet: string;
  try {
    routeGet = await ip(['route', 'get', POD_NETWORK_PROBE_IP]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return notServed('the `ip` command (Debian package iproute2) is not installed');
    return notServed(`ip route get ${POD_NETWORK_PROBE_IP} failed: ${errorText(error)}`);
  }
  let addedRoute = false;
  if (!isLocalRoute(routeGet)) {
    try {
      await ip(['route', 'add', 'local', POD_CIDR, 'dev', 'lo']);
      addedRoute = true;
    } catch (error) {
      // Another simulator may have added it a moment ago: then it is there, and not ours.
      const text = errorText(error);
      if (!/File exists/i.test(text))
        return notServed(
          `could not add the route (ip route add local ${POD_CIDR} dev lo needs root or CAP_NET_ADMIN): ${text}`,
        );
    }
  }
  const release = async () => {
    if (!addedRoute) return;
    addedRoute = false;
    await ip(['route', 'del', 'local', POD_CIDR, 'dev', 'lo']).catch(() => undefined);
  };
  const bindFailure = await (deps.bindError ?? bindError)(POD_NETWORK_PROBE_IP);
  if (bindFailure !== undefined) {
    await release();
    return notServed(
      `${POD_CIDR} is routed locally but ${POD_NETWORK_PROBE_IP} cannot be bound: ${bindFailure}`,
    );
  }
  return {
    served: true,
    get addedRoute() {
      return addedRoute;
    },
    release,
  };
}
