import test from 'ava';
import type { AttachmentRequest, CniPlugin, GcRequest, NetworkRequest } from '../../cni/plugin';
import { runSkel, type SkelOutput } from '../../cni/skel';
import { CniError, type Result } from '../../cni/types';

/** A plugin that records what skel hands it and answers with a fixed dual-stack result. */
class RecordingPlugin implements CniPlugin {
  readonly name = 'fake';
  calls: { verb: string; req: AttachmentRequest | NetworkRequest | GcRequest }[] = [];
  failWith?: Error;

  result: Result = {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1400, sandbox: '/var/run/netns/p' }],
    ips: [
      { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
      { address: 'fd00::5/64', interface: 0 },
    ],
    routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, priority: 10 }],
    dns: { nameservers: ['10.96.0.10'] },
  };

  private record(verb: string, req: AttachmentRequest | NetworkRequest): void {
    this.calls.push({ verb, req });
    if (this.failWith) throw this.failWith;
  }
  async add(req: AttachmentRequest): Promise<Result> {
    this.record('ADD', req);
    return this.result;
  }
  async del(req: AttachmentRequest): Promise<void> {
    this.record('DEL', req);
  }
  async check(req: AttachmentRequest): Promise<void> {
    this.record('CHECK', req);
  }
  async status(req: NetworkRequest): Promise<void> {
    this.record('STATUS', req);
  }
  async gc(req: GcRequest): Promise<void> {
    this.record('GC', req);
  }
}

const ATTACH_ENV = {
  CNI_CONTAINERID: 'c0ffee',
  CNI_NETNS: '/var/run/netns/p',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
};

function conf(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ cniVersion: '1.1.0', name: 'net', type: 'fake', ...extra }));
}

async function run(plugin: RecordingPlugin, env: Record<string, string | undefined>, stdin: Buffer): Promise<SkelOutput & { json?: Record<string, unknown> }> {
  const out = await runSkel('fake', () => plugin, { env, stdin });
  return { ...out, json: out.stdout ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined };
}

test('VERSION answers without reading the config or loading the plugin', async (t) => {
  const out = await runSkel('fake', () => t.fail('plugin loaded') as never, { env: { CNI_COMMAND: 'VERSION' }, stdin: Buffer.from('not json') });
  t.is(out.exitCode, 0);
  t.deepEqual(JSON.parse(out.stdout), { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
});

test('no CNI_COMMAND prints the about text on stderr and exits 0', async (t) => {
  const out = await runSkel('weft-x', () => t.fail('plugin loaded') as never, { env: {}, stdin: Buffer.alloc(0) }, '1.2.3');
  t.is(out.exitCode, 0);
  t.is(out.stdout, '');
  t.regex(out.stderr, /^CNI weft-x plugin version 1\.2\.3\nCNI protocol versions supported: 0\.3\.0, .*1\.1\.0\n$/);
});

test('ADD passes the parsed environment and config to the plugin and prints the result', async (t) => {
  const plugin = new RecordingPlugin();
  const stdin = conf({ ipam: { type: 'weft-ipam' } });
  const out = await run(plugin, { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, stdin);
  t.is(out.exitCode, 0, out.stdout);
  t.deepEqual(out.json, { ...plugin.result });
  const req = plugin.calls[0].req as AttachmentRequest;
  t.is(req.containerId, 'c0ffee');
  t.is(req.netns, '/var/run/netns/p');
  t.is(req.ifName, 'eth0');
  t.deepEqual(req.path, ['/opt/cni/bin', '/usr/lib/cni']);
  t.deepEqual([...req.args], [['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'default'], ['K8S_POD_NAME', 'web-0']]);
  t.is(req.config.name, 'net');
  t.true(req.rawConfig.equals(stdin));
});

for (const version of ['0.3.0', '0.3.1', '0.4.0'] as const) {
  test(`ADD result converted down to ${version}: ips gain version, 1.x-only fields dropped`, async (t) => {
    const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, conf({ cniVersion: version }));
    t.is(out.exitCode, 0, out.stdout);
    t.deepEqual(out.json, {
      cniVersion: version,
      interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/p' }],
      ips: [
        { version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
        { version: '6', address: 'fd00::5/64', interface: 0 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
      dns: { nameservers: ['10.96.0.10'] },
    });
  });
}

test('ADD result for 1.0.0 keeps the 1.x form with the config version', async (t) => {
  const plugin = new RecordingPlugin();
  const out = await run(plugin, { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, conf({ cniVersion: '1.0.0' }));
  t.deepEqual(out.json, { ...plugin.result, cniVersion: '1.0.0' });
});

test('prevResult of an older version reaches the plugin in the current form', async (t) => {
  const plugin = new RecordingPlugin();
  const prevResult = { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.1.0.5/24', interface: 0 }], interfaces: [{ name: 'eth0', sandbox: '/p' }] };
  const out = await run(plugin, { CNI_COMMAND: 'DEL', ...ATTACH_ENV }, conf({ cniVersion: '0.4.0', prevResult }));
  t.is(out.exitCode, 0, out.stdout);
  t.is(out.stdout, '');
  const req = plugin.calls[0].req as AttachmentRequest;
  t.deepEqual(req.config.prevResult, { cniVersion: '1.1.0', ips: [{ address: '10.1.0.5/24', interface: 0 }], interfaces: [{ name: 'eth0', sandbox: '/p' }] });
});

test('a malformed prevResult is a decoding error', async (t) => {
  const plugin = new RecordingPlugin();
  const out = await run(plugin, { CNI_COMMAND: 'DEL', ...ATTACH_ENV }, conf({ prevResult: { ips: [{ gateway: '1.2.3.4' }] } }));
  t.is(out.exitCode, 1);
  t.is(out.json?.code, 6);
  t.is(plugin.calls.length, 0);
});

test('unknown command: code 4, even with no other variable set', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'BOGUS' }, conf());
  t.is(out.exitCode, 1);
  t.like(out.json, { code: 4, msg: 'unknown CNI_COMMAND: BOGUS' });
});

test('lower-case command is unknown', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'add', ...ATTACH_ENV }, conf());
  t.like(out.json, { code: 4, msg: 'unknown CNI_COMMAND: add' });
});

for (const variable of ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']) {
  test(`ADD without ${variable}: code 4 naming it, plugin not called`, async (t) => {
    const plugin = new RecordingPlugin();
    const env: Record<string, string | undefined> = { CNI_COMMAND: 'ADD', ...ATTACH_ENV, [variable]: undefined };
    const out = await run(plugin, env, conf());
    t.is(out.exitCode, 1);
    t.like(out.json, { code: 4, msg: `required env variables [${variable}] missing` });
    t.is(plugin.calls.length, 0);
  });
}

test('DEL without CNI_NETNS is valid: the runtime may have lost the namespace', async (t) => {
  const plugin = new RecordingPlugin();
  const out = await run(plugin, { CNI_COMMAND: 'DEL', ...ATTACH_ENV, CNI_NETNS: undefined }, conf());
  t.is(out.exitCode, 0, out.stdout);
  t.is((plugin.calls[0].req as AttachmentRequest).netns, '');
});

test('missing variables are reported before a malformed config', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD' }, Buffer.from('{'));
  t.like(out.json, { code: 4 });
});

for (const [label, stdin] of [
  ['malformed JSON', '{"cniVersion": '],
  ['empty stdin', ''],
  ['a JSON array', '[]'],
] as const) {
  test(`${label}: code 6`, async (t) => {
    const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, Buffer.from(stdin));
    t.is(out.exitCode, 1);
    t.is(out.json?.code, 6);
    t.regex(String(out.json?.msg), /error decoding network config/);
  });
}

test('missing name: code 7, before the version check', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, Buffer.from('{"cniVersion":"9.9.9"}'));
  t.like(out.json, { code: 7, msg: 'missing network name' });
});

for (const version of ['9.9.9', '0.2.0', 'banana', undefined]) {
  test(`unsupported cniVersion ${String(version)}: code 1 with the supported list`, async (t) => {
    const plugin = new RecordingPlugin();
    const out = await run(plugin, { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, Buffer.from(JSON.stringify({ cniVersion: version, name: 'n' })));
    t.is(out.exitCode, 1);
    t.like(out.json, { code: 1, msg: 'incompatible CNI versions' });
    t.regex(String(out.json?.details), /0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/);
    t.is(plugin.calls.length, 0);
  });
}

test('unknown command is reported after the config checks', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'BOGUS' }, Buffer.from('{}'));
  t.like(out.json, { code: 7 });
});

test('CHECK on a 0.3.1 config is refused with code 1', async (t) => {
  const plugin = new RecordingPlugin();
  const out = await run(plugin, { CNI_COMMAND: 'CHECK', ...ATTACH_ENV }, conf({ cniVersion: '0.3.1' }));
  t.like(out.json, { code: 1, msg: 'config version does not allow CHECK' });
  t.is(plugin.calls.length, 0);
});

test('CHECK on 0.4.0 reaches the plugin and prints nothing', async (t) => {
  const plugin = new RecordingPlugin();
  const out = await run(plugin, { CNI_COMMAND: 'CHECK', ...ATTACH_ENV }, conf({ cniVersion: '0.4.0' }));
  t.is(out.exitCode, 0);
  t.is(out.stdout, '');
  t.is(plugin.calls[0].verb, 'CHECK');
});

for (const command of ['STATUS', 'GC']) {
  test(`${command} needs cniVersion 1.1.0`, async (t) => {
    const plugin = new RecordingPlugin();
    const out = await run(plugin, { CNI_COMMAND: command, CNI_PATH: '/x' }, conf({ cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] }));
    t.like(out.json, { code: 1, msg: `config version does not allow ${command}` });
    t.is(plugin.calls.length, 0);
  });
}

test('STATUS reaches the plugin; its CniError(50) becomes the error JSON', async (t) => {
  const plugin = new RecordingPlugin();
  t.is((await run(plugin, { CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, conf())).exitCode, 0);
  plugin.failWith = new CniError(50, 'store unusable');
  const out = await run(plugin, { CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, conf());
  t.is(out.exitCode, 1);
  t.deepEqual(out.json, { cniVersion: '1.1.0', code: 50, msg: 'store unusable' });
});

test('GC hands the valid attachments to the plugin', async (t) => {
  const plugin = new RecordingPlugin();
  const valid = [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: 'net1' }];
  const out = await run(plugin, { CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf({ 'cni.dev/valid-attachments': valid }));
  t.is(out.exitCode, 0, out.stdout);
  t.deepEqual((plugin.calls[0].req as GcRequest).validAttachments, valid);
});

test('GC without a valid-attachments list is refused rather than releasing everything', async (t) => {
  const plugin = new RecordingPlugin();
  for (const list of [undefined, 'all', [{ containerID: 'a' }]]) {
    const out = await run(plugin, { CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf({ 'cni.dev/valid-attachments': list }));
    t.like(out.json, { code: 7 });
  }
  t.is(plugin.calls.length, 0);
});

for (const [ifName, msg] of [
  ['a-very-long-name0', 'interface name is too long'],
  ['eth/0', 'interface name contains an invalid character'],
  ['..', 'interface name cannot be . or ..'],
]) {
  test(`CNI_IFNAME ${ifName}: code 4`, async (t) => {
    const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD', ...ATTACH_ENV, CNI_IFNAME: ifName }, conf());
    t.like(out.json, { code: 4, msg });
  });
}

test('a container ID with invalid characters: code 4', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD', ...ATTACH_ENV, CNI_CONTAINERID: '-bad id' }, conf());
  t.like(out.json, { code: 4 });
});

test('a CNI_ARGS pair without "=": code 4', async (t) => {
  const out = await run(new RecordingPlugin(), { CNI_COMMAND: 'ADD', ...ATTACH_ENV, CNI_ARGS: 'IgnoreUnknown=1;oops' }, conf());
  t.like(out.json, { code: 4, msg: 'ARGS: invalid pair "oops"' });
});

test('a CniError from the plugin keeps its code and details, in the config version', async (t) => {
  const plugin = new RecordingPlugin();
  plugin.failWith = new CniError(11, 'no free address', 'range 10.1.0.0/30');
  const out = await run(plugin, { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, conf({ cniVersion: '0.4.0' }));
  t.is(out.exitCode, 1);
  t.deepEqual(out.json, { cniVersion: '0.4.0', code: 11, msg: 'no free address', details: 'range 10.1.0.0/30' });
});

test('an unexpected exception becomes code 999 with its message, exit 1', async (t) => {
  const plugin = new RecordingPlugin();
  plugin.failWith = new TypeError('boom');
  const out = await run(plugin, { CNI_COMMAND: 'DEL', ...ATTACH_ENV }, conf());
  t.is(out.exitCode, 1);
  t.like(out.json, { code: 999, msg: 'boom' });
});

test('a plugin that cannot be loaded is reported as error JSON', async (t) => {
  const out = await runSkel('x', () => {
    throw new CniError(50, 'weft has no plugin named "x"');
  }, { env: { CNI_COMMAND: 'ADD', ...ATTACH_ENV }, stdin: conf() });
  t.is(out.exitCode, 1);
  t.like(JSON.parse(out.stdout), { code: 50 });
});
