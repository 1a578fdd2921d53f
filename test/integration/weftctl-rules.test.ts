/**
 * `weftctl rules` against the agents of a 2-node lab, on each backend: the kernel objects of a
 * Service and of a pod isolated by a NetworkPolicy, read from the kernel, with counters that grow
 * by the real connections made to them (through the Service's cluster IP; allowed and denied
 * connections to the pod); bad input is one line `weftctl: ...` and exit code 1.
 */
import test from 'ava';
import type { KernelEntryMessage, RulesResponseMessage } from '../../agent/api/messages';
import { probeFromPod } from '../../lab/cluster/probe';
import { eventually } from '../helpers/agent-process';
import { countedPackets as packets, inspectLab, ISOLATE_POD_0_1 } from './inspect-lab';
import { weftctl } from './lab-fixture';

for (const backend of ['nftables', 'iptables'] as const) {
  test(`${backend}: rules of a Service and of an isolated pod, with counters that grow with real traffic`, async (t) => {
    const lab = await inspectLab(t, backend, 'rul');
    await lab.apply('policy.yaml', [ISOLATE_POD_0_1]);
    const rules = async (...args: string[]) => JSON.parse(await lab.ask('rules', '-o', 'json', ...args)) as RulesResponseMessage;
    const server = lab.pod('pod-0-1');
    await eventually('the policy to isolate pod-0-1', async () => {
      const r = await rules('--pod', 'default/pod-0-1');
      return r.objects[0].entries.some((e) => /is isolated for ingress by default\/pod-0-1-from-pod-1-0$/.test(e.meaning)) ? r : undefined;
    }, 30_000);

    // The Service: frontend objects (nftables: map elements with counters; iptables: rules).
    const before = await rules('--service', 'default/who');
    t.is(before.backend, backend);
    const svc = before.objects[0];
    t.like(svc, { kind: 'service', name: 'default/who', addresses: [] });
    t.false(svc.entries.some((e) => e.missing));
    const clusterIp = (await lab.services()).ports.find((p) => p.service === 'default/who' && p.portName === 'who')!.frontends[0].address;
    const frontend = (e: KernelEntryMessage) =>
      backend === 'nftables' ? e.location === 'map service-ips-v4' && e.text.startsWith(`${clusterIp} . tcp . 80 :`) : e.location === 'nat WEFT-SERVICES' && e.text.includes(`-d ${clusterIp}/32 -p tcp`);
    t.regex(svc.entries.find(frontend)?.meaning ?? '', new RegExp(`^default/who port who 80/TCP: cluster IP ${clusterIp.replace(/\./g, '\\.')}:80 -> (one of 4 endpoints|WEFT-SVC-[0-9a-f]{12})$`));
    const endpoint = (e: KernelEntryMessage) => /^default\/who port who 80\/TCP: cluster endpoint \d of 4, /.test(e.meaning) && (backend === 'nftables' || e.meaning.endsWith(': DNAT'));
    t.is(svc.entries.filter(endpoint).length, 4, 'one object per endpoint');
    // From a pod of node-0: its node translates the cluster IP.
    const answers = await probeFromPod(lab.pod('pod-0-0'), clusterIp, 80, 'TCP', 12, 2000);
    t.true(answers.filter((a) => 'answer' in a).length >= 8, JSON.stringify(answers));
    const after = await rules('--service', 'default/who');
    t.true(packets(after.objects[0].entries, frontend, 'frontend') >= packets(svc.entries, frontend, 'frontend') + 12, 'every new connection to the cluster IP is counted');

    // The pod: its allowance (from pod-1-0 on TCP 80) and what is dropped at it.
    const pod = (await rules('--pod', 'default/pod-0-1')).objects[0];
    t.deepEqual(pod.addresses, server.ips);
    const allowance = (e: KernelEntryMessage) =>
      backend === 'nftables' ? /^set pol-in-c[0-9a-f]+-ports-v4$/.test(e.location) && e.text === `${server.ips[0]} . tcp . 80` : e.location === 'iptables filter WEFT-INGRESS' && e.text.includes('--match-set weft-i-clsp4');
    const dropped = (e: KernelEntryMessage) =>
      backend === 'nftables' ? e.location === 'set pol-in-dropped-v4' && e.text === server.ips[0] : e.location === 'iptables filter WEFT-INGRESS-DROP' && / -j DROP$/.test(e.text);
    const element = pod.entries.find((e) => e.location === (backend === 'nftables' ? 'set pol-in-isolated-v4' : 'ipset weft-i-iso4'));
    t.is(element?.text, server.ips[0]);
    t.true(pod.entries.some((e) => e.meaning.includes(`ingress of default/pod-0-1 from `) && e.meaning.includes('(default/pod-1-0)') && e.meaning.includes('allowed on TCP 80')), JSON.stringify(pod.entries.map((e) => e.meaning)));
    const allowedBefore = packets(pod.entries, allowance, 'allowance');
    const droppedBefore = packets(pod.entries, dropped, 'drop');
    const allowed = await probeFromPod(lab.pod('pod-1-0'), server.ips[0], 80, 'TCP', 5, 2000);
    t.is(allowed.filter((a) => 'answer' in a).length, 5, 'pod-1-0 connects');
    const denied = await probeFromPod(lab.pod('pod-1-1'), server.ips[0], 80, 'TCP', 3, 500);
    t.is(denied.filter((a) => 'answer' in a).length, 0, 'pod-1-1 does not');
    const podAfter = (await rules('--pod', 'default/pod-0-1')).objects[0];
    t.true(packets(podAfter.entries, allowance, 'allowance') >= allowedBefore + 5, 'each allowed connection is counted at its first packet');
    t.true(packets(podAfter.entries, dropped, 'drop') >= droppedBefore + 3, 'each denied attempt is counted');

    const text = await lab.ask('rules', '--pod', 'default/pod-0-1', '--service', 'default/who');
    t.regex(text, /^service default\/who on node-0 \((nftables, inet weft|iptables, raw,filter,nat WEFT-\*, ipset weft-\*)\): \d+ rules and elements\nWHERE +RULE OR ELEMENT +PACKETS +BYTES +MEANING\n/);
    t.regex(text, new RegExp(`\\n\\npod default/pod-0-1 \\(${server.ips[0].replace(/\./g, '\\.')}, [0-9a-f:]+\\) on node-0 `));
  });
}

test('rules: bad input is one line `weftctl: ...` and exit code 1', async (t) => {
  const lab = await inspectLab(t, 'nftables', 'rbad');
  const fails = async (args: string[], message: RegExp) => {
    const r = await weftctl(lab.root, [...args, '--lab', lab.lab]);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, message);
    t.is(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  };
  await fails(['rules'], /^weftctl: which object\? --pod NS\/POD or --service NS\/NAME \(weftctl --help\)\n$/);
  await fails(['rules', '--pod', 'default/nope'], /^weftctl: no pod default\/nope in the objects of the agent on node-0 \(pods in default: pod-0-0, pod-0-1, pod-1-0, pod-1-1\)\n$/);
  await fails(['rules', '--pod', 'nope'], /^weftctl: pod "nope": expected NAMESPACE\/NAME\n$/);
  await fails(['rules', '--service', 'default/nope'], /^weftctl: no Service default\/nope in the objects of the agent on node-0\n$/);
  await fails(['rules', '--service', 'default/pod-0-0', '--pod', 'default/pod-0-0'], /^weftctl: no Service default\/pod-0-0 /);
});
