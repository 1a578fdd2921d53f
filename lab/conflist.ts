/**
 * Runs a network configuration list (a .conflist) the way libcni does for a runtime: each plugin
 * gets the list's name and cniVersion, the runtime values of the capabilities it declares as
 * runtimeConfig, and the previous plugin's result as prevResult. ADD and CHECK run in list order,
 * DEL in reverse order; CHECK and DEL get the cached result of the ADD.
 */
import { runCni, type CniOutcome } from './cni-exec';

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
  disableCheck?: boolean;
}

/** One attachment as the runtime describes it. */
export interface RuntimeAttachment {
  /** Namespace the plugins run in (the pod's node). */
  hostNetns: string;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS beyond IgnoreUnknown=1. */
  args?: Record<string, string>;
  /** Runtime values by capability name (portMappings, bandwidth, ips, mac, ...). */
  capabilityArgs?: Record<string, unknown>;
  cniPath?: string[];
}

export class ChainError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly outcome: CniOutcome,
  ) {
    super(`${plugin} ${command} failed (exit ${outcome.exitCode}): ${outcome.stdout.trim() || outcome.stderr.trim()}`);
    this.name = 'ChainError';
  }
}

/** The config one plugin of the list receives on stdin. */
export function pluginConfig(list: NetworkConfigList, plugin: PluginConf, att: RuntimeAttachment, prevResult?: unknown): Record<string, unknown> {
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, enabled] of Object.entries(plugin.capabilities ?? {})) {
    const value = att.capabilityArgs?.[capability];
    if (enabled && value !== undefined) runtimeConfig[capability] = value;
  }
  return {
    ...plugin,
    name: list.name,
    cniVersion: list.cniVersion,
    ...(Object.keys(runtimeConfig).length > 0 ? { runtimeConfig } : {}),
    ...(prevResult !== undefined ? { prevResult } : {}),
  };
}

async function invoke(command: 'ADD' | 'DEL' | 'CHECK', list: NetworkConfigList, plugin: PluginConf, att: RuntimeAttachment, prevResult?: unknown): Promise<CniOutcome> {
  const outcome = await runCni({
    hostNetns: att.hostNetns,
    plugin: plugin.type,
    command,
    config: pluginConfig(list, plugin, att, prevResult),
    containerId: att.containerId,
    netns: att.netns,
    ifName: att.ifName,
    args: att.args,
    cniPath: att.cniPath,
  });
  if (outcome.exitCode !== 0) throw new ChainError(plugin.type, command, outcome);
  return outcome;
}

/** ADD through the whole list; resolves with the final result (what a runtime caches). */
export async function addNetworkList(list: NetworkConfigList, att: RuntimeAttachment): Promise<Record<string, unknown>> {
  let result: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const outcome = await invoke('ADD', list, plugin, att, result);
    if (!outcome.json) throw new ChainError(plugin.type, 'ADD', outcome);
    result = outcome.json;
  }
  if (!result) throw new Error(`network list ${list.name} has no plugins`);
  return result;
}

/** CHECK every plugin against the cached result, in list order. */
export async function checkNetworkList(list: NetworkConfigList, att: RuntimeAttachment, cachedResult: unknown): Promise<void> {
  if (list.disableCheck) return;
  for (const plugin of list.plugins) await invoke('CHECK', list, plugin, att, cachedResult);
}

/** DEL every plugin in reverse order, with the cached result when the runtime has one. */
export async function delNetworkList(list: NetworkConfigList, att: RuntimeAttachment, cachedResult?: unknown): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) await invoke('DEL', list, plugin, att, cachedResult);
}
