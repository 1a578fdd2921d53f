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
  /** MAC for the container interface: runtimeConfig.mac (the "mac" capability) or CNI_ARGS MAC=. */
  mac?: string;
}

const MODES: readonly MacvlanConfig['mode'][] = ['bridge', 'private', 'vepa', 'passthru'];

function invalid(message: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, message);
}

export function parseMacvlanConfig(conf: NetConf, args: ReadonlyMap<string, string>): MacvlanConfig {
  const { master, mode = 'bridge', mtu, linkInContainer = false } = conf as NetConf & Record<string, unknown>;
  if (master !== undefined && (typeof master !== 'string' || master === '' || Buffer.byteLength(master) > 15)) {
    throw invalid(`master must be an interface name, got ${JSON.stringify(master)}`);
  }
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
    throw invalid(`unknown macvlan mode ${JSON.stringify(mode)}: use one of ${MODES.join(', ')}`);
  }
  if (mtu !== undefined && mtu !== 0 && (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw invalid('mtu must be an integer from 68 to 65535');
  }
  if (typeof linkInContainer !== 'boolean') throw invalid('linkInContainer must be true or false');
  const mac = conf.runtimeConfig?.mac ?? args.get('MAC');
  if (mac !== undefined && (typeof mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac))) {
    throw invalid(`invalid MAC address ${JSON.stringify(mac)}`);
  }
  return {
    ...(master !== undefined ? { master: master as string } : {}),
    mode: mode as MacvlanConfig['mode'],
    ...(typeof mtu === 'number' && mtu !== 0 ? { mtu } : {}),
    linkInContainer,
    ...(mac !== undefined ? { mac: (mac as string).toLowerCase() } : {}),
  };
}
