/**
 * compileNodePolicy, feature by feature: what is isolated, which peer classes exist (their
 * CIDRs) and what each allows. Classes are shown by their CIDRs (keys are hashes; their
 * stability has a test of its own).
 */
import test from 'ava';
import type { DirectionPolicy, NodePolicy, PortRange } from '../../agent/dataplane/policy-state';
import type { KubeObject } from '../../agent/objects';
import { compileNodePolicy } from '../../policy/compile';
import type { ContainerPort, PolicyInput, PolicyNamespace, PolicyPod } from '../../policy/input';

const NODE = 'n1';

const ns = (name: string, labels: Record<string, string> = {}): PolicyNamespace => ({ name, labels: { 'kubernetes.io/metadata.name': name, ...labels } });

function pod(namespace: string, name: string, labels: Record<string, string> | null, ips: string[], extra: Partial<PolicyPod> = {}): PolicyPod {
  return { namespace, name, labels, ips, nodeName: NODE, containerPorts: [], ...extra };
}

const remote = (p: PolicyPod): PolicyPod => ({ ...p, nodeName: 'n2' });
const ports = (...list: [string, number, string?][]): ContainerPort[] => list.map(([name, containerPort, protocol]) => ({ name, containerPort, ...(protocol ? { protocol } : {}) }));

function np(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

function compile(input: Partial<PolicyInput>): NodePolicy {
  return compileNodePolicy({ namespaces: [], pods: [], policies: [], ...input }, NODE);
}

function portsText(p: 'all' | PortRange[]): string {
  return p === 'all' ? 'all' : p.map((r) => `${r.protocol}/${r.first === r.last ? r.first : `${r.first}-${r.last}`}`).join(',');
}

/** A direction in short: allowances as "ip: ports", classes as "cidrs => allowances", by first CIDR. */
function view(d: DirectionPolicy) {
  const allow = (list: DirectionPolicy['anyPeer']) => list.map((a) => `${a.localIp}: ${portsText(a.ports)}`);
  return {
    isolated: d.isolated,
    anyPeer: allow(d.anyPeer),
    classes: d.classes.map((c) => `${c.cidrs.join(' ')} => ${allow(c.allow).join('; ')}`).sort(),
  };
}

const OPEN = { isolated: [], anyPeer: [], classes: [] };

test('no policy: nothing isolated, both ways', (t) => {
  const p = compile({ namespaces: [ns('a')], pods: [pod('a', 'web', { app: 'web' }, ['10.0.0.1'])] });
  t.deepEqual(view(p.ingress), OPEN);
  t.deepEqual(view(p.egress), OPEN);
  t.deepEqual(p.problems, []);
});

test('a policy isolates the local pods it selects, for its policy types only; others stay open', (t) => {
  const p = compile({
    namespaces: [ns('a'), ns('b')],
    pods: [pod('a', 'web', { app: 'web' }, ['10.0.0.1']), pod('a', 'db', { app: 'db' }, ['10.0.0.2']), pod('b', 'web', { app: 'web' }, ['10.0.0.3']), remote(pod('a', 'web2', { app: 'web' }, ['10.0.1.1']))],
    policies: [np('a', 'deny-web', { podSelector: { matchLabels: { app: 'web' } } })],
  });
  t.deepEqual(view(p.ingress), { isolated: ['10.0.0.1'], anyPeer: [], classes: [] }, 'only local pods of the policy namespace, deny all');
  t.deepEqual(view(p.egress), OPEN, 'no egress section: Ingress only');
});

test('implied policyTypes: an egress rule makes it an Egress policy too; policyTypes given wins', (t) => {
  const pods = [pod('a', 'web', {}, ['10.0.0.1'])];
  const withEgress = compile({ pods, policies: [np('a', 'p', { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] })] });
  t.deepEqual(view(withEgress.ingress).isolated, ['10.0.0.1']);
  t.deepEqual(view(withEgress.egress), { isolated: ['10.0.0.1'], anyPeer: ['10.0.0.1: udp/53'], classes: [] });
  const egressOnly = compile({ pods, policies: [np('a', 'p', { podSelector: {}, policyTypes: ['Egress'] })] });
  t.deepEqual(view(egressOnly.ingress), OPEN);
  t.deepEqual(view(egressOnly.egress), { isolated: ['10.0.0.1'], anyPeer: [], classes: [] });
  const emptyEgress = compile({ pods, policies: [np('a', 'p', { podSelector: {}, egress: [] })] });
  t.deepEqual(view(emptyEgress.egress), OPEN, 'egress: [] implies nothing, as the API server defaults it');
});

test('ingress: [{}] allows everything; a rule with ports but no peers allows those ports from anyone', (t) => {
  const pods = [pod('a', 'web', {}, ['10.0.0.1'])];
  t.deepEqual(view(compile({ pods, policies: [np('a', 'p', { podSelector: {}, ingress: [{}] })] }).ingress), { isolated: ['10.0.0.1'], anyPeer: ['10.0.0.1: all'], classes: [] });
  t.deepEqual(view(compile({ pods, policies: [np('a', 'p', { podSelector: {}, ingress: [{ from: [], ports: [{ port: 80 }, { protocol: 'UDP' }] }] })] }).ingress), {
    isolated: ['10.0.0.1'],
    anyPeer: ['10.0.0.1: tcp/80,udp/0-65535'],
    classes: [],
  });
});

test('peers: podSelector only is the policy namespace; namespaceSelector only is every pod there; both is the intersection', (t) => {
  const input: Partial<PolicyInput> = {
    namespaces: [ns('a', { team: 'x' }), ns('b', { team: 'x' }), ns('c', { team: 'y' })],
    pods: [
      pod('a', 'target', { app: 'db' }, ['10.0.0.1']),
      remote(pod('a', 'web-a', { app: 'web' }, ['10.0.1.1'])),
      remote(pod('b', 'web-b', { app: 'web' }, ['10.0.1.2'])),
      remote(pod('b', 'other-b', { app: 'other' }, ['10.0.1.3'])),
      remote(pod('c', 'web-c', { app: 'web' }, ['10.0.1.4'])),
    ],
  };
  const only = (peer: Record<string, unknown>) => view(compile({ ...input, policies: [np('a', 'p', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [peer] }] })] }).ingress).classes;
  t.deepEqual(only({ podSelector: { matchLabels: { app: 'web' } } }), ['10.0.1.1/32 => 10.0.0.1: all']);
  t.deepEqual(only({ podSelector: {} }), ['10.0.0.1/32 10.0.1.1/32 => 10.0.0.1: all'], 'every pod of the policy namespace, itself included');
  t.deepEqual(only({ namespaceSelector: { matchLabels: { team: 'x' } } }), ['10.0.0.1/32 10.0.1.1/32 10.0.1.2/31 => 10.0.0.1: all'], '10.0.1.2 and 10.0.1.3 merge into one CIDR');
  t.deepEqual(only({ namespaceSelector: { matchLabels: { team: 'x' } }, podSelector: { matchLabels: { app: 'web' } } }), ['10.0.1.1/32 10.0.1.2/32 => 10.0.0.1: all']);
  t.deepEqual(only({ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }), ['10.0.1.1/32 10.0.1.2/32 10.0.1.4/32 => 10.0.0.1: all'], 'empty namespaceSelector: every namespace');
  t.deepEqual(only({ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['x'] }] } }), ['10.0.1.4/32 => 10.0.0.1: all']);
  t.deepEqual(only({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } } }), ['10.0.1.2/31 => 10.0.0.1: all']);
});

test('namespaces: labels from the Namespace objects only; a namespace without one matches only the empty selector', (t) => {
  const pods = [pod('a', 'target', {}, ['10.0.0.1']), remote(pod('ghost', 'p', {}, ['10.0.1.1'])), remote(pod('bare', 'p', {}, ['10.0.1.2']))];
  const namespaces: PolicyNamespace[] = [{ name: 'a', labels: {} }, { name: 'bare', labels: {} }];
  const only = (namespaceSelector: Record<string, unknown>) =>
    view(compile({ namespaces, pods, policies: [np('a', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector }] }] })] }).ingress).classes;
  t.deepEqual(only({}), ['10.0.0.1/32 10.0.1.1/32 10.0.1.2/32 => 10.0.0.1: all'], 'adjacent but not on a /31 boundary: two CIDRs');
  t.deepEqual(only({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }), ['10.0.0.1/32 10.0.1.2/32 => 10.0.0.1: all'], '"ghost" has no object: its labels are unknown');
  t.deepEqual(only({ matchLabels: { 'kubernetes.io/metadata.name': 'bare' } }), [], 'the name label is not invented where the object lacks it');
});

test('ipBlock with excepts: the cidr minus the excepts, as few CIDRs as possible; IPv6 alike', (t) => {
  const p = compile({
    pods: [pod('a', 'web', {}, ['10.0.0.1', 'fd00::1'])],
    policies: [np('a', 'p', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24', '192.168.128.0/17'] } }, { ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8::/48'] } }], ports: [{ port: 443 }] }] })],
  });
  t.deepEqual(view(p.ingress).classes, [
    '192.168.0.0/24 192.168.2.0/23 192.168.4.0/22 192.168.8.0/21 192.168.16.0/20 192.168.32.0/19 192.168.64.0/18 => 10.0.0.1: tcp/443',
    '2001:db8:1::/48 2001:db8:2::/47 2001:db8:4::/46 2001:db8:8::/45 2001:db8:10::/44 2001:db8:20::/43 2001:db8:40::/42 2001:db8:80::/41 2001:db8:100::/40 2001:db8:200::/39 2001:db8:400::/38 2001:db8:800::/37 2001:db8:1000::/36 2001:db8:2000::/35 2001:db8:4000::/34 2001:db8:8000::/33 => fd00::1: tcp/443',
  ], 'each class allows only the local address of its own family');
});

test('partition: pod addresses inside ipBlocks cut them into disjoint pieces, one class per set of matching peers', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [pod('a', 'target', { app: 'db' }, ['10.0.0.1']), remote(pod('a', 'web', { app: 'web' }, ['10.0.0.6'])), remote(pod('a', 'other', { app: 'other' }, ['10.0.0.9']))],
    policies: [
      np('a', 'p', {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [
          { from: [{ ipBlock: { cidr: '10.0.0.0/28', except: ['10.0.0.8/30'] } }], ports: [{ port: 80 }] },
          { from: [{ ipBlock: { cidr: '10.0.0.4/30' } }], ports: [{ port: 81 }] },
          { from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 82 }] },
        ],
      }),
    ],
  });
  t.deepEqual(view(p.ingress).classes, [
    '10.0.0.0/30 10.0.0.12/30 => 10.0.0.1: tcp/80', // the /28 alone
    '10.0.0.4/31 10.0.0.7/32 => 10.0.0.1: tcp/80-81', // the /28 and the /30
    '10.0.0.6/32 => 10.0.0.1: tcp/80-82', // both blocks and the pod peer
  ], '10.0.0.8/30 (with the other pod) is excepted: in no class');
  const all = p.ingress.classes.flatMap((c) => c.cidrs);
  t.is(new Set(all).size, all.length);
});

test('ipBlock matches pod addresses too, whatever the pod (hostNetwork and finished pods only that way)', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [
      pod('a', 'target', {}, ['10.0.0.1']),
      remote(pod('a', 'host', {}, ['192.168.0.2'], { hostNetwork: true })),
      remote(pod('a', 'done', {}, ['10.0.0.7'], { phase: 'Succeeded' })),
      remote(pod('a', 'peer', {}, ['10.0.0.5'])),
    ],
    policies: [np('a', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 1 }] }, { from: [{ ipBlock: { cidr: '10.0.0.4/30' } }], ports: [{ port: 2 }] }] })],
  });
  t.deepEqual(view(p.ingress).classes, ['10.0.0.1/32 => 10.0.0.1: tcp/1', '10.0.0.4/32 10.0.0.6/31 => 10.0.0.1: tcp/2', '10.0.0.5/32 => 10.0.0.1: tcp/1-2'], 'the hostNetwork and finished pods are not pod peers');
});

test('hostNetwork and finished local pods are not isolated, nor selected', (t) => {
  const p = compile({
    pods: [pod('a', 'host', {}, ['192.168.0.1'], { hostNetwork: true }), pod('a', 'done', {}, ['10.0.0.2'], { phase: 'Failed' }), pod('a', 'run', {}, ['10.0.0.3'], { phase: 'Running' })],
    policies: [np('a', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
  });
  t.deepEqual(p.ingress.isolated, ['10.0.0.3']);
  t.deepEqual(p.egress.isolated, ['10.0.0.3']);
});

test('local pods without a Pod object: isolated both ways with nothing allowed, and no pod peer', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [pod('a', 'known', {}, ['10.0.0.1']), pod('a', 'new', null, ['10.0.0.2', 'fd00::2']), remote(pod('a', 'far', {}, ['10.0.1.1']))],
    policies: [np('a', 'all', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }], egress: [{}] })],
  });
  t.deepEqual(view(p.ingress), { isolated: ['10.0.0.1', '10.0.0.2', 'fd00::2'], anyPeer: [], classes: ['10.0.0.1/32 10.0.1.1/32 => 10.0.0.1: all'] });
  t.deepEqual(view(p.egress), { isolated: ['10.0.0.1', '10.0.0.2', 'fd00::2'], anyPeer: ['10.0.0.1: all'], classes: [] });
  t.deepEqual(view(compile({ pods: [pod('a', 'new', null, ['10.0.0.2'])] }).egress), { isolated: ['10.0.0.2'], anyPeer: [], classes: [] }, 'even with no policy at all');
});

test('named ports on ingress resolve on each local pod: one name, different numbers, or none', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [
      pod('a', 'x', { app: 'web' }, ['10.0.0.1'], { containerPorts: ports(['http', 8080], ['dns', 53, 'UDP']) }),
      pod('a', 'y', { app: 'web' }, ['10.0.0.2'], { containerPorts: ports(['http', 80]) }),
      pod('a', 'z', { app: 'web' }, ['10.0.0.3'], { containerPorts: ports(['web', 80]) }),
    ],
    policies: [np('a', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }, { port: 'dns', protocol: 'UDP' }, { port: 'dns' }] }] })],
  });
  t.deepEqual(view(p.ingress), { isolated: ['10.0.0.1', '10.0.0.2', '10.0.0.3'], anyPeer: ['10.0.0.1: tcp/8080,udp/53', '10.0.0.2: tcp/80'], classes: [] }, 'dns/TCP is not dns/UDP; z has no "http": nothing');
});

test('named ports on egress resolve on the destination: pods alike but for the port number get classes of their own', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [
      pod('a', 'client', { app: 'client' }, ['10.0.0.1']),
      remote(pod('a', 'api-1', { app: 'api' }, ['10.0.1.1'], { containerPorts: ports(['http', 8080]) })),
      remote(pod('a', 'api-2', { app: 'api' }, ['10.0.1.2'], { containerPorts: ports(['http', 8080]) })),
      remote(pod('a', 'api-3', { app: 'api' }, ['10.0.1.3'], { containerPorts: ports(['http', 9000]) })),
      remote(pod('a', 'api-4', { app: 'api' }, ['10.0.1.4'])),
    ],
    policies: [np('a', 'p', { podSelector: { matchLabels: { app: 'client' } }, egress: [{ to: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }, { port: 443 }] }] })],
  });
  t.deepEqual(view(p.egress).classes, ['10.0.1.1/32 10.0.1.2/32 => 10.0.0.1: tcp/443,tcp/8080', '10.0.1.3/32 => 10.0.0.1: tcp/443,tcp/9000', '10.0.1.4/32 => 10.0.0.1: tcp/443']);
  // (10.0.1.1 and 10.0.1.2 are adjacent but not aligned on a /31: two CIDRs)
});

test('named ports on egress to any destination: per destination through classes, numeric ports in anyPeer', (t) => {
  const p = compile({
    namespaces: [ns('a'), ns('b')],
    pods: [
      pod('a', 'client', {}, ['10.0.0.1']),
      remote(pod('b', 's1', {}, ['10.0.1.1'], { containerPorts: ports(['http', 8080]) })),
      remote(pod('b', 's2', {}, ['10.0.1.2'], { containerPorts: ports(['metrics', 9090]) })),
    ],
    policies: [np('a', 'p', { podSelector: {}, egress: [{ ports: [{ port: 'http' }, { port: 53, protocol: 'UDP' }] }] })],
  });
  t.deepEqual(view(p.egress), { isolated: ['10.0.0.1'], anyPeer: ['10.0.0.1: udp/53'], classes: ['10.0.1.1/32 => 10.0.0.1: tcp/8080'] });
});

test('endPort ranges; ranges of several rules and policies merged per protocol; "all" absorbs', (t) => {
  const pods = [pod('a', 'web', {}, ['10.0.0.1'])];
  const merged = compile({
    pods,
    policies: [
      np('a', 'p1', { podSelector: {}, ingress: [{ ports: [{ port: 8000, endPort: 8100 }, { port: 8101 }, { port: 53, protocol: 'UDP' }] }] }),
      np('a', 'p2', { podSelector: {}, ingress: [{ ports: [{ port: 8050, endPort: 8200 }, { port: 80 }, { port: 54, protocol: 'UDP' }, { port: 1, protocol: 'SCTP' }] }] }),
    ],
  });
  t.deepEqual(view(merged.ingress).anyPeer, ['10.0.0.1: tcp/80,tcp/8000-8200,udp/53-54,sctp/1']);
  t.deepEqual(merged.ingress.anyPeer[0].policies, ['a/p1', 'a/p2'], 'both policies contribute, sorted');
  const absorbed = compile({ pods, policies: [np('a', 'p1', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }), np('a', 'p2', { podSelector: {}, ingress: [{}] })] });
  t.deepEqual(absorbed.ingress.anyPeer, [{ localIp: '10.0.0.1', ports: 'all', policies: ['a/p1', 'a/p2'] }]);
});

test('policies add up: a pod selected by several gets the union, each class names its policies', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [pod('a', 'db', { app: 'db', tier: 'be' }, ['10.0.0.1']), remote(pod('a', 'web', { app: 'web' }, ['10.0.0.2']))],
    policies: [
      np('a', 'by-app', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }] }),
      np('a', 'by-tier', { podSelector: { matchLabels: { tier: 'be' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 9090 }] }] }),
      np('a', 'deny', { podSelector: {} }),
    ],
  });
  t.deepEqual(p.ingress.classes.map((c) => ({ cidrs: c.cidrs, allow: c.allow })), [
    { cidrs: ['10.0.0.2/32'], allow: [{ localIp: '10.0.0.1', ports: [{ protocol: 'tcp', first: 5432, last: 5432 }, { protocol: 'tcp', first: 9090, last: 9090 }], policies: ['a/by-app', 'a/by-tier'] }] },
  ]);
});

test('IPv6 and dual stack: every address of a pod, per family', (t) => {
  const p = compile({
    namespaces: [ns('a')],
    pods: [pod('a', 'x', {}, ['10.0.0.1', 'FD00::0001']), remote(pod('a', 'y', { app: 'web' }, ['10.0.1.1', 'fd00::1:1']))],
    policies: [np('a', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }, { from: [{ ipBlock: { cidr: 'fd00::/112' } }], ports: [{ port: 22 }] }] })],
  });
  t.deepEqual(view(p.ingress), {
    isolated: ['10.0.0.1', 'fd00::1'],
    anyPeer: [],
    classes: ['10.0.1.1/32 fd00::1:1/128 => 10.0.0.1: all; fd00::1: all', 'fd00::/112 => fd00::1: tcp/22'],
  });
});

test('invalid policies are reported and skipped; the valid ones are enforced', (t) => {
  const p = compile({
    pods: [pod('a', 'web', {}, ['10.0.0.1'])],
    policies: [
      np('a', 'good', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }),
      np('a', 'bad-except', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/24', except: ['10.1.0.0/24'] } }] }] }),
      np('a', 'bad-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 90, endPort: 80 }] }] }),
    ],
  });
  t.deepEqual(view(p.ingress), { isolated: ['10.0.0.1'], anyPeer: ['10.0.0.1: tcp/80'], classes: [] });
  t.deepEqual(view(p.egress), OPEN, 'the invalid egress policy isolates nothing');
  t.deepEqual(p.problems.map((x) => x.policy), ['a/bad-egress', 'a/bad-except']);
  t.regex(p.problems[1].reason, /strict subset/);
});

test('peers of policies that select no local pod are left out', (t) => {
  const base: Partial<PolicyInput> = {
    namespaces: [ns('a'), ns('b')],
    pods: [pod('a', 'web', {}, ['10.0.0.1']), remote(pod('b', 'far', { app: 'x' }, ['10.0.1.1']))],
    policies: [np('a', 'p', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] })],
  };
  const withRemote = compile({ ...base, policies: [...base.policies!, np('b', 'q', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/24' } }] }] })] });
  t.deepEqual(withRemote, compile(base));
});

test('class keys: stable across unrelated changes, the same for the same meaning, new for a new meaning', (t) => {
  const namespaces = [ns('a'), ns('b')];
  const pods = [pod('a', 'web', { app: 'web' }, ['10.0.0.1']), remote(pod('a', 'api', { app: 'api' }, ['10.0.1.1'], { containerPorts: ports(['http', 80]) }))];
  const policies = [np('a', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }, { ipBlock: { cidr: '192.168.0.0/24' } }] }], egress: [{ to: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] }] })];
  const keys = (p: NodePolicy) => ({ ingress: p.ingress.classes.map((c) => c.key), egress: p.egress.classes.map((c) => c.key) });
  const before = keys(compile({ namespaces, pods, policies }));
  t.is(before.ingress.length, 2);
  t.is(before.egress.length, 1);
  for (const k of [...before.ingress, ...before.egress]) t.regex(k, /^[0-9a-f]{16}$/);
  // Unrelated: another namespace's pods and policies, a pod no peer matches, the same peer in another policy.
  const after = keys(
    compile({
      namespaces: [...namespaces, ns('c')],
      pods: [...pods, remote(pod('c', 'x', { app: 'api' }, ['10.0.2.1'])), remote(pod('a', 'db', { app: 'db' }, ['10.0.1.9']))],
      policies: [...policies, np('c', 'other', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '172.16.0.0/12' } }] }] }), np('a', 'same-peer', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 1 }] }] })],
    }),
  );
  t.deepEqual(after, before);
  // A class that means something else gets another key; so does the same peer set in the other direction.
  const renumbered = keys(compile({ namespaces, pods: [pods[0], { ...pods[1], containerPorts: ports(['http', 81]) }], policies }));
  t.deepEqual(renumbered.ingress, before.ingress);
  t.notDeepEqual(renumbered.egress, before.egress, 'the destination resolves "http" differently: another class');
  t.false(before.egress.some((k) => before.ingress.includes(k)));
});

test('the result does not depend on the order of the input', (t) => {
  const input: PolicyInput = {
    namespaces: [ns('a'), ns('b', { team: 'x' })],
    pods: [pod('a', 'web', { app: 'web' }, ['10.0.0.1', 'fd00::1']), remote(pod('b', 'x', { app: 'web' }, ['10.0.1.1'])), pod('b', 'y', {}, ['10.0.0.2'])],
    policies: [
      np('a', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'x' } } }, { ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] } }] }] }),
      np('b', 'q', { podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] }),
    ],
  };
  const reversed: PolicyInput = { namespaces: [...input.namespaces].reverse(), pods: [...input.pods].reverse(), policies: [...input.policies].reverse() };
  t.deepEqual(compileNodePolicy(reversed, NODE), compileNodePolicy(input, NODE));
});
