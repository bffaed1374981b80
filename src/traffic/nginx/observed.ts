// What an NGINX canary Ingress actually routes to the canary, read back from its ingress-nginx
// annotations (the ones canary-ingress.ts writes): `<prefix>/canary` must be "true" for ingress-nginx to
// split at all, `<prefix>/canary-weight` is the canary's share of `<prefix>/canary-weight-total` (default
// 100, written only when the Rollout sets maxTrafficWeight). Pure: the Ingress as fetched, in; numbers out.

import type { KubeObject } from '../../api/meta.ts';

export type ObservedNginxWeight =
  | {
      readonly ok: true;
      /** The canary's weight as written (0 when the canary annotation is not "true"). */
      readonly canary: number;
      /** What the rest (the stable Ingress) gets: total - canary. */
      readonly stable: number;
      /** canary-weight-total, 100 when absent (ingress-nginx's default). */
      readonly total: number;
      /** `<prefix>/canary` is "true": without it ingress-nginx ignores the canary Ingress. */
      readonly enabled: boolean;
    }
  | { readonly ok: false; readonly error: string };

/** ingress-nginx's default canary-weight-total. */
export const NGINX_DEFAULT_WEIGHT_TOTAL = 100;

const INTEGER_RE = /^\s*\d+\s*$/;

/** The weight the canary Ingress gives the canary, in the units of its canary-weight-total. */
export function observedNginxWeight(
  canaryIngress: KubeObject,
  annotationPrefix: string,
): ObservedNginxWeight {
  const annotations = canaryIngress.metadata.annotations ?? {};
  const key = (name: string): string => `${annotationPrefix}/${name}`;
  const totalRaw = annotations[key('canary-weight-total')];
  let total = NGINX_DEFAULT_WEIGHT_TOTAL;
  if (totalRaw !== undefined) {
    if (!INTEGER_RE.test(totalRaw))
      return {
        ok: false,
        error: `annotation ${key('canary-weight-total')} is not an integer: "${totalRaw}"`,
      };
    total = Number(totalRaw);
  }
  const enabled = annotations[key('canary')] === 'true';
  const weightRaw = annotations[key('canary-weight')];
  let weight = 0;
  if (weightRaw !== undefined) {
    if (!INTEGER_RE.test(weightRaw))
      return { ok: false, error: `annotation ${key('canary-weight')} is not an integer: "${weightRaw}"` };
    weight = Number(weightRaw);
  }
  const canary = enabled ? Math.min(weight, total) : 0;
  return { ok: true, canary, stable: total - canary, total, enabled };
}
