/**
 * weft-bridge's configuration: the keys of the reference `bridge` plugin with the same meaning
 * and defaults, validated before anything is created (CniError 7 on a bad value).
 */
import { CniError, ErrorCode, type NetConf } from '../types';

export interface BridgeConfig {
  /** Bridge device name; "cni0" by default. */
  bridge: string;
  /** Give the bridge the gateway addresses of the IPAM result (and turn forwarding on). */
  isGateway: boolean;
  /** Make the gateway the pod's default route (implies isGateway). */
  isDefaultGateway: boolean;
  /** Replace a different address of the same subnet already on the bridge. */
  forceAddress: boolean;
  /** Masquerade traffic from the pod to destinations outside its subnet. */
  ipMasq: boolean;
  /** MTU of the veth pair (and of the bridge when it is created); the kernel default when absent. */
  mtu?: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  vlan?: number;
  /** Drop frames from the pod whose source MAC or IP is not its own. */
  macspoofchk: boolean;
  /** IPv6 duplicate address detection on the container interface (off by default, as the reference). */
  enabledad: boolean;
}

const MAX_IFNAME = 15;

function invalid(message: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, message);
}

function bool(conf: NetConf, key: string): boolean {
  const v = conf[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalid(`${key} must be true or false`);
  return v;
}

function optionalInt(conf: NetConf, key: string, min: number, max: number): number | undefined {
  const v = conf[key];
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`${key} must be an integer from ${min} to ${max}`);
  return v;
}

export function parseBridgeConfig(conf: NetConf): BridgeConfig {
  const bridge = conf.bridge ?? 'cni0';
  if (typeof bridge !== 'string' || bridge === '' || Buffer.byteLength(bridge) > MAX_IFNAME || /[/:\s]/.test(bridge)) {
    throw invalid(`bridge must be a valid interface name of at most ${MAX_IFNAME} characters, got ${JSON.stringify(bridge)}`);
  }
  const isDefaultGateway = bool(conf, 'isDefaultGateway');
  const vlan = optionalInt(conf, 'vlan', 1, 4094);
  if (vlan !== undefined) {
    // Tagging needs bridge VLAN filtering, which weft-bridge does not drive (and which kernels
    // built without CONFIG_BRIDGE_VLAN_FILTERING, as in weft's lab, refuse): refused up front
    // rather than half done.
    throw new CniError(ErrorCode.UnsupportedField, 'vlan is not supported by weft-bridge (it needs bridge VLAN filtering)', 'tag pods with a VLAN through the reference bridge plugin, or leave vlan out');
  }
  return {
    bridge,
    isGateway: bool(conf, 'isGateway') || isDefaultGateway,
    isDefaultGateway,
    forceAddress: bool(conf, 'forceAddress'),
    ipMasq: bool(conf, 'ipMasq'),
    // 68 is IPv4's minimum; the kernel refuses what the device cannot take.
    mtu: optionalInt(conf, 'mtu', 68, 65535),
    hairpinMode: bool(conf, 'hairpinMode'),
    promiscMode: bool(conf, 'promiscMode'),
    macspoofchk: bool(conf, 'macspoofchk'),
    enabledad: bool(conf, 'enabledad'),
  };
}
