/**
 * The agent's cache replaces objects, never mutates them: a result derived from an object can
 * be kept for as long as the object itself lives, keyed by its identity.
 */
export function memoByIdentity<K extends object, V>(derive: (key: K) => V): (key: K) => V {
  const memo = new WeakMap<K, V>();
  return (key) => {
    let value = memo.get(key);
    if (value === undefined) memo.set(key, (value = derive(key)));
    return value;
  };
}
