/**
 * Types of the CNI specification 1.1.0 as they cross the plugin boundary: network configuration
 * on stdin and results on stdout. Older result versions are produced only by cni/version.ts.
 */

export const CURRENT_VERSION = '1.1.0';

/** Versions a weft plugin accepts in a configuration and can produce results for. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** Error codes defined by the CNI specification (section "Error"). */
export enum ErrorCode {
  IncompatibleVersion = 1,
  UnsupportedField = 2,
  UnknownContainer = 3,
  InvalidEnvironment = 4,
  IOFailure = 5,
  DecodingFailure = 6,
  InvalidNetworkConfig = 7,
  TryAgainLater = 11,
  PluginNotAvailable = 50,
  LimitedConnectivity = 51,
}

/**
 * weft's plugin-specific code (the spec reserves 100+ for plugins): CHECK found the attachment
 * different from what the previous result says (a missing address, route, link or allocation).
 */
export const CHECK_MISMATCH = 100;

/**
 * What an unexpected failure (a kernel error, a bug) is reported as. The reference plugins use
 * 999 for everything plugin-specific; runtimes only distinguish "error" from the spec's codes.
 */
export const PLUGIN_FAILURE = 999;

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IPConfig {
  /** CIDR notation: address/prefix-length. */
  address: string;
  gateway?: string;
  /** Index into Result.interfaces. */
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the current (1.1.0) form; cni/version.ts converts it for older configs. */
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}

/** The IPAM section every plugin config may carry; the rest is the IPAM plugin's own. */
export interface IpamSection {
  type: string;
  [key: string]: unknown;
}

/** A network configuration as given on stdin (one plugin of a conflist, with name and version). */
export interface NetConf {
  cniVersion?: string;
  name: string;
  type: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  capabilities?: Record<string, boolean>;
  runtimeConfig?: RuntimeConfig;
  args?: Record<string, unknown>;
  ipMasq?: boolean;
  ipam?: IpamSection;
  dns?: DNS;
  prevResult?: Result;
  /** Plugin-specific keys. */
  [key: string]: unknown;
}

/** Well-known runtimeConfig keys (CNI conventions), passed when a capability is enabled. */
export interface RuntimeConfig {
  ips?: string[];
  mac?: string;
  portMappings?: { hostPort: number; containerPort: number; protocol?: string; hostIP?: string }[];
  bandwidth?: Record<string, number>;
  [key: string]: unknown;
}

/** One attachment as the runtime names it in GC's cni.dev/valid-attachments. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

export class CniError extends Error {
  constructor(
    readonly code: ErrorCode | number,
    message: string,
    readonly details?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CniError';
  }

  /** The error object the spec wants on stdout. */
  toJSON(cniVersion: string = CURRENT_VERSION): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}
