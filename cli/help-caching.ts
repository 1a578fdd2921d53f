/**
 * yargs renders a command's whole help as it starts the command's handler (command.js,
 * cacheHelpMessage), in case the handler shows help later. No weftctl handler does (usage errors
 * are thrown, see main.ts's fail), and the rendering is ~5 ms of an offline trace's ~100 ms
 * (`npm run bench -- --only policy-trace`). `--help` renders help on its own path.
 */
import type { Argv } from 'yargs';

/** The part of yargs' internals this reaches; every step optional, as internals may change. */
interface YargsInternals {
  getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
}

/** Turns the help caching of `cli` off; false when this yargs has no such step (then nothing changes). */
export function skipHelpCaching(cli: Argv): boolean {
  const usage = (cli as unknown as YargsInternals).getInternalMethods?.().getUsageInstance?.();
  if (!usage || typeof usage.cacheHelpMessage !== 'function') return false;
  usage.cacheHelpMessage = () => undefined;
  return true;
}
