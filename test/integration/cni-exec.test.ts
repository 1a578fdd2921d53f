/**
 * The multi-call program as runtimes execute it (dist/bin/<name>), and delegation from a weft
 * plugin to IPAM executables on CNI_PATH (the reference host-local and weft-ipam itself).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { delegateIpam } from '../../cni/delegate';
import type { AttachmentRequest } from '../../cni/plugin';
import type { NetConf } from '../../cni/types';
import { REFERENCE_CNI_DIR, runCni, WEFT_BIN_DIR } from '../../lab/cni-exec';
import { tempDir } from '../helpers/tmp';

test('VERSION through the executable does not load the CA bundle runtimes pass along', (t) => {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: 'VERSION', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' };
  // Control: plain node does try to load it, and says so on stderr.
  const control = spawnSync(process.execPath, ['-e', '0'], { env, encoding: 'utf8' });
  t.regex(control.stderr, /extra certs/i);

  const out = spawnSync(path.join(WEFT_BIN_DIR, 'weft-ipam'), [], { env, encoding: 'utf8', input: '{"cniVersion":"1.1.0"}' });
  t.is(out.status, 0);
  t.is(out.stderr, '');
  t.deepEqual(JSON.parse(out.stdout), { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

test('ADD through the executable converts the result to the config version (0.4.0)', async (t) => {
  const dataDir = tempDir(t, 'exec');
  const config = { cniVersion: '0.4.0', name: 'net', type: 'x', ipam: { type: 'weft-ipam', subnet: '10.77.0.0/24', dataDir } };
  const add = await runCni({ plugin: 'weft-ipam', command: 'ADD', config, containerId: 'c1', netns: '/x', ifName: 'eth0' });
  t.is(add.exitCode, 0, add.stdout);
  t.deepEqual(add.json, { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.77.0.2/24', gateway: '10.77.0.1' }] });
  const del = await runCni({ plugin: 'weft-ipam', command: 'DEL', config, containerId: 'c1', ifName: 'eth0' });
  t.is(del.exitCode, 0, del.stdout);
  t.false(fs.existsSync(path.join(dataDir, 'net', '10.77.0.2')));
});

test('the program installed under a name it does not serve answers with error JSON', async (t) => {
  const dir = tempDir(t, 'exec');
  fs.symlinkSync(fs.realpathSync(path.join(WEFT_BIN_DIR, 'weft-ipam')), path.join(dir, 'weft-nope'));
  const out = await runCni({ plugin: 'weft-nope', command: 'ADD', config: { cniVersion: '1.1.0', name: 'n' }, containerId: 'c', netns: '/x', ifName: 'eth0', cniPath: [dir] });
  t.is(out.exitCode, 1);
  t.like(out.json, { code: 50, msg: 'weft has no plugin named "weft-nope"' });
});

function request(config: NetConf, cniPath: string[], containerId = 'deleg'): AttachmentRequest {
  return {
    containerId,
    netns: '/var/run/netns/weft-t-unused',
    ifName: 'eth0',
    args: new Map([['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'p']]),
    path: cniPath,
    config,
    rawConfig: Buffer.from(JSON.stringify(config)),
  };
}

for (const [type, cniPath] of [
  ['host-local', [REFERENCE_CNI_DIR]],
  ['weft-ipam', [WEFT_BIN_DIR]],
] as const) {
  test(`delegation to ${type}: ADD returns the current-form result, DEL releases it`, async (t) => {
    const dataDir = tempDir(t, 'exec');
    const config: NetConf = { cniVersion: '0.3.1', name: 'dnet', type: 'weft-bridge', ipam: { type, ranges: [[{ subnet: '10.78.0.0/29' }], [{ subnet: 'fd78::/120' }]], dataDir } };
    const result = await delegateIpam('ADD', request(config, [...cniPath]));
    t.is(result.cniVersion, '1.1.0');
    t.deepEqual(result.ips, [
      { address: '10.78.0.2/29', gateway: '10.78.0.1' },
      { address: 'fd78::2/120', gateway: 'fd78::1' },
    ]);
    t.true(fs.existsSync(path.join(dataDir, 'dnet', '10.78.0.2')));
    await delegateIpam('DEL', request(config, [...cniPath]));
    t.false(fs.existsSync(path.join(dataDir, 'dnet', '10.78.0.2')));
  });
}

test('delegation: the IPAM plugin error keeps its code and message', async (t) => {
  const dataDir = tempDir(t, 'exec');
  // A /30 has one usable address besides the gateway.
  const config: NetConf = { cniVersion: '1.0.0', name: 'tiny', type: 'weft-bridge', ipam: { type: 'host-local', subnet: '10.79.0.0/30', dataDir } };
  await delegateIpam('ADD', request(config, [REFERENCE_CNI_DIR], 'first'));
  const err = await t.throwsAsync(delegateIpam('ADD', request(config, [REFERENCE_CNI_DIR], 'second')));
  t.like(err, { code: 999 });
  t.regex(err?.message ?? '', /no IP addresses available/);
});

test('delegation: an IPAM type not on CNI_PATH is code 7 naming the path', async (t) => {
  const config: NetConf = { cniVersion: '1.1.0', name: 'n', type: 'weft-bridge', ipam: { type: 'no-such-ipam' } };
  const err = await t.throwsAsync(delegateIpam('ADD', request(config, ['/nonexistent', REFERENCE_CNI_DIR])));
  t.like(err, { code: 7, message: 'failed to find plugin "no-such-ipam" in path [/nonexistent /usr/lib/cni]' });
});
