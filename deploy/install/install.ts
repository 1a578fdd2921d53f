/**
 * Installs weft's CNI plugins and network configuration on a node (run by the DaemonSet's init
 * container, with the host's /opt/cni/bin and /etc/cni/net.d mounted). What lands in the
 * plugin directory must run without Node.js, which hosts do not have:
 *
 *   BIN/weft/weft-cni            the single executable (Node SEA: node + weft, ~90 MB)
 *   BIN/weft/shim/weft-cni-shim  the C shim that hands calls to the agent's CNI server
 *   BIN/weft/bin/<plugin>        -> ../weft-cni   (the shim's fallback when no agent answers:
 *                                                  it execs <its dir>/../bin/<plugin>)
 *   BIN/<plugin>                 -> weft/shim/weft-cni-shim  (what runtimes execute)
 *
 * Every file is written under a temporary name in its directory, synced, then renamed over the
 * old one, so a runtime never executes a half-written plugin; symlinks are replaced the same
 * way. Files and the configuration whose content did not change are left alone.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const PLUGINS = ['weft-overlay', 'weft-bridge', 'weft-macvlan', 'weft-ipam'] as const;
export const CONFLIST_NAME = '10-weft.conflist';

export interface InstallOptions {
  cniBinDir: string;
  cniConfDir: string;
  /** The single executable (npm run build:sea). */
  sea: string;
  /** dist/shim/weft-cni-shim. */
  shim: string;
  /** The agent's socket, as the plugins reach it on the host. */
  agentSocket: string;
  /** Write the configuration list too (off where another tool manages /etc/cni/net.d). */
  writeConfig: boolean;
}

export interface InstallReport {
  /** Paths written or replaced; empty when everything was already in place. */
  changed: string[];
}

function sameContent(a: string, b: string): boolean {
  try {
    const [sa, sb] = [fs.statSync(a), fs.statSync(b)];
    if (sa.size !== sb.size) return false;
    const hash = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    return hash(a) === hash(b);
  } catch {
    return false;
  }
}

function writeAtomically(target: string, write: (tmp: string) => void): void {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    write(tmp);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

function installFile(source: string, target: string, mode: number, report: InstallReport): void {
  if (sameContent(source, target) && (fs.statSync(target).mode & 0o777) === mode) return;
  writeAtomically(target, (tmp) => {
    fs.copyFileSync(source, tmp);
    fs.chmodSync(tmp, mode);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  });
  report.changed.push(target);
}

function installSymlink(linkTarget: string, at: string, report: InstallReport): void {
  try {
    if (fs.readlinkSync(at) === linkTarget) return;
  } catch {
    // missing, or not a symlink: replaced below
  }
  writeAtomically(at, (tmp) => fs.symlinkSync(linkTarget, tmp));
  report.changed.push(at);
}

function installText(text: string, target: string, report: InstallReport): void {
  try {
    if (fs.readFileSync(target, 'utf8') === text) return;
  } catch {
    // missing
  }
  writeAtomically(target, (tmp) => fs.writeFileSync(tmp, text, { mode: 0o644, flush: true }));
  report.changed.push(target);
}

/** The network configuration list: pods on the node's bridge from the node's pod subnet, then port mappings. */
export function conflist(agentSocket: string): object {
  return {
    cniVersion: '1.0.0',
    name: 'weft',
    plugins: [
      // Subnet and MTU come from the node network file the agent writes: nothing node-specific here.
      { type: 'weft-overlay', agentSocket, hairpinMode: true },
      // The reference portmap plugin, for hostPort (kubelet passes the mappings as runtimeConfig).
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

export function install(o: InstallOptions): InstallReport {
  for (const file of [o.sea, o.shim]) if (!fs.existsSync(file)) throw new Error(`${file} is missing: build it first (npm run build, npm run build:sea)`);
  const report: InstallReport = { changed: [] };
  const home = path.join(o.cniBinDir, 'weft');
  for (const dir of [home, path.join(home, 'shim'), path.join(home, 'bin')]) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  installFile(o.sea, path.join(home, 'weft-cni'), 0o755, report);
  installFile(o.shim, path.join(home, 'shim', 'weft-cni-shim'), 0o755, report);
  for (const plugin of PLUGINS) {
    installSymlink('../weft-cni', path.join(home, 'bin', plugin), report);
    installSymlink(path.join('weft', 'shim', 'weft-cni-shim'), path.join(o.cniBinDir, plugin), report);
  }
  if (o.writeConfig) {
    fs.mkdirSync(o.cniConfDir, { recursive: true, mode: 0o755 });
    installText(`${JSON.stringify(conflist(o.agentSocket), null, 2)}\n`, path.join(o.cniConfDir, CONFLIST_NAME), report);
  }
  return report;
}
