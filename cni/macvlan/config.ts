/**
 * weft-macvlan's configuration: the keys of the reference `macvlan` plugin with the same meaning
 * and defaults, validated before anything is created (CniError 7 on a bad value).
 */
import type { MacvlanMode } from '../../kernel/netlink';
import { CniError, ErrorCode, type NetConf } from '../types';

export interface MacvlanConfig {
  /** Parent device; the interface of the default route when absent. */
  master?: string;
  mode: Exclude<MacvlanMode, 'source'>;
  mtu?: number;
  /** The master lives in the container's namespace (e.g. an SR-IOV VF moved there before). */
  linkInContainer: boolean;
  /** MAC for the container interface: runtimeConfig.mac (the "mac" capability), CNI_ARGS MAC= or `mac`. */
  mac?: string;
}

const MODES: readonly MacvlanConfig['mode'][] = ['bridge', 'private', 'vepa', 'passthru'];

function invalid(message: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, message);
}

/**
 * The container interface's MAC: the config's `mac`, overridden by CNI_ARGS `MAC=`, overridden by
 * runtimeConfig.mac (the "mac" capability), empty values skipped, as the reference ranks them.
 */
function requestedMac(raw: Record<string, unknown>, args: ReadonlyMap<string, string>): string | undefined {
  const runtimeConfig = raw.runtimeConfig as Record<string, unknown> | undefined;
  const mac = [runtimeConfig?.mac, args.get('MAC'), raw.mac].find((m) => m !== undefined && m !== '');
  if (mac === undefined) return undefined;
  if (typeof mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw invalid(`invalid MAC address ${JSON.stringify(mac)}`);
  // The kernel refuses a group address for a device (EADDRNOTAVAIL); say which value is wrong.
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalid(`MAC address ${mac} is a multicast address, a device needs a unicast one`);
  return mac.toLowerCase();
}

export function parseMacvlanConfig(conf: NetConf, args: ReadonlyMap<string, string>): MacvlanConfig {
  const raw = conf as NetConf & Record<string, unknown>;
  // The reference reads an empty string as "not given" for both keys.
  const master = raw.master === '' ? undefined : raw.master;
  const mode = raw.mode === undefined || raw.mode === '' ? 'bridge' : raw.mode;
  const { mtu, linkInContainer = false } = raw;
  if (master !== undefined && (typeof master !== 'string' || Buffer.byteLength(master) > 15 || /[/\s]/.test(master))) {
    throw invalid(`master must be an interface name, got ${JSON.stringify(master)}`);
  }
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
    throw invalid(`unknown macvlan mode ${JSON.stringify(mode)}: use one of ${MODES.join(', ')}`);
  }
  if (mtu !== undefined && mtu !== 0 && (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw invalid('mtu must be an integer from 68 to 65535');
  }
  if (typeof linkInContainer !== 'boolean') throw invalid('linkInContainer must be true or false');
  const mac = requestedMac(raw, args);
  return {
    ...(master !== undefined ? { master: master as string } : {}),
    mode: mode as MacvlanConfig['mode'],
    ...(typeof mtu === 'number' && mtu !== 0 ? { mtu } : {}),
    linkInContainer,
    ...(mac !== undefined ? { mac } : {}),
  };
}
