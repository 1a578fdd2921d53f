/**
 * weft-cni-shim + the CNI server: the shim hands calls to the server and prints its answers
 * exactly as the Node.js entry would, falls back to that entry when no server listens, and the
 * server survives garbage on its socket.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { encodeFrame, startCniServer, type CniServer } from '../../cni/server';
import { withNetlink } from '../../kernel/netlink';
import { runCni, SHIM_BIN_DIR, WEFT_BIN_DIR } from '../../lab/cni-exec';
import { ping } from '../../lab/probe';
import { tempNetns } from '../helpers/netns';
import { tempDir } from '../helpers/tmp';


async function server(t: ExecutionContext, dir: string, log: string[] = []): Promise<CniServer> {
  const srv = await startCniServer({ socketPath: path.join(dir, 'cni.sock'), log: (l) => log.push(l) });
  t.teardown(() => srv.close());
  return srv;
}

function ipamConfig(dataDir: string) {
  return { cniVersion: '0.4.0', name: 'srv', type: 'x', ipam: { type: 'weft-ipam', subnet: '10.80.0.0/24', dataDir } };
}

test('the shim hands ADD and DEL to the server and prints its result', async (t) => {
  const dir = tempDir(t, 'srv');
  const srv = await server(t, dir);
  // With no fallback available, only the server can have answered.
  const env = { WEFT_CNI_SOCKET: srv.socketPath, WEFT_CNI_FALLBACK_DIR: '/nonexistent' };
  const call = { plugin: 'weft-ipam', config: ipamConfig(dir), containerId: 'c1', netns: '/x', ifName: 'eth0', cniPath: [SHIM_BIN_DIR], env };
  const add = await runCni({ ...call, command: 'ADD' });
  t.is(add.exitCode, 0, add.stdout);
  t.deepEqual(add.json, { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.80.0.2/24', gateway: '10.80.0.1' }] });
  t.true(fs.existsSync(path.join(dir, 'srv', '10.80.0.2')));
  const del = await runCni({ ...call, command: 'DEL' });
  t.is(del.exitCode, 0, del.stdout);
  t.false(fs.existsSync(path.join(dir, 'srv', '10.80.0.2')));
});

test('errors come back with exit 1 and the error JSON intact, control characters and UTF-8 included', async (t) => {
  const dir = tempDir(t, 'srv');
  const srv = await server(t, dir);
  const command = 'BOGUS\t"ü"\n';
  const out = await runCni({
    plugin: 'weft-ipam',
    command: 'ADD',
    config: ipamConfig(dir),
    cniPath: [SHIM_BIN_DIR],
    env: { WEFT_CNI_SOCKET: srv.socketPath, WEFT_CNI_FALLBACK_DIR: '/nonexistent', CNI_COMMAND: command },
  });
  t.is(out.exitCode, 1);
  t.deepEqual(out.json, { cniVersion: '0.4.0', code: 4, msg: `unknown CNI_COMMAND: ${command}` });
});

test('VERSION through the server', async (t) => {
  const dir = tempDir(t, 'srv');
  const srv = await server(t, dir);
  const out = await runCni({ plugin: 'weft-ipam', command: 'VERSION', config: {}, cniPath: [SHIM_BIN_DIR], env: { WEFT_CNI_SOCKET: srv.socketPath, WEFT_CNI_FALLBACK_DIR: '/nonexistent' } });
  t.is(out.exitCode, 0);
  t.deepEqual(out.json?.supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
});

test('without a server the shim runs the Node.js entry of the same plugin', async (t) => {
  const dir = tempDir(t, 'srv');
  const call = { plugin: 'weft-ipam', config: ipamConfig(dir), containerId: 'c2', netns: '/x', ifName: 'eth0', cniPath: [SHIM_BIN_DIR] };
  const env = { WEFT_CNI_SOCKET: path.join(dir, 'nobody-listens.sock') };
  const add = await runCni({ ...call, command: 'ADD', env });
  t.is(add.exitCode, 0, add.stdout);
  t.like(add.json, { cniVersion: '0.4.0' });
  t.true(fs.existsSync(path.join(dir, 'srv', '10.80.0.2')));
  // And it is really the fallback that answered: without one the call fails.
  const none = await runCni({ ...call, command: 'DEL', env: { ...env, WEFT_CNI_FALLBACK_DIR: '/nonexistent' } });
  t.is(none.exitCode, 1);
  t.true(fs.existsSync(path.join(dir, 'srv', '10.80.0.2')));
});

test('the server drops malformed requests and keeps serving', async (t) => {
  const dir = tempDir(t, 'srv');
  const log: string[] = [];
  const srv = await server(t, dir, log);
  const send = (bytes: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = net.connect(srv.socketPath, () => s.write(bytes));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', () => undefined);
    });
  t.is((await send(encodeFrame({ plugin: 'weft-ipam' }))).length, 0);
  t.is((await send(Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{{{')]))).length, 0);
  t.is((await send(Buffer.from([0xff, 0xff, 0xff, 0xff]))).length, 0);
  t.is(log.length, 3);
  const out = await runCni({ plugin: 'weft-ipam', command: 'VERSION', config: {}, cniPath: [SHIM_BIN_DIR], env: { WEFT_CNI_SOCKET: srv.socketPath, WEFT_CNI_FALLBACK_DIR: '/nonexistent' } });
  t.is(out.exitCode, 0);
});

test('a second server refuses a socket that is in use; a stale socket file is taken over', async (t) => {
  const dir = tempDir(t, 'srv');
  const srv = await server(t, dir);
  await t.throwsAsync(startCniServer({ socketPath: srv.socketPath }), { message: /already listens/ });
  await srv.close();
  fs.writeFileSync(srv.socketPath, ''); // what a crashed server leaves
  const again = await startCniServer({ socketPath: srv.socketPath });
  t.teardown(() => again.close());
  t.is((fs.statSync(again.socketPath).mode & 0o777).toString(8), '600');
});

test('weft-bridge through the shim acts in the namespace the shim runs in, not the server', async (t) => {
  const dir = tempDir(t, 'srv');
  const srv = await server(t, dir);
  const node = tempNetns(t, 'node');
  const podNs = tempNetns(t, 'pod');
  const config = { cniVersion: '1.0.0', name: 'srvnet', type: 'weft-bridge', bridge: 'weft-srv0', isGateway: true, ipam: { type: 'weft-ipam', subnet: '10.81.0.0/24', dataDir: dir } };
  const call = { hostNetns: node, plugin: 'weft-bridge', config, containerId: 'srv-pod', netns: podNs, ifName: 'eth0', cniPath: [SHIM_BIN_DIR, WEFT_BIN_DIR], env: { WEFT_CNI_SOCKET: srv.socketPath, WEFT_CNI_FALLBACK_DIR: '/nonexistent' } };
  const add = await runCni({ ...call, command: 'ADD' });
  t.is(add.exitCode, 0, add.stdout);
  t.true(await ping(podNs, '10.81.0.1'));
  await withNetlink(node, async (nl) => t.truthy(await nl.links.find('weft-srv0')));
  // The server's own namespace is untouched (read only).
  await withNetlink(undefined, async (nl) => t.is(await nl.links.find('weft-srv0'), undefined));
  const del = await runCni({ ...call, command: 'DEL', config: { ...config, prevResult: add.json } });
  t.is(del.exitCode, 0, del.stdout);
  await withNetlink(podNs, async (nl) => t.is(await nl.links.find('eth0'), undefined));
});
