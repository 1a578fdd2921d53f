/**
 * The DaemonSet's install step (deploy/install) for real: installs into a temporary "host" the C
 * shim under each plugin name and the single executable (built once for this file) as its
 * fallback, then runs what it installed the way a runtime does: with no agent (the shim falls
 * back to the executable), with a CNI server (the shim hands the call over), and a whole pod
 * attachment through the installed configuration list in namespaces of its own.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCniServer } from '../../cni/server';
import { CONFLIST_NAME, conflist, install, PLUGINS, type InstallOptions } from '../../deploy/install/install';
import { buildSea } from '../../deploy/sea/build';
import { execTool, systemBinary } from '../../kernel/exec';
import { REFERENCE_CNI_DIR, runCni, type CniInvocation, type CniOutcome } from '../../lab/cni-exec';
import { pluginConfig, type NetworkConfigList } from '../../lab/conflist';
import { ping } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIST = path.join(__dirname, '..', '..');
const SHIM = path.join(DIST, 'shim', 'weft-cni-shim');
const INSTALL_MAIN = path.join(DIST, 'deploy', 'install', 'main.js');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-t-deploy-'));
let sea = '';

test.before(async () => {
  sea = await buildSea({ outDir: path.join(work, 'sea') });
});
test.after.always(() => fs.rmSync(work, { recursive: true, force: true }));

function hostOptions(t: { teardown(fn: () => void): void }, overrides: Partial<InstallOptions> = {}): InstallOptions {
  const host = tempDir(t, 'host');
  return {
    cniBinDir: path.join(host, 'opt', 'cni', 'bin'),
    cniConfDir: path.join(host, 'etc', 'cni', 'net.d'),
    sea,
    shim: SHIM,
    agentSocket: '/run/weft/agent.sock',
    writeConfig: true,
    ...overrides,
  };
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * The environment of a runtime on a node without an agent: the shim's socket is a path nothing
 * listens on (not the machine's /run/weft/cni.sock), and the executable's addon cache is private.
 */
function noAgentEnv(t: { teardown(fn: () => void): void }): Record<string, string> {
  const dir = tempDir(t, 'env');
  return { WEFT_CNI_SOCKET: path.join(dir, 'no-agent.sock'), WEFT_SEA_CACHE: path.join(dir, 'sea-cache') };
}

/** Every path under dir (links not followed) with what identifies its current version. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const st = fs.lstatSync(path.join(dir, entry));
    out[entry] = `${st.ino} ${st.mtimeMs} ${st.mode.toString(8)}`;
  }
  return out;
}

test('the layout: the shim under each plugin name, the executable as its fallback, byte for byte, executable; the list last', (t) => {
  const o = hostOptions(t);
  const report = install(o);
  const home = path.join(o.cniBinDir, 'weft');
  for (const plugin of PLUGINS) {
    const top = path.join(o.cniBinDir, plugin);
    t.true(fs.lstatSync(top).isSymbolicLink(), plugin);
    t.is(fs.realpathSync(top), fs.realpathSync(path.join(home, 'shim', 'weft-cni-shim')));
    t.is(fs.realpathSync(path.join(home, 'bin', plugin)), fs.realpathSync(path.join(home, 'weft-cni')));
    fs.accessSync(top, fs.constants.X_OK);
  }
  t.is(sha256(path.join(home, 'weft-cni')), sha256(sea));
  t.is(sha256(path.join(home, 'shim', 'weft-cni-shim')), sha256(SHIM));
  for (const file of [path.join(home, 'weft-cni'), path.join(home, 'shim', 'weft-cni-shim')]) t.is(fs.statSync(file).mode & 0o777, 0o755, file);
  const list = path.join(o.cniConfDir, CONFLIST_NAME);
  t.deepEqual(JSON.parse(fs.readFileSync(list, 'utf8')), conflist(o.agentSocket));
  t.is(fs.statSync(list).mode & 0o777, 0o644);
  // The list is written last: a runtime that sees it finds every plugin it names in place.
  t.is(report.changed.at(-1), list);
  t.is(report.changed.length, 2 + 2 * PLUGINS.length + 1);
  t.deepEqual(report.removed, []);
  // This temporary host has no reference plugins: the step says what will fail.
  t.deepEqual(report.warnings, [`${path.join(o.cniBinDir, 'portmap')} is missing: every pod ADD fails until the reference CNI plugins are installed`]);
  t.deepEqual(fs.readdirSync(home).filter((f) => f.endsWith('.tmp')), []);
});

test('a second run changes nothing (same inodes, same mtimes); a new agent socket rewrites only the list', (t) => {
  const o = hostOptions(t);
  install(o);
  const before = { bin: snapshot(o.cniBinDir), conf: snapshot(o.cniConfDir) };
  t.deepEqual(install(o).changed, []);
  t.deepEqual({ bin: snapshot(o.cniBinDir), conf: snapshot(o.cniConfDir) }, before);
  const moved = install({ ...o, agentSocket: '/run/weft-2/agent.sock' });
  t.deepEqual(moved.changed, [path.join(o.cniConfDir, CONFLIST_NAME)]);
  t.deepEqual(snapshot(o.cniBinDir), before.bin);
  t.is((JSON.parse(fs.readFileSync(path.join(o.cniConfDir, CONFLIST_NAME), 'utf8')) as { plugins: { agentSocket?: string }[] }).plugins[0].agentSocket, '/run/weft-2/agent.sock');
});

/**
 * Opens `file` over and over in another process, as fast as it can, and reports each version it
 * finds by index, or 'partial' for content that is none of them. It identifies a version by its
 * size and first and last 64 bytes: cheap enough to look thousands of times while one copy is
 * written (checked by hand: a writer that truncates and rewrites the file in place shows up as
 * hundreds of 'partial' lines per run, a temporary file renamed into place as none).
 */
const READER = `
const fs = require('fs');
const [file, ...known] = process.argv.slice(1);
const head = Buffer.alloc(64), tail = Buffer.alloc(64);
let last = '';
for (;;) {
  let fd;
  try { fd = fs.openSync(file, 'r'); } catch (e) { process.stdout.write('error ' + e.code + '\\n'); continue; }
  const size = fs.fstatSync(fd).size;
  fs.readSync(fd, head, 0, 64, 0);
  fs.readSync(fd, tail, 0, 64, Math.max(0, size - 64));
  fs.closeSync(fd);
  const id = size + ':' + head.toString('hex') + ':' + tail.toString('hex');
  const v = known.indexOf(id);
  if (v < 0) process.stdout.write('partial ' + size + '\\n');
  else if (id !== last) process.stdout.write('seen ' + v + '\\n');
  last = id;
}
`;

/** What READER identifies a file's content by. */
function identity(data: Buffer): string {
  return `${data.length}:${data.subarray(0, 64).toString('hex')}:${data.subarray(data.length - 64).toString('hex')}`;
}

test('a replaced executable is renamed into place: a reader never sees a partial file, an open one keeps its content', async (t) => {
  const dir = tempDir(t, 'versions');
  // Two versions of "the executable", large enough that copying one takes many reads' time.
  const versions = ['a', 'b'].map((v, index) => {
    const file = path.join(dir, `weft-cni-${v}`);
    const data = crypto.randomBytes(16 << 20);
    fs.writeFileSync(file, data);
    return { file, index, id: identity(data), hash: sha256(file) };
  });
  const o = hostOptions(t, { sea: versions[0].file, writeConfig: false });
  install(o);
  const target = path.join(o.cniBinDir, 'weft', 'weft-cni');
  const held = fs.openSync(target, 'r');
  t.teardown(() => fs.closeSync(held));

  const reader = spawn(process.execPath, ['-e', READER, target, ...versions.map((v) => v.id)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => reader.kill('SIGKILL'));
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  let buffered = '';
  reader.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    waiting?.();
  });
  /** Resolves once the reader has reported seeing version `index` after line `from`. */
  let exited = false;
  reader.once('exit', () => {
    exited = true;
    waiting?.();
  });
  const seen = async (index: number, from: number) => {
    while (!lines.slice(from).includes(`seen ${index}`)) {
      if (exited) throw new Error(`the reader exited: ${lines.join('; ')}`);
      await new Promise<void>((resolve) => (waiting = resolve));
    }
  };

  await seen(0, 0);
  const inodes = new Set([fs.statSync(target).ino]);
  for (let i = 1; i <= 6; i++) {
    const v = versions[i % 2];
    const from = lines.length;
    t.deepEqual(install({ ...o, sea: v.file }).changed, [target]);
    inodes.add(fs.statSync(target).ino);
    await seen(v.index, from);
  }
  reader.kill('SIGKILL');
  t.deepEqual(lines.filter((l) => !l.startsWith('seen ')), []);
  t.true(lines.length >= 7);
  // A new file each time, never the old one rewritten: what a running plugin has open is intact.
  t.true(inodes.size >= 2);
  const content = Buffer.alloc(fs.fstatSync(held).size);
  fs.readSync(held, content, 0, content.length, 0);
  t.is(crypto.createHash('sha256').update(content).digest('hex'), versions[0].hash);
  t.deepEqual(fs.readdirSync(path.dirname(target)).filter((f) => f.endsWith('.tmp')), []);
});

test("leftovers of an interrupted run are removed, a running one's are not; an old plain file becomes the link", async (t) => {
  const o = hostOptions(t);
  const home = path.join(o.cniBinDir, 'weft');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(o.cniConfDir, { recursive: true });
  // A pid that is certainly gone: a child that has exited and been reaped.
  const gone = await exitedPid();
  const dead = [path.join(home, `.weft-cni.${gone}.tmp`), path.join(o.cniConfDir, `.${CONFLIST_NAME}.${gone}.tmp`), path.join(o.cniBinDir, `.weft-bridge.${gone}.tmp`)];
  const alive = path.join(home, `.weft-cni.${process.ppid}.tmp`);
  const foreign = [path.join(o.cniBinDir, `.other.${gone}.tmp`), path.join(o.cniBinDir, 'portmap')];
  for (const f of [...dead, alive, ...foreign]) fs.writeFileSync(f, 'x');
  fs.writeFileSync(path.join(o.cniBinDir, 'weft-bridge'), 'an older flat copy');

  const report = install(o);
  t.deepEqual([...report.removed].sort(), [...dead].sort());
  for (const f of dead) t.false(fs.existsSync(f), f);
  for (const f of [alive, ...foreign]) t.true(fs.existsSync(f), f);
  t.true(fs.lstatSync(path.join(o.cniBinDir, 'weft-bridge')).isSymbolicLink());
  t.true(report.changed.includes(path.join(o.cniBinDir, 'weft-bridge')));
  // portmap is there now: no warning about it.
  t.deepEqual(report.warnings, []);
});

/** The pid of a child that has exited and been reaped. */
async function exitedPid(): Promise<number> {
  const child = spawn(systemBinary('true'), [], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('the install step as the init container runs it: flags, output, warnings, exit status', async (t) => {
  const o = hostOptions(t);
  const args = ['--cni-bin-dir', o.cniBinDir, '--cni-conf-dir', o.cniConfDir, '--sea', sea, '--shim', SHIM, '--agent-socket', '/run/weft/agent.sock'];
  const first = await execTool(process.execPath, [INSTALL_MAIN, ...args]);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout.split('\n').filter((l) => l.startsWith('installed ')).length, 2 + 2 * PLUGINS.length + 1);
  t.regex(first.stderr, /warning: .*portmap is missing/);
  const again = await execTool(process.execPath, [INSTALL_MAIN, ...args]);
  t.is(again.code, 0);
  t.is(again.stdout, 'weft CNI: everything already installed\n');
  // A flag it does not know fails the container (kubelet retries it), as does a missing source.
  t.not((await execTool(process.execPath, [INSTALL_MAIN, ...args, '--cni-bin', '/x'])).code, 0);
  const empty = hostOptions(t);
  const missing = await execTool(process.execPath, [INSTALL_MAIN, '--cni-bin-dir', empty.cniBinDir, '--cni-conf-dir', empty.cniConfDir, '--sea', path.join(work, 'nothing'), '--shim', SHIM]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /nothing is missing: build it first/);
  t.false(fs.existsSync(empty.cniBinDir));
  t.false(fs.existsSync(empty.cniConfDir));
});

test('the installed shim falls back to the executable without an agent, and hands calls to a CNI server when one listens', async (t) => {
  const o = hostOptions(t);
  install(o);
  const env = noAgentEnv(t);
  for (const plugin of PLUGINS) {
    const out = await runCni({ plugin, command: 'VERSION', config: { cniVersion: '1.0.0' }, cniPath: [o.cniBinDir], env });
    t.is(out.exitCode, 0, `${plugin}: ${out.stdout}${out.stderr}`);
    t.true((out.json?.supportedVersions as string[]).includes('1.0.0'), plugin);
  }
  // IPAM touches no network namespace; CNI_NETNS is only a string that must be present. Its store
  // lock comes from the weft_native addon, which the executable extracts to its cache when it runs.
  const dataDir = path.join(tempDir(t, 'ipam'), 'store');
  const config = { cniVersion: '1.0.0', name: 'deployipam', type: 'weft-ipam', ipam: { type: 'weft-ipam', subnet: '10.86.0.0/24', dataDir } };
  const call = { plugin: 'weft-ipam', command: 'ADD' as const, config, netns: '/var/run/netns/weft-t-unused', ifName: 'eth0', cniPath: [o.cniBinDir] };
  const fallback = await runCni({ ...call, containerId: 'deploy-fallback', env });
  t.is(fallback.exitCode, 0, fallback.stdout + fallback.stderr);
  t.like(fallback.json, { ips: [{ address: '10.86.0.2/24' }] });
  t.deepEqual(fs.readdirSync(env.WEFT_SEA_CACHE).map((f) => f.replace(/^[0-9a-f]+-/, '')), ['weft_native.node']);

  const socketPath = path.join(tempDir(t, 'server'), 'cni.sock');
  const server = await startCniServer({ socketPath, log: () => undefined });
  t.teardown(() => void server.close());
  const cache = path.join(tempDir(t, 'cache'), 'sea-cache');
  const served = await runCni({ ...call, containerId: 'deploy-served', env: { WEFT_CNI_SOCKET: socketPath, WEFT_SEA_CACHE: cache } });
  t.is(served.exitCode, 0, served.stdout + served.stderr);
  t.like(served.json, { ips: [{ address: '10.86.0.3/24' }] });
  // Answered by the server in this process: the executable never started.
  t.false(fs.existsSync(cache));
  t.true(fs.existsSync(path.join(dataDir, 'deployipam', '10.86.0.3')));
});

/** Runs each plugin of the list as a runtime does (ADD in order, DEL in reverse) with `env`. */
async function runList(list: NetworkConfigList, command: 'ADD' | 'CHECK' | 'DEL', call: Omit<CniInvocation, 'plugin' | 'command' | 'config'>, prevResult?: unknown): Promise<CniOutcome> {
  const plugins = command === 'DEL' ? [...list.plugins].reverse() : list.plugins;
  let result = prevResult;
  let out: CniOutcome | undefined;
  for (const plugin of plugins) {
    const att = { hostNetns: call.hostNetns!, containerId: call.containerId!, netns: call.netns!, ifName: call.ifName!, capabilityArgs: { portMappings: [] } };
    out = await runCni({ ...call, plugin: plugin.type, command, config: pluginConfig(list, plugin, att, result) });
    if (out.exitCode !== 0) return out;
    if (command === 'ADD') result = out.json;
  }
  return out!;
}

/** The installed list, with the node's paths moved into the test's directory. */
function installedList(o: InstallOptions, dir: string, network: object): NetworkConfigList {
  const list = JSON.parse(fs.readFileSync(path.join(o.cniConfDir, CONFLIST_NAME), 'utf8')) as NetworkConfigList;
  const nodeNetworkFile = path.join(dir, 'node-network.json');
  fs.writeFileSync(nodeNetworkFile, JSON.stringify(network));
  Object.assign(list.plugins[0], { nodeNetworkFile, stateDir: path.join(dir, 'overlay-state'), ipam: { dataDir: path.join(dir, 'networks') } });
  return list;
}

test('a pod attached through the installed list (weft-overlay via the fallback executable, then portmap): ADD, CHECK, DEL', async (t) => {
  const o = hostOptions(t);
  install(o);
  const dir = tempDir(t, 'node');
  const list = installedList(o, dir, { nodeName: 'node-1', podCidrs: ['10.87.0.0/24'], mtu: 1400, mode: 'vxlan' });
  // Registration with the agent is the subject of the next test; here the plugins alone.
  delete list.plugins[0].agentSocket;
  const node = tempNetns(t, 'node');
  const pod = tempNetns(t, 'pod');
  const env = noAgentEnv(t);
  const call = { hostNetns: node, containerId: 'deploy-pod', netns: pod, ifName: 'eth0', cniPath: [o.cniBinDir, REFERENCE_CNI_DIR], env };
  const add = await runList(list, 'ADD', call);
  t.is(add.exitCode, 0, add.stdout + add.stderr);
  t.like(add.json, { cniVersion: '1.0.0', ips: [{ address: '10.87.0.2/24', gateway: '10.87.0.1' }] });
  t.true(await ping(pod, '10.87.0.1'));
  t.true(fs.existsSync(path.join(dir, 'networks', 'weft', '10.87.0.2')));
  // The executable did the work: it needed both addons (netlink for the bridge, flock for IPAM).
  t.deepEqual(fs.readdirSync(env.WEFT_SEA_CACHE).map((f) => f.replace(/^[0-9a-f]+-/, '')).sort(), ['netlink.node', 'weft_native.node']);
  const check = await runList(list, 'CHECK', call, add.json);
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  const del = await runList(list, 'DEL', call, add.json);
  t.is(del.exitCode, 0, del.stdout + del.stderr);
  t.false(fs.existsSync(path.join(dir, 'networks', 'weft', '10.87.0.2')));
  t.false(await ping(pod, '10.87.0.1'));
});

// In the single executable the gRPC client cannot even be made (its API definition is a file that
// is not inside it): registration must still fail cleanly (ADD undone, 11) and DEL succeed.
test('without an agent, the installed list (with agentSocket) refuses a pod with 11 and leaves nothing, and DEL succeeds', async (t) => {
  const o = hostOptions(t);
  install(o);
  const dir = tempDir(t, 'node');
  const list = installedList(o, dir, { nodeName: 'node-1', podCidrs: ['10.88.0.0/24'], mtu: 1400, mode: 'vxlan' });
  list.plugins[0].agentSocket = path.join(dir, 'agent.sock');
  const node = tempNetns(t, 'node');
  const pod = tempNetns(t, 'pod');
  const call = { hostNetns: node, containerId: 'deploy-noagent', netns: pod, ifName: 'eth0', cniPath: [o.cniBinDir, REFERENCE_CNI_DIR], env: noAgentEnv(t), args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p' } };
  const add = await runList(list, 'ADD', call);
  t.like(add.json, { code: 11 });
  t.deepEqual(fs.existsSync(path.join(dir, 'networks', 'weft')) ? fs.readdirSync(path.join(dir, 'networks', 'weft')).filter((f) => /^\d/.test(f)) : [], []);
  const del = await runList(list, 'DEL', call);
  t.is(del.exitCode, 0, del.stdout + del.stderr);
});

/** Whether an ELF executable names a program interpreter (is dynamically linked). */
function hasInterpreter(file: string): boolean {
  const elf = fs.readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error(`${file} is not a 64-bit ELF file`);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return true;
  return false;
}

test("the shim as the image recipe builds it is static (no host glibc needed) and works installed", async (t) => {
  const recipe = fs.readFileSync(path.join(ROOT, 'deploy', 'image', 'Containerfile'), 'utf8');
  const line = /^RUN (cc .*-o dist\/shim\/weft-cni-shim cni\/shim\/weft-cni-shim\.c)$/m.exec(recipe)?.[1];
  if (!line) return t.fail('no shim build step in the Containerfile');
  const out = path.join(tempDir(t, 'shim'), 'weft-cni-shim');
  const [cc, ...args] = line.replace('-o dist/shim/weft-cni-shim', `-o ${out}`).replace('cni/shim/weft-cni-shim.c', path.join(ROOT, 'cni', 'shim', 'weft-cni-shim.c')).split(/\s+/);
  const built = await execTool(systemBinary(cc), args);
  t.is(built.code, 0, built.stderr);
  t.false(hasInterpreter(out));
  t.true(hasInterpreter(SHIM)); // the check tells the two apart
  const o = hostOptions(t, { shim: out });
  install(o);
  const version = await runCni({ plugin: 'weft-bridge', command: 'VERSION', config: { cniVersion: '1.0.0' }, cniPath: [o.cniBinDir], env: noAgentEnv(t) });
  t.is(version.exitCode, 0, version.stdout + version.stderr);
  t.true((version.json?.supportedVersions as string[]).includes('1.0.0'));
});
