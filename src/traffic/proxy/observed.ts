// What Sluice's proxy router reports about the weight it routes: it has no object to read back (the
// proxies hold the route table), so the answer is the Rollout's own status: status.canary.weights.verified
// (every proxy of the route ACKed the table with these weights) and the WeightVerified condition (False
// with the reason while a proxy has not ACKed, or NACKed). Pure: the Rollout in, the verdict out.

import type { Rollout } from '../../api/rollout.ts';

export type ObservedProxyWeight =
  | { readonly state: 'verified'; readonly canary: number }
  | { readonly state: 'waiting'; readonly reason: string }
  | { readonly state: 'unknown' };

export function observedProxyWeight(ro: Rollout): ObservedProxyWeight {
  const weights = ro.status?.canary?.weights;
  const condition = (ro.status?.conditions ?? []).find((c) => c.type === 'WeightVerified');
  if (weights?.verified === true) return { state: 'verified', canary: weights.canary.weight };
  if (condition?.status === 'False')
    return { state: 'waiting', reason: condition.message || condition.reason };
  if (weights?.verified === false) return { state: 'waiting', reason: 'not verified yet' };
  if (condition?.status === 'True' && weights !== undefined)
    return { state: 'verified', canary: weights.canary.weight };
  return { state: 'unknown' };
}
