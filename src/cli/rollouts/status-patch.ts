// Status patches as Argo's plugin sends them (abort, retry, promote): to the `status` subresource
// first, and only when the server does not serve it (HTTP 404, Rollouts < v0.10) to the main resource.

import type { Rollout } from '../../api/rollout.ts';
import { type CliApi, CliApiError } from '../kube.ts';

export async function patchRolloutStatus(api: CliApi, name: string, patch: string): Promise<Rollout> {
  try {
    return await api.patch<Rollout>('Rollout', api.namespace, name, JSON.parse(patch), 'merge', 'status');
  } catch (error) {
    if (!(error instanceof CliApiError) || error.status !== 404) throw error;
    return api.patch<Rollout>('Rollout', api.namespace, name, JSON.parse(patch), 'merge');
  }
}
