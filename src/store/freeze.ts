// Objects handed out by the stores are shared (cluster cache) or copies (memory store); both are deeply
// frozen so that a reconciler mutating what it read fails loudly in unit tests, not silently in a cluster.

export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
