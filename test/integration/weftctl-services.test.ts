/**
 * `weftctl services` against the agents of a 2-node lab, on each backend: every service port
 * with its frontends, its endpoints (pods, nodes, conditions) and the Services that cannot be
 * fully proxied; an endpoint whose kernel object is deleted behind the agent's back is shown
 * missing (the answer reads the kernel, not the agent's memory); bad input and an agent that
 * is not there are one line `weftctl: ...` and exit code 1.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { ServicePortMessage, ServicesResponseMessage } from '../../agent/api/messages';
import { splitWords } from '../../kernel/iptables';
import { WHOAMI_PORT } from '../../lab/cluster/pod-server';
import { eventually } from '../helpers/agent-process';
import { tempDir } from '../helpers/tmp';
import { inspectLab } from './inspect-lab';
import { weftctl, weftctlOk } from './lab-fixture';

const port = (r: ServicesResponseMessage, service: string, portName: string): ServicePortMessage => {
  const found = r.ports.find((p) => p.service === service && p.portName === portName);
  if (!found) throw new Error(`no port ${service} ${portName} in ${JSON.stringify(r.ports.map((p) => `${p.service} ${p.portName}`))}`);
  return found;
};

for (const backend of ['nftables', 'iptables'] as const) {
  test(`${backend}: services lists frontends, endpoints and problems, and shows an endpoint deleted behind the agent's back as missing`, async (t) => {
    const lab = await inspectLab(t, backend, 'svc');
    const all = await lab.services();
    t.is(all.nodeName, 'node-0');
    t.is(all.backend, backend);
    const who = port(all, 'default/who', 'who');
    t.deepEqual(
      who.frontends.map((f) => `${f.kind} ${f.address}:${f.port} ${f.inKernel}`),
      [`cluster IP ${who.frontends[0].address}:80 true`, 'external IP 198.51.100.7:80 true', `node port :${who.frontends[2].port} true`],
    );
    // Every pod of the lab serves it, this node's marked local, each named by its slice.
    t.deepEqual(
      who.clusterEndpoints.map((e) => `${e.pod} ${e.address}:${e.port} ${e.local ? 'local' : 'other'} ${e.condition} ${e.inKernel}`).sort(),
      ['pod-0-0', 'pod-0-1', 'pod-1-0', 'pod-1-1'].map((n) => `default/${n} ${lab.pod(n).ips[0]}:${WHOAMI_PORT} ${n.startsWith('pod-0') ? 'local' : 'other'} ready true`).sort(),
    );
    t.deepEqual(who.externalEndpoints.map((e) => e.address), who.clusterEndpoints.map((e) => e.address), 'externalTrafficPolicy Cluster: the same endpoints');
    t.is(port(all, 'default/who', 'udp').protocol, 'UDP');
    const sticky = port(all, 'default/sticky', 'who');
    t.deepEqual(sticky.notes, ['externalTrafficPolicy: Local', 'sessionAffinity: ClientIP (10800 s)']);
    t.deepEqual(sticky.externalEndpoints.map((e) => e.pod).sort(), ['default/pod-0-0', 'default/pod-0-1'], 'externalTrafficPolicy Local: the local endpoints');
    const nothing = port(all, 'default/nothing', 'who');
    t.false(nothing.anyEndpoints);
    t.true(nothing.inKernel, 'its frontend is in the kernel (refusing connections)');
    t.deepEqual(all.problems, [{ object: 'default/who', reason: 'spec.externalIPs[0]: Invalid value "not-an-ip": must be a valid IP address' }]);
    t.deepEqual((await lab.services('-n', 'kube-system')).ports, []);

    // pod-1-1's endpoint of default/who port who leaves the kernel behind the agent's back
    // (its periodic resync puts it back within a minute: deleted again if it did).
    const gone = lab.pod('pod-1-1').ips[0];
    const missing = await eventually('the deleted endpoint to be shown missing', async () => {
      if (backend === 'nftables') {
        const index = who.clusterEndpoints.findIndex((e) => e.address === gone);
        await lab.kernel('nft', ['delete', 'element', 'inet', 'weft', 'endpoints-v4-tcp', `{ ${who.frontends[0].address} . 80 . ${index} }`]).catch(() => undefined);
      } else {
        const rule = (await lab.kernel('iptables-save', ['-t', 'nat'])).split('\n').find((l) => l.includes(`--comment "default/who:who: to endpoint ${gone}:${WHOAMI_PORT}"`));
        if (rule) await lab.kernel('iptables', ['-t', 'nat', '-D', ...splitWords(rule.slice('-A '.length))]).catch(() => undefined);
      }
      const r = await lab.services('-n', 'default');
      return port(r, 'default/who', 'who').inKernel ? undefined : r;
    }, 30_000);
    const after = port(missing, 'default/who', 'who');
    t.deepEqual(after.clusterEndpoints.filter((e) => !e.inKernel).map((e) => e.address), [gone]);
    t.true(after.frontends.every((f) => f.inKernel));
    t.true(port(missing, 'default/who', 'udp').inKernel, 'the other ports are untouched');
    t.true(port(missing, 'default/sticky', 'who').inKernel);
    const text = await weftctlOk(t, lab.root, ['services', '--lab', lab.lab, '-n', 'default']);
    t.regex(text, /^node node-0 \((nftables|iptables)\): 4 service ports in namespace default, 3 of them in the kernel; node ports on /);
    t.regex(text, new RegExp(`default/who port who 80/TCP IPv4: NOT fully in the kernel\\n(.*\\n)*  ${gone.replace(/\./g, '\\.')}:${WHOAMI_PORT} +default/pod-1-1 +other +ready +all +MISSING( \\(cluster IP\\))?\\n`));
    t.regex(text, /Not fully proxied:\nOBJECT +PROBLEM\ndefault\/who +spec\.externalIPs\[0\]/);
  });
}

test('services: bad input and unreachable agents are one line `weftctl: ...` and exit code 1', async (t) => {
  const dir = tempDir(t, 'svc-bad');
  const fails = async (args: string[], message: RegExp) => {
    const r = await weftctl(dir, args);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, message);
    t.is(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  };
  await fails(['services', '--socket', path.join(dir, 'none.sock')], /^weftctl: no agent socket at \S+\/none\.sock \(is weft-agent running\? --socket PATH\)\n$/);
  const stale = path.join(dir, 'stale.sock');
  fs.writeFileSync(stale, '');
  await fails(['services', '--socket', stale], /^weftctl: nothing answers on \S+\/stale\.sock \(ECONNREFUSED\)/);
  await fails(['services', '--lab', 'no-such-lab'], /^weftctl: .*no-such-lab/);
  await fails(['services', '-o', 'xml'], /^weftctl: Invalid values: Argument: output, Given: "xml", Choices: "table", "json", "yaml" \(weftctl --help\)\n$/);
});
