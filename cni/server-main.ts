/**
 * `weft-cni-server [--socket PATH]`: runs the CNI server (cni/server.ts) until SIGTERM/SIGINT.
 * On a node it runs next to the agent; weft-cni-shim, installed under the plugin names on the
 * CNI path, hands it every call and falls back to the Node.js entry when it is not running.
 */
import { startCniServer } from './server';

export const DEFAULT_SOCKET = '/run/weft/cni.sock';

async function main(): Promise<void> {
  const flag = process.argv.indexOf('--socket');
  const socketPath = flag >= 0 ? process.argv[flag + 1] : (process.env.WEFT_CNI_SOCKET ?? DEFAULT_SOCKET);
  if (!socketPath) throw new Error('--socket needs a path');
  const server = await startCniServer({ socketPath });
  process.stderr.write(`weft-cni-server: listening on ${socketPath}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`weft-cni-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
