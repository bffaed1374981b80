// A list-then-watch loop over one collection of the test cluster, for benchmarks that time changes as
// they happen: every event is stamped with performance.now() when its line arrives (creationTimestamp has
// only 1 s resolution). The first list is delivered as 'LISTED' events; a watch the server ends is
// resumed from the last resourceVersion, and a 410 Gone (or any error) re-lists after a short pause.
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type KubeClient } from '../../test/cluster/kube-client.ts';

export type CollectionEventType = 'LISTED' | 'ADDED' | 'MODIFIED' | 'DELETED';

export type CollectionHandler = (
  type: CollectionEventType,
  obj: Record<string, unknown>,
  atMs: number,
) => void;

export interface CollectionWatch {
  /** Resolves once the first list has been delivered. */
  readonly listed: Promise<void>;
  /** Errors seen (re-lists follow them); for the report. */
  readonly errors: string[];
  stop(): Promise<void>;
}

const WATCH_TIMEOUT_S = 240;
const RELIST_PAUSE_MS = 500;

function resourceVersionOf(obj: Record<string, unknown>): string {
  const metadata = obj.metadata as { resourceVersion?: unknown } | undefined;
  return typeof metadata?.resourceVersion === 'string' ? metadata.resourceVersion : '';
}

export function watchCollection(
  client: KubeClient,
  path: string,
  onEvent: CollectionHandler,
): CollectionWatch {
  const abort = new AbortController();
  const errors: string[] = [];
  let markListed: () => void = () => {};
  const listed = new Promise<void>((resolve) => {
    markListed = resolve;
  });
  const loop = (async () => {
    let resourceVersion = '';
    while (!abort.signal.aborted) {
      try {
        if (resourceVersion === '') {
          const list = await client.get(path);
          const atMs = performance.now();
          for (const item of (list.items as Record<string, unknown>[] | undefined) ?? [])
            onEvent('LISTED', item, atMs);
          resourceVersion = resourceVersionOf(list);
          markListed();
        }
        await client.watch(
          path,
          resourceVersion,
          (event) => {
            const atMs = performance.now();
            if (event.type === 'ERROR') throw new KubeApiError('WATCH', path, 410, event.object);
            const rv = resourceVersionOf(event.object);
            if (rv !== '') resourceVersion = rv;
            if (event.type !== 'BOOKMARK') onEvent(event.type, event.object, atMs);
          },
          abort.signal,
          WATCH_TIMEOUT_S,
        );
      } catch (error) {
        if (abort.signal.aborted) break;
        errors.push(error instanceof Error ? error.message : String(error));
        resourceVersion = '';
        await sleep(RELIST_PAUSE_MS);
      }
    }
  })();
  return {
    listed,
    errors,
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
