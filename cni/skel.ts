/**
 * The CNI protocol around a plugin: reads the environment and the configuration, applies the
 * spec's checks in the order the reference plugins apply them, calls the plugin, converts the
 * result to the configuration's version and turns every failure into the error JSON.
 *
 * `runSkel` is pure (environment and stdin in, stdout/stderr/exit code out) so the protocol is
 * tested without processes; cni/main.ts connects it to the real process.
 *
 * Check order (measured on the reference plugins): required variables (4) -> JSON decoding (6)
 * -> network name (7) -> config version (1) -> unknown command (4) -> the plugin.
 */
import {
  ATTACHMENT_COMMANDS,
  checkRequiredVariables,
  isKnownCommand,
  parseCniArgs,
  parseCniPath,
  validateContainerId,
  validateInterfaceName,
  type Environment,
} from './env';
import type { AttachmentRequest, CniPlugin, Command, GcRequest, NetworkRequest } from './plugin';
import { CURRENT_VERSION, CniError, ErrorCode, PLUGIN_FAILURE, SUPPORTED_VERSIONS, type Attachment, type NetConf } from './types';
import { isSupportedVersion, resultFromJson, resultToVersion, versionAtLeast } from './version';

export interface SkelInput {
  env: Environment;
  stdin: Buffer;
}

export interface SkelOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The version in which each command first appeared; older configs may not use it. */
const INTRODUCED_IN: Partial<Record<Command, string>> = { CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' };

const VALID_ATTACHMENTS_KEY = 'cni.dev/valid-attachments';

export function versionInfo(): string {
  return `${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}

/** What a plugin run without CNI_COMMAND prints (on stderr), as the reference plugins do. */
export function aboutText(pluginName: string, version: string): string {
  return `CNI ${pluginName} plugin version ${version}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`;
}

function parseConfig(stdin: Buffer): NetConf {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin.toString('utf8'));
  } catch (err) {
    throw new CniError(ErrorCode.DecodingFailure, `error decoding network config: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CniError(ErrorCode.DecodingFailure, 'error decoding network config: not a JSON object');
  }
  const config = parsed as NetConf;
  if (typeof config.name !== 'string' || config.name === '') throw new CniError(ErrorCode.InvalidNetworkConfig, 'missing network name');
  if (!isSupportedVersion(config.cniVersion)) {
    const given = config.cniVersion === undefined ? 'has no cniVersion' : `is ${JSON.stringify(config.cniVersion)}`;
    throw new CniError(ErrorCode.IncompatibleVersion, 'incompatible CNI versions', `config ${given}, plugin supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return config;
}

function validAttachments(config: NetConf): Attachment[] {
  const list = config[VALID_ATTACHMENTS_KEY];
  const bad = new CniError(ErrorCode.InvalidNetworkConfig, `GC needs ${VALID_ATTACHMENTS_KEY}: a list of {"containerID", "ifname"}`);
  if (!Array.isArray(list)) throw bad;
  return list.map((item: unknown) => {
    const a = item as Partial<Attachment> | null;
    if (typeof a !== 'object' || a === null || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') throw bad;
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

function attachmentRequest(env: Environment, config: NetConf, rawConfig: Buffer): AttachmentRequest {
  const containerId = env.CNI_CONTAINERID ?? '';
  const ifName = env.CNI_IFNAME ?? '';
  validateContainerId(containerId);
  validateInterfaceName(ifName);
  return { containerId, netns: env.CNI_NETNS ?? '', ifName, args: parseCniArgs(env.CNI_ARGS), path: parseCniPath(env.CNI_PATH), config, rawConfig };
}

/** Runs one command; resolves with the JSON to print (undefined for none). */
async function dispatch(command: Command, input: SkelInput, config: NetConf, load: () => CniPlugin): Promise<unknown> {
  const version = config.cniVersion as (typeof SUPPORTED_VERSIONS)[number];
  const since = INTRODUCED_IN[command];
  if (since !== undefined && !versionAtLeast(version, since)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `config version does not allow ${command}`, `${command} needs cniVersion ${since} or later, config is ${version}`);
  }
  // Plugins work on the current result form only; a cached result of an older version is
  // converted up here once.
  if (config.prevResult !== undefined) config.prevResult = resultFromJson(config.prevResult, version);

  if ((ATTACHMENT_COMMANDS as readonly string[]).includes(command)) {
    const req = attachmentRequest(input.env, config, input.stdin);
    const plugin = load();
    if (command === 'ADD') return resultToVersion(await plugin.add(req), version);
    if (command === 'DEL') await plugin.del(req);
    else await plugin.check(req);
    return undefined;
  }
  const req: NetworkRequest = { path: parseCniPath(input.env.CNI_PATH), config, rawConfig: input.stdin };
  const plugin = load();
  if (command === 'STATUS') await plugin.status?.(req);
  else if (command === 'GC') {
    const gcReq: GcRequest = { ...req, validAttachments: validAttachments(config) };
    await plugin.gc?.(gcReq);
  }
  return undefined;
}

function errorOutput(err: unknown, cniVersion: string): SkelOutput {
  const error =
    err instanceof CniError ? err : new CniError(PLUGIN_FAILURE, err instanceof Error ? err.message : String(err), err instanceof Error ? err.stack : undefined);
  return { stdout: JSON.stringify(error.toJSON(cniVersion), null, 4), stderr: '', exitCode: 1 };
}

/**
 * The whole protocol for one invocation. `load` is called only once the request is known to be
 * valid, so a bad call never pays for loading the plugin's modules.
 */
export async function runSkel(pluginName: string, load: () => CniPlugin, input: SkelInput, pluginVersion = '0.1.0'): Promise<SkelOutput> {
  const command = input.env.CNI_COMMAND;
  if (!command) return { stdout: '', stderr: aboutText(pluginName, pluginVersion), exitCode: 0 };
  if (command === 'VERSION') return { stdout: versionInfo(), stderr: '', exitCode: 0 };

  let cniVersion = CURRENT_VERSION;
  try {
    if (isKnownCommand(command)) checkRequiredVariables(command, input.env);
    const config = parseConfig(input.stdin);
    cniVersion = config.cniVersion as string;
    if (!isKnownCommand(command)) throw new CniError(ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${command}`);
    const result = await dispatch(command, input, config, load);
    return { stdout: result === undefined ? '' : JSON.stringify(result, null, 4), stderr: '', exitCode: 0 };
  } catch (err) {
    return errorOutput(err, cniVersion);
  }
}
