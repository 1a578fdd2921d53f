/**
 * Where native addons come from. Normally from the build tree (kernel/native.ts looks there);
 * in the single executable (deploy/sea) the addons travel inside the executable as assets, and
 * its entry registers a source that extracts them, so kernel/native.ts and the netlink
 * package's binding load them from there without knowing about packaging.
 */

/** Returns the loaded exports of the addon named `file` (e.g. "weft_native.node"), or undefined. */
export type AddonSource = (file: string) => unknown;

let source: AddonSource | undefined;

export function setAddonSource(next: AddonSource): void {
  source = next;
}

/** The addon from the registered source; undefined when none is registered or it lacks `file`. */
export function addonFromSource(file: string): unknown {
  return source?.(file);
}
