/**
 * Runs an IPAM plugin executable the way a runtime does, for the weft-ipam tests: the reference
 * host-local or weft-ipam (dist/bin/weft-ipam). IPAM plugins touch no network namespace, so they
 * run in the test's own namespace and CNI_NETNS is only a string that must be present.
 */
import { runCni, type CniOutcome } from '../../lab/cni-exec';

export type IpamPluginKind = 'weft-ipam' | 'host-local';

export interface IpamCall {
  plugin: IpamPluginKind;
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';
  config: object;
  containerId?: string;
  ifName?: string;
  /** CNI_ARGS pairs (IgnoreUnknown=1 is always added, as runtimes do). */
  args?: Record<string, string>;
  env?: Record<string, string>;
}

export function runIpam(call: IpamCall): Promise<CniOutcome> {
  return runCni({ ...call, netns: '/var/run/netns/weft-t-unused' });
}

/** Runs the call and fails with its output unless it exited 0. */
export async function runIpamOk(call: IpamCall): Promise<CniOutcome> {
  const outcome = await runIpam(call);
  if (outcome.exitCode !== 0) {
    throw new Error(`${call.plugin} ${call.command} ${call.containerId ?? ''} failed (${outcome.signal ?? outcome.exitCode}): ${outcome.stdout}`);
  }
  return outcome;
}
