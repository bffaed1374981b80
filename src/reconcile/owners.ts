// Ownership between a controller's objects and their children: the controller ownerReference put on what a
// Rollout or Experiment creates (garbage-collected with it), and the test that decides which children a
// parent sees.

import type { Kind, OwnerReference } from '../api/meta.ts';

/** The ownerReference a controller puts on what it creates (garbage-collected with the owner). */
export function controllerRef(
  apiVersion: string,
  kind: Kind,
  owner: { readonly metadata: { readonly name: string; readonly uid?: string } },
): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Whether `obj` names `owner` (of `kind`) as its controller: by uid, or by name when the owner has none yet. */
export function isControlledBy(
  obj: { readonly metadata: { readonly ownerReferences?: readonly OwnerReference[] } },
  kind: Kind,
  owner: { readonly metadata: { readonly name: string; readonly uid?: string } },
): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (o) =>
      o.controller === true &&
      o.kind === kind &&
      (owner.metadata.uid ? o.uid === owner.metadata.uid : o.name === owner.metadata.name),
  );
}
