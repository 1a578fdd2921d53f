/**
 * weftctl's debugging tools over ClusterNetworkPolicy, against the agents of a 2-node lab, on
 * each backend, with real traffic: an Admin policy guards pod-0-1 (node-0: TCP 80 from pod-1-0
 * accepted, everything from pod-1-1 denied) and a Baseline policy keeps pod-0-0 (node-0) from
 * sending UDP 81 to pod-1-1. `rules --pod` shows the tier's subjects and verdict elements in
 * Kubernetes words (policy, priority, rule, action, peers) with counters that grow with the
 * connections they decide; `policy drops` names each tier drop with its tier, policy and rule;
 * `policy counters` sums the tier elements per ClusterNetworkPolicy (nftables; iptables does not
 * count per policy and says so).
 */
import test from 'ava';
import type { KernelEntryMessage, PolicyCounterMessage, PolicyDropMessage, RulesResponseMessage } from '../../agent/api/messages';
import { probeFromPod } from '../../lab/cluster/probe';
import { eventually } from '../helpers/agent-process';
import { clusterPolicy } from '../helpers/cluster-policy-model';
import { countedPackets as packets, inspectLab } from './inspect-lab';
import { weftctl } from './lab-fixture';

const podsNamed = (name: string) => ({ pods: { namespaceSelector: {}, podSelector: { matchLabels: { name } } } });

const GUARD = clusterPolicy('guard-pod-0-1', 'Admin', 10, {
  subject: podsNamed('pod-0-1'),
  ingress: [
    { name: 'web-from-pod-1-0', action: 'Accept', from: [podsNamed('pod-1-0')], protocols: [{ tcp: { destinationPort: { number: 80 } } }] },
    { name: 'not-pod-1-1', action: 'Deny', from: [podsNamed('pod-1-1')] },
  ],
});
const QUIET = clusterPolicy('quiet-pod-0-0', 'Baseline', 5, {
  subject: podsNamed('pod-0-0'),
  egress: [{ name: 'no-udp-81-to-pod-1-1', action: 'Deny', to: [podsNamed('pod-1-1')], protocols: [{ udp: { destinationPort: { number: 81 } } }] }],
});

const ACCEPT_RULE = 'Admin priority 10 guard-pod-0-1 ingress rule 1 (web-from-pod-1-0): Accept';
const DENY_RULE = 'Admin priority 10 guard-pod-0-1 ingress rule 2 (not-pod-1-1): Deny';
const BASELINE_RULE = 'Baseline priority 5 quiet-pod-0-0 egress rule 1 (no-udp-81-to-pod-1-1): Deny';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const flow = (d: PolicyDropMessage) => `${d.tier} ${d.direction} ${d.protocol} ${d.sourcePod} -> ${d.destinationPod}:${d.destinationPort} ${d.clusterPolicy}: ${d.rule}`;

for (const backend of ['nftables', 'iptables'] as const) {
  test(`${backend}: ClusterNetworkPolicy tiers in rules --pod (with counters), policy drops and policy counters, with real traffic`, async (t) => {
    t.timeout(300_000);
    const lab = await inspectLab(t, backend, 'cnp');
    const [server, allowed, denied, client] = ['pod-0-1', 'pod-1-0', 'pod-1-1', 'pod-0-0'].map((n) => lab.pod(n));
    await lab.apply('cluster-policies.yaml', [GUARD, QUIET]);
    await eventually('the tiers to be in force', async () => {
      const [tcp] = await probeFromPod(denied, server.ips[0], 80, 'TCP', 1, 500);
      const [udp] = await probeFromPod(client, denied.ips[0], 81, 'UDP', 1, 500);
      return 'error' in tcp && 'error' in udp ? true : undefined;
    }, 30_000);
    const rules = async (pod: string) => (JSON.parse(await lab.ask('rules', '-o', 'json', '--pod', pod)) as RulesResponseMessage).objects[0].entries;

    // What the kernel has for pod-0-1, in words: subject of the Admin tier, its accept and deny.
    const ip = server.ips[0];
    const subject = backend === 'nftables' ? (e: KernelEntryMessage) => e.location === 'set cnp-admin-in-subjects-v4' && e.text === ip : (e: KernelEntryMessage) => e.location === 'ipset weft-ai-sub4' && e.text === ip;
    const accept =
      backend === 'nftables'
        ? (e: KernelEntryMessage) => /^map cnp-admin-in-c[0-9a-f]{10}-ports-v4$/.test(e.location) && e.text === `${ip} . tcp . 80 : accept`
        : (e: KernelEntryMessage) => e.location === 'iptables filter WEFT-ADMIN-INGRESS' && e.text.includes('--match-set weft-ai-acc4 ');
    const deny =
      backend === 'nftables'
        ? (e: KernelEntryMessage) => /^map cnp-admin-in-c[0-9a-f]{10}-other-v4$/.test(e.location) && e.text === `${ip} : goto cnp-admin-in-drop`
        : (e: KernelEntryMessage) => /^iptables filter WEFT-AI-[0-9a-f]{8}$/.test(e.location) && e.text.includes('-j WEFT-ADMIN-INGRESS-DROP');
    const before = await rules('default/pod-0-1');
    t.regex(before.find(subject)?.meaning ?? '', /^default\/pod-0-1 is a subject (of the Admin tier for ingress|the Admin tier decides ingress for): guard-pod-0-1 \(priority 10\)$/);
    const peerOf = (pod: typeof allowed) => `${escape(pod.ips[0])} \\(default/${pod.name}\\)`;
    const acceptWords =
      backend === 'nftables'
        ? new RegExp(`^${escape(ACCEPT_RULE)} ingress of default/pod-0-1 from source class [0-9a-f]{10} \\(${peerOf(allowed)}\\) on TCP 80$`)
        : new RegExp(`^${escape(ACCEPT_RULE)} ingress of default/pod-0-1 from ${peerOf(allowed)} on TCP 80$`);
    const acceptElement = backend === 'nftables' ? before.find(accept) : before.find((e) => e.location === 'ipset weft-ai-acc4' && e.text.startsWith(`${ip},tcp:80,`));
    t.regex(acceptElement?.meaning ?? '', acceptWords, JSON.stringify(before.map((e) => `${e.location} ${e.text}: ${e.meaning}`), null, 1));
    const denyWords = new RegExp(`^${escape(DENY_RULE)} ingress of default/pod-0-1 from ${backend === 'nftables' ? `source class [0-9a-f]{10} \\(${peerOf(denied)}\\)` : peerOf(denied)} on every other port and protocol$`);
    t.regex(before.find(deny)?.meaning ?? '', denyWords);
    t.true(before.some((e) => e.shared && (backend === 'nftables' ? e.location === 'chain cnp-admin-in-drop' && e.text.includes('log prefix "weft-drop admin ingress"') : e.location === 'iptables filter WEFT-ADMIN-INGRESS-DROP' && e.text.includes('--nflog-prefix "weft-drop admin ingress"'))), 'the drop chain it is sent to');
    // pod-0-0's Baseline element.
    const quiet = (await rules('default/pod-0-0')).find((e) => e.meaning.startsWith(`${BASELINE_RULE} egress of default/pod-0-0 to `));
    t.truthy(quiet, 'the Baseline tier denies pod-0-0 UDP 81 to pod-1-1');
    t.true(quiet!.meaning.endsWith(' on UDP 81') && quiet!.meaning.includes(`${denied.ips[0]} (default/pod-1-1)`), quiet!.meaning);

    // Real traffic: 5 connections the Admin tier accepts, 3 it denies, 2 datagrams Baseline denies.
    const acceptedBefore = packets(before, accept, 'accept');
    const deniedBefore = packets(before, deny, 'deny');
    t.is((await probeFromPod(allowed, ip, 80, 'TCP', 5, 2000)).filter((a) => 'answer' in a).length, 5, 'pod-1-0 connects');
    t.is((await probeFromPod(denied, ip, 80, 'TCP', 3, 500)).filter((a) => 'answer' in a).length, 0, 'pod-1-1 does not');
    t.is((await probeFromPod(client, denied.ips[0], 81, 'UDP', 2, 500)).filter((a) => 'answer' in a).length, 0, 'pod-0-0 gets no UDP 81 to pod-1-1');
    t.true((await probeFromPod(client, allowed.ips[0], 81, 'UDP', 2, 2000)).some((a) => 'answer' in a), 'pod-0-0 has UDP 81 to pod-1-0');
    const after = await rules('default/pod-0-1');
    t.true(packets(after, accept, 'accept') >= acceptedBefore + 5, 'each accepted connection is counted');
    t.true(packets(after, deny, 'deny') >= deniedBefore + 3, 'each denied attempt is counted');

    // The drops name the tier, the policy and the rule.
    const wanted = [
      `Admin ingress TCP default/pod-1-1 -> default/pod-0-1:80 guard-pod-0-1: ${DENY_RULE}`,
      `Baseline egress UDP default/pod-0-0 -> default/pod-1-1:81 quiet-pod-0-0: ${BASELINE_RULE}`,
    ];
    const drops = await eventually('the tier drops to be logged', async () => {
      const listed = JSON.parse(await lab.ask('policy', 'drops', '-o', 'json')) as PolicyDropMessage[];
      const seen = new Set(listed.map(flow));
      return wanted.every((w) => seen.has(w)) ? listed : undefined;
    }, 20_000);
    t.false(drops.some((d) => d.sourcePod === 'default/pod-1-0'), 'accepted connections are not drops');
    t.like(drops.find((d) => flow(d) === wanted[0]), { pod: 'default/pod-0-1', source: denied.ips[0], destination: ip, policies: [], tcpFlags: 'SYN' });
    const ofPod = JSON.parse(await lab.ask('policy', 'drops', '--pod', 'default/pod-0-0', '-o', 'json')) as PolicyDropMessage[];
    t.deepEqual([...new Set(ofPod.map(flow))], [wanted[1]]);
    // For people: the DENIED BY column names the rule.
    const table = await lab.ask('policy', 'drops', '--pod', 'default/pod-0-0');
    t.regex(table, /PACKETS +DENIED BY\n/);
    t.true(table.includes(BASELINE_RULE), table);

    // Per-policy counters: nftables sums the tier elements per ClusterNetworkPolicy.
    const counters = await weftctl(lab.root, ['policy', 'counters', '--lab', lab.lab, '-o', 'json']);
    if (backend === 'nftables') {
      t.is(counters.code, 0, counters.stderr);
      const byPolicy = new Map((JSON.parse(counters.stdout) as PolicyCounterMessage[]).map((c) => [`${c.policy} ${c.direction}`, c]));
      const guard = byPolicy.get('ClusterNetworkPolicy/guard-pod-0-1 ingress');
      t.true(guard !== undefined && guard.allowedPackets >= 5 && guard.droppedPackets >= 3, JSON.stringify(guard));
      const baseline = byPolicy.get('ClusterNetworkPolicy/quiet-pod-0-0 egress');
      t.true(baseline !== undefined && baseline.allowedPackets === 0 && baseline.droppedPackets >= 2, JSON.stringify(baseline));
    } else {
      t.is(counters.code, 1);
      t.regex(counters.stderr, /does not count per policy/);
    }
  });
}
