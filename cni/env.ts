/**
 * The CNI_* environment a runtime passes to a plugin: which variables each command requires,
 * and the validation the spec asks for (container ID and interface name syntax, CNI_ARGS pairs).
 * Every violation is a CniError with code 4 (invalid environment variables), as the spec says.
 */
import type { Command } from './plugin';
import { CniError, ErrorCode } from './types';

export type Environment = Readonly<Record<string, string | undefined>>;

/** Commands that name an attachment (container + interface). */
export const ATTACHMENT_COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK'];
export const KNOWN_COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

export function isKnownCommand(command: string): command is Command {
  return (KNOWN_COMMANDS as readonly string[]).includes(command);
}

/**
 * Variables each command cannot do without. CNI_NETNS is optional on DEL: the runtime may no
 * longer have the namespace, and DEL must still release what it can.
 */
const REQUIRED: Readonly<Record<Command, readonly string[]>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_PATH'],
  GC: ['CNI_PATH'],
  VERSION: [],
};

/** Throws when a variable the command needs is absent or empty. */
export function checkRequiredVariables(command: Command, env: Environment): void {
  const missing = REQUIRED[command].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required env variables [${missing.join(' ')}] missing`);
  }
}

/** Linux limits interface names to IFNAMSIZ - 1 = 15 bytes. */
const MAX_IFNAME_LENGTH = 15;

/** The spec's rules for CNI_IFNAME: what the kernel accepts as a link name. */
export function validateInterfaceName(name: string): void {
  if (name === '') throw new CniError(ErrorCode.InvalidEnvironment, 'interface name is empty');
  if (Buffer.byteLength(name) > MAX_IFNAME_LENGTH) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'interface name is too long', `interface name should be less than ${MAX_IFNAME_LENGTH + 1} characters`);
  }
  if (name === '.' || name === '..') throw new CniError(ErrorCode.InvalidEnvironment, 'interface name cannot be . or ..');
  if (/[/:\s]/.test(name)) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'interface name contains an invalid character', 'interface names cannot contain /, : or whitespace');
  }
}

/** The spec's container ID syntax: alphanumerics plus _ . - , starting with an alphanumeric. */
export function validateContainerId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `invalid characters in containerID ${JSON.stringify(id)}`, 'a container ID must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$');
  }
}

/** CNI_ARGS: `K=V;K=V`. Empty text gives no arguments; a pair without '=' is an error. */
export function parseCniArgs(text: string | undefined): Map<string, string> {
  const args = new Map<string, string>();
  if (!text) return args;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError(ErrorCode.InvalidEnvironment, `ARGS: invalid pair ${JSON.stringify(pair)}`);
    args.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return args;
}

/** Rebuilds CNI_ARGS from the parsed pairs, for a delegated plugin. */
export function formatCniArgs(args: ReadonlyMap<string, string>): string {
  return [...args].map(([k, v]) => `${k}=${v}`).join(';');
}

/** CNI_PATH: a colon-separated list of directories; empty entries are ignored. */
export function parseCniPath(text: string | undefined): string[] {
  return (text ?? '').split(':').filter((dir) => dir !== '');
}
