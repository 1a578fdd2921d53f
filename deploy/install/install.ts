/**
 * Installs weft's CNI plugins and network configuration on a node (run by the DaemonSet's init
 * container, with the host's /opt/cni/bin and /etc/cni/net.d mounted). What lands in the
 * plugin directory must run without Node.js, which hosts do not have:
 *
 *   BIN/weft/weft-cni            the single executable (Node SEA: node + weft, ~85 MB)
 *   BIN/weft/shim/weft-cni-shim  the C shim that hands calls to the agent's CNI server
 *   BIN/weft/bin/<plugin>        -> ../weft-cni   (the shim's fallback when no agent answers:
 *                                                  it execs <dir of its executable>/../bin/<plugin>)
 *   BIN/<plugin>                 -> weft/shim/weft-cni-shim  (what runtimes execute)
 *
 * Why the subdirectory: the shim finds its fallback from /proc/self/exe (symlinks resolved), as
 * <dir>/../bin/<plugin>. A shim copied flat into /opt/cni/bin would compute /opt/cni/bin/../bin
 * = /opt/cni/bin, i.e. itself, and exec itself forever while no agent answers.
 *
 * Every file is written under a temporary name in its own directory, synced, then renamed over
 * the old one, so a runtime never executes a half-written plugin (a running plugin keeps the old
 * inode); symlinks are replaced the same way. The order is fallback first, then the links
 * runtimes execute, then the configuration list, so that nothing a runtime can reach points at
 * something not yet in place. Files whose content did not change are left alone (no new inode,
 * no new mtime), so a restarted init container changes nothing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PLUGIN_NAMES } from '../../cni/registry';

/** The plugin names installed: every plugin the multi-call program serves. */
export const PLUGINS: readonly string[] = PLUGIN_NAMES;
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
  /** Leftover temporary files of an interrupted earlier run that were removed. */
  removed: string[];
  /** Conditions on the host that will stop pods from getting a network, for the log. */
  warnings: string[];
}

/** `.NAME.PID.tmp`: the temporary name a file is written under before its rename. */
const TMP_NAME = /^\.(.+)\.(\d+)\.tmp$/;

function tmpName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function sameContent(a: string, b: string): boolean {
  try {
    const [sa, sb] = [fs.statSync(a), fs.statSync(b)];
    return sa.isFile() && sb.isFile() && sa.size === sb.size && sha256(a) === sha256(b);
  } catch {
    return false;
  }
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `target` through a temporary name in the same directory (rename is atomic only within
 * one file system) and renames it into place; the directory is synced so that the rename
 * survives a crash of the node, not only of this process.
 */
function writeAtomically(target: string, write: (tmp: string) => void): void {
  const tmp = tmpName(target);
  try {
    fs.rmSync(tmp, { force: true });
    write(tmp);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(path.dirname(target));
}

function installFile(source: string, target: string, mode: number, report: InstallReport): void {
  if (sameContent(source, target) && (fs.lstatSync(target).mode & 0o777) === mode) return;
  writeAtomically(target, (tmp) => {
    fs.copyFileSync(source, tmp);
    fs.chmodSync(tmp, mode);
    // The data is on disk before the name points at it: no empty executable after a power cut.
    fsyncPath(tmp);
  });
  report.changed.push(target);
}

function installSymlink(linkTarget: string, at: string, report: InstallReport): void {
  try {
    if (fs.readlinkSync(at) === linkTarget) return;
  } catch {
    // missing, or not a symlink (an older flat install): replaced below
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is only not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files an interrupted run left in `dir` (an 85 MB executable each), for the
 * names this step writes only, and not those of a run still in progress (the init container
 * runs in the host's PID namespace, so the pid in the name can be checked).
 */
function removeLeftovers(dir: string, names: ReadonlySet<string>, report: InstallReport): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const m = TMP_NAME.exec(entry);
    if (!m || !names.has(m[1]) || Number(m[2]) === process.pid || processAlive(Number(m[2]))) continue;
    fs.rmSync(path.join(dir, entry), { force: true });
    report.removed.push(path.join(dir, entry));
  }
}

/**
 * The network configuration list. The node's pod subnet is deliberately not in it: kubelet does
 * not template spec.podCIDRs into CNI configurations, the downward API does not expose it, and a
 * node may have none (the agent then derives one, --underlay-cidr). weft-overlay reads the
 * subnet and the MTU from the node network file weft-agent writes (/run/weft/node-network.json,
 * as flannel's plugin reads subnet.env) and runs weft-bridge (bridge weft0, gateway on the bridge,
 * weft-ipam on that subnet, state under /var/lib/cni); so this file is the same on every node and
 * needs no API access here. Until the agent has written the node network, ADD answers 11 (try
 * again later) and the runtime retries.
 */
export function conflist(agentSocket: string): object {
  return {
    cniVersion: '1.0.0',
    name: 'weft',
    plugins: [
      // agentSocket: ADD returns once the agent has the pod's rules in the kernel. hairpinMode:
      // a pod reaching itself through a Service address gets its own packets back.
      { type: 'weft-overlay', agentSocket, hairpinMode: true },
      // The reference portmap plugin, for hostPort (kubelet passes the mappings as runtimeConfig).
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** CNI configuration files a runtime would pick before ours (it takes the first by name). */
function earlierConfigs(confDir: string): string[] {
  try {
    return fs
      .readdirSync(confDir)
      .filter((f) => /\.(conf|conflist|json)$/.test(f) && f < CONFLIST_NAME)
      .sort();
  } catch {
    return [];
  }
}

export function install(o: InstallOptions): InstallReport {
  for (const file of [o.sea, o.shim]) if (!fs.existsSync(file)) throw new Error(`${file} is missing: build it first (npm run build, npm run build:sea)`);
  const report: InstallReport = { changed: [], removed: [], warnings: [] };
  const home = path.join(o.cniBinDir, 'weft');
  for (const dir of [home, path.join(home, 'shim'), path.join(home, 'bin')]) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  removeLeftovers(home, new Set(['weft-cni']), report);
  removeLeftovers(path.join(home, 'shim'), new Set(['weft-cni-shim']), report);
  removeLeftovers(path.join(home, 'bin'), new Set(PLUGINS), report);
  removeLeftovers(o.cniBinDir, new Set(PLUGINS), report);

  installFile(o.sea, path.join(home, 'weft-cni'), 0o755, report);
  installFile(o.shim, path.join(home, 'shim', 'weft-cni-shim'), 0o755, report);
  for (const plugin of PLUGINS) installSymlink('../weft-cni', path.join(home, 'bin', plugin), report);
  for (const plugin of PLUGINS) installSymlink(path.join('weft', 'shim', 'weft-cni-shim'), path.join(o.cniBinDir, plugin), report);

  if (o.writeConfig) {
    fs.mkdirSync(o.cniConfDir, { recursive: true, mode: 0o755 });
    removeLeftovers(o.cniConfDir, new Set([CONFLIST_NAME]), report);
    installText(`${JSON.stringify(conflist(o.agentSocket), null, 2)}\n`, path.join(o.cniConfDir, CONFLIST_NAME), report);
    // portmap is the reference plugin (the kubernetes-cni package on most distributions), not ours.
    if (!fs.existsSync(path.join(o.cniBinDir, 'portmap'))) {
      report.warnings.push(`${path.join(o.cniBinDir, 'portmap')} is missing: every pod ADD fails until the reference CNI plugins are installed`);
    }
    const earlier = earlierConfigs(o.cniConfDir);
    if (earlier.length > 0) report.warnings.push(`${o.cniConfDir} has ${earlier.join(', ')}, which the runtime uses instead of ${CONFLIST_NAME}`);
  }
  return report;
}
