/**
 * Unix socket paths for weft's servers (the CNI server, the agent API): a private directory, a
 * stale socket file from a crashed server taken over, a live one refused.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Prepares `socketPath` for listening; throws when another server answers on it. */
export async function claimSocketPath(socketPath: string): Promise<void> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  if (!fs.existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`a server already listens on ${socketPath}`);
  fs.rmSync(socketPath, { force: true });
}
