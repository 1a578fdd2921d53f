/**
 * The contract between cni/skel (which owns the protocol: environment, stdin, version checks,
 * result conversion, error JSON) and a plugin (which only does its job). A plugin never reads
 * process.env or stdin and never writes stdout.
 */
import type { Attachment, NetConf, Result } from './types';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

/** What every attachment command (ADD, DEL, CHECK) carries. */
export interface AttachmentRequest {
  containerId: string;
  /** CNI_NETNS; may be empty on DEL (the runtime no longer has the namespace). */
  netns: string;
  ifName: string;
  /** CNI_ARGS parsed as key=value pairs, in the order given. */
  args: Map<string, string>;
  /** CNI_PATH split on ':'. */
  path: string[];
  /** The parsed configuration; prevResult already converted to the current version. */
  config: NetConf;
  /** The configuration bytes exactly as received (passed on to a delegated IPAM plugin). */
  rawConfig: Buffer;
}

/** STATUS and GC carry no container. */
export interface NetworkRequest {
  path: string[];
  config: NetConf;
  rawConfig: Buffer;
}

export interface GcRequest extends NetworkRequest {
  /** From cni.dev/valid-attachments: everything not listed may be released. */
  validAttachments: Attachment[];
}

export interface CniPlugin {
  /** The name the plugin is installed as, e.g. weft-ipam. */
  readonly name: string;
  /** ADD returns a result in the current version's form; skel converts it. */
  add(req: AttachmentRequest): Promise<Result>;
  /** DEL must succeed when there is nothing to delete. */
  del(req: AttachmentRequest): Promise<void>;
  /** CHECK throws a CniError describing the first difference it finds. */
  check(req: AttachmentRequest): Promise<void>;
  /** STATUS throws CniError(50) when the plugin cannot serve ADDs; absent means always ready. */
  status?(req: NetworkRequest): Promise<void>;
  /** GC releases resources of attachments not in the valid list; absent means nothing to do. */
  gc?(req: GcRequest): Promise<void>;
}

/** How a plugin is built: where "the host" is for it. */
export interface PluginOptions {
  /**
   * The namespace the plugin treats as the host (bridges, host veth ends, masquerade rules).
   * The process's own namespace when absent; the CNI server (cni/server.ts) passes the calling
   * shim's namespace, tests pass a namespace they created.
   */
  hostNetns?: string;
}
