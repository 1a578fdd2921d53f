/**
 * NetworkPolicy conformance (issue 6), in the manner of Kubernetes' e2e netpol suite: one lab per
 * backend (nftables, then iptables), 3 nodes, namespaces x/y/z with pods a/b/c (see
 * netpol-fixture.ts), and one test per case. Every expected table below is written by hand from
 * the NetworkPolicy API's semantics; nothing is computed with weft's own policy code.
 *
 * A case's steps check the full 9x9 matrix on TCP and UDP ports 80 and 81 over IPv4 (and IPv6 in
 * a few), each step waiting for the agents and probing until the table matches or the deadline
 * (WEFT_NETPOL_DEADLINE_MS, 10 s) passes. After each case every policy is deleted, the model's
 * labels are restored, and the all-allowed baseline must come back.
 *
 * Side by side with the probes, every step asks `weftctl policy trace`'s engine about every
 * probed pair (from the objects the agents read): its verdicts must equal the probe results,
 * pair by pair, in every step of every case, on both backends (netpol-fixture.ts, check()).
 *
 * Not covered: SCTP (the lab's pods serve TCP and UDP only); traffic from outside the cluster
 * and ipBlock of non-pod addresses (the lab has nothing outside the pod network to connect
 * from); Services in front of policies (kube-proxy's DNAT before policy) -- a separate suite.
 */
import { podKey } from '../../lab/cluster/state';
import { labSuite } from './lab-suite';
import {
  NAMESPACE_LABELS,
  NAMESPACES,
  type NetpolLab,
  networkPolicy as np,
  nodeOf,
  podLabels,
  Reachability,
  TCP80,
  TCP81,
  UDP80,
  V4,
  V6,
  type Target,
} from './netpol-fixture';

interface NetpolCase {
  name: string;
  /** Also probe over IPv6 (the case's own checks say which targets; this widens the reset check). */
  v6?: boolean;
  run(lab: NetpolLab): Promise<void>;
}

const all = () => new Reachability(true);
const same = (t: Target, u: Target) => t.protocol === u.protocol && t.port === u.port;
const denyIngressX = np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });

const CASES: NetpolCase[] = [
  {
    name: "default-deny ingress in x: nothing reaches x, x still reaches everything",
    v6: true,
    async run(lab) {
      await lab.applyObjects([denyIngressX]);
      await lab.check('deny-ingress in x', all().expectPeer({}, { namespace: 'x' }, false), [...V4, ...V6]);
    },
  },
  {
    name: 'allow-all ingress (ingress: [{}]) opens what a default deny closed',
    async run(lab) {
      await lab.applyObjects([denyIngressX]);
      await lab.check('deny-ingress in x', all().expectPeer({}, { namespace: 'x' }, false));
      await lab.applyObjects([np('x', 'allow-all-ingress', { podSelector: {}, ingress: [{}] })]);
      await lab.check('deny-ingress + allow-all-ingress in x', all());
    },
  },
  {
    name: 'default-deny egress in x: x reaches nothing (not even x), x is still reached',
    async run(lab) {
      await lab.applyObjects([np('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })]);
      await lab.check('deny-egress in x', all().expectPeer({ namespace: 'x' }, {}, false));
    },
  },
  {
    name: 'deny all (Ingress and Egress) in x',
    async run(lab) {
      await lab.applyObjects([np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })]);
      await lab.check('deny-all in x', all().expectPeer({ namespace: 'x' }, {}, false).expectPeer({}, { namespace: 'x' }, false));
    },
  },
  {
    name: 'allow ingress from the same namespace (peer podSelector {} without namespaceSelector)',
    async run(lab) {
      await lab.applyObjects([np('x', 'allow-same-namespace', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })]);
      await lab.check(
        'x allows from x only',
        Reachability.grid(`
               x/a x/b x/c y/a y/b y/c z/a z/b z/c
          x/a   .   1   1   1   1   1   1   1   1
          x/b   1   .   1   1   1   1   1   1   1
          x/c   1   1   .   1   1   1   1   1   1
          y/a   0   0   0   .   1   1   1   1   1
          y/b   0   0   0   1   .   1   1   1   1
          y/c   0   0   0   1   1   .   1   1   1
          z/a   0   0   0   1   1   1   .   1   1
          z/b   0   0   0   1   1   1   1   .   1
          z/c   0   0   0   1   1   1   1   1   .
        `),
      );
    },
  },
  {
    name: 'allow ingress from namespaces by label (namespaceSelector matchLabels ns=y)',
    async run(lab) {
      await lab.applyObjects([np('x', 'a-from-ns-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })]);
      await lab.check('x/a from y only', all().expectAllIngress('x/a', false).expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true));
    },
  },
  {
    name: 'podSelector AND namespaceSelector in one peer: only y/b',
    async run(lab) {
      const from = [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }];
      await lab.applyObjects([np('x', 'a-from-y-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from }] })]);
      await lab.check(
        'x/a from y/b only',
        Reachability.grid(`
               x/a x/b x/c y/a y/b y/c z/a z/b z/c
          x/a   .   1   1   1   1   1   1   1   1
          x/b   0   .   1   1   1   1   1   1   1
          x/c   0   1   .   1   1   1   1   1   1
          y/a   0   1   1   .   1   1   1   1   1
          y/b   1   1   1   1   .   1   1   1   1
          y/c   0   1   1   1   1   .   1   1   1
          z/a   0   1   1   1   1   1   .   1   1
          z/b   0   1   1   1   1   1   1   .   1
          z/c   0   1   1   1   1   1   1   1   .
        `),
      );
    },
  },
  {
    name: 'podSelector OR namespaceSelector (two peers): all of y, and b of x (not z/b)',
    async run(lab) {
      const from = [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }];
      await lab.applyObjects([np('x', 'a-from-y-or-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from }] })]);
      await lab.check(
        'x/a from y/* and x/b',
        Reachability.grid(`
               x/a x/b x/c y/a y/b y/c z/a z/b z/c
          x/a   .   1   1   1   1   1   1   1   1
          x/b   1   .   1   1   1   1   1   1   1
          x/c   0   1   .   1   1   1   1   1   1
          y/a   1   1   1   .   1   1   1   1   1
          y/b   1   1   1   1   .   1   1   1   1
          y/c   1   1   1   1   1   .   1   1   1
          z/a   0   1   1   1   1   1   .   1   1
          z/b   0   1   1   1   1   1   1   .   1
          z/c   0   1   1   1   1   1   1   1   .
        `),
      );
    },
  },
  {
    name: 'matchExpressions In and NotIn on namespaces (kubernetes.io/metadata.name), updated in place',
    async run(lab) {
      const policy = (expr: object) => np('x', 'a-from-ns-expr', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [expr] } }] }] });
      await lab.applyObjects([policy({ key: 'ns', operator: 'In', values: ['y', 'z'] })]);
      await lab.check('ns In [y, z]: x/a from y and z, not from x', all().expectAllIngress('x/a', false).expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, true));
      await lab.applyObjects([policy({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x', 'z'] })]);
      await lab.check('metadata.name NotIn [x, z]: x/a from y only', all().expectAllIngress('x/a', false).expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true));
    },
  },
  {
    name: 'matchExpressions Exists and DoesNotExist on pods (role is on b and c, not on a)',
    async run(lab) {
      await lab.applyObjects([
        np('x', 'roles-from-roleless', {
          podSelector: { matchExpressions: [{ key: 'role', operator: 'Exists' }] },
          ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'role', operator: 'DoesNotExist' }] } }] }],
        }),
      ]);
      const r = all().expectAllIngress('x/b', false).expectAllIngress('x/c', false);
      for (const to of ['b', 'c']) r.expectPeer({ pod: 'a' }, { namespace: 'x', pod: to }, true);
      await lab.check('x/b and x/c only from x/a, y/a, z/a', r);
    },
  },
  {
    name: 'matchExpressions NotIn also selects pods without the key (role NotIn [web])',
    async run(lab) {
      const from = [{ podSelector: { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['web'] }] } }];
      await lab.applyObjects([np('x', 'a-from-not-web', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from }] })]);
      await lab.check('x/a from x/c (role=db) only; x/b (role=web) and other namespaces denied', all().expectAllIngress('x/a', false).expect('x/c', 'x/a', true));
    },
  },
  {
    name: 'ingress on port 80 only (protocol defaults to TCP)',
    v6: true,
    async run(lab) {
      await lab.applyObjects([np('x', 'port-80', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] })]);
      await lab.check('x open on TCP 80 only', (t) => (same(t, TCP80) ? all() : all().expectPeer({}, { namespace: 'x' }, false)), [...V4, ...V6]);
    },
  },
  {
    name: 'port 81 by name (serve-81-tcp, serve-81-udp)',
    async run(lab) {
      const ports = [{ port: 'serve-81-tcp' }, { port: 'serve-81-udp', protocol: 'UDP' }];
      await lab.applyObjects([np('x', 'a-named-81', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports }] })]);
      await lab.check('x/a open on 81 (TCP and UDP) only', (t) => (t.port === 81 ? all() : all().expectAllIngress('x/a', false)));
    },
  },
  {
    name: 'a named port that means different numbers on different pods (x/b: serve-80-tcp is 81)',
    async run(lab) {
      await lab.applyObjects([np('x', 'named-80', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }] })]);
      await lab.check('x/a, x/c open on TCP 80, x/b on TCP 81, no UDP', (t) => {
        if (same(t, TCP80)) return all().expectAllIngress('x/b', false);
        if (same(t, TCP81)) return all().expectAllIngress('x/a', false).expectAllIngress('x/c', false);
        return all().expectPeer({}, { namespace: 'x' }, false);
      });
    },
  },
  {
    name: 'egress to a named port is resolved on each destination pod',
    async run(lab) {
      await lab.applyObjects([np('x', 'a-egress-named-81', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-81-tcp' }] }] })]);
      await lab.check('x/a reaches TCP 81 everywhere but x/b, where it reaches TCP 80; no UDP', (t) => {
        if (same(t, TCP81)) return all().expect('x/a', 'x/b', false);
        if (same(t, TCP80)) return all().expectAllEgress('x/a', false).expect('x/a', 'x/b', true);
        return all().expectAllEgress('x/a', false);
      });
    },
  },
  {
    name: 'endPort ranges (TCP 81-90, then updated to UDP 70-80)',
    async run(lab) {
      await lab.applyObjects([np('x', 'range', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 81, endPort: 90 }] }] })]);
      await lab.check('x open on TCP 81 only', (t) => (same(t, TCP81) ? all() : all().expectPeer({}, { namespace: 'x' }, false)));
      await lab.applyObjects([np('x', 'range', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 70, endPort: 80 }] }] })]);
      await lab.check('x open on UDP 80 only', (t) => (same(t, UDP80) ? all() : all().expectPeer({}, { namespace: 'x' }, false)));
    },
  },
  {
    name: 'UDP only (a port entry with a protocol and no port)',
    async run(lab) {
      await lab.applyObjects([np('x', 'a-udp', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ protocol: 'UDP' }] }] })]);
      await lab.check('x/a open on UDP only', (t) => (t.protocol === 'UDP' ? all() : all().expectAllIngress('x/a', false)));
    },
  },
  {
    name: 'policyTypes [Egress] only: the policy ingress rules are ignored, egress only to namespace y',
    async run(lab) {
      await lab.applyObjects([
        np('x', 'a-egress-only', {
          podSelector: { matchLabels: { pod: 'a' } },
          policyTypes: ['Egress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'nobody' } } }] }],
          egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
        }),
      ]);
      await lab.check('x/a reaches y only; everyone reaches x/a', all().expectAllEgress('x/a', false).expectPeer({ namespace: 'x', pod: 'a' }, { namespace: 'y' }, true));
    },
  },
  {
    name: 'egress to a namespace with policyTypes omitted: ingress is isolated too',
    async run(lab) {
      await lab.applyObjects([np('x', 'a-egress-to-y', { podSelector: { matchLabels: { pod: 'a' } }, egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })]);
      await lab.check('x/a reaches y only; nothing reaches x/a', all().expectAllEgress('x/a', false).expectPeer({ namespace: 'x', pod: 'a' }, { namespace: 'y' }, true).expectAllIngress('x/a', false));
    },
  },
  {
    name: 'egress to ipBlock with except (10.244.0.0/16 except y/b/32), then y/b/32 allowed by a second peer',
    v6: true,
    async run(lab) {
      const yb = `${lab.ip('y/b')}/32`;
      const policy = (to: object[]) => np('x', 'a-egress-cidr', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to }] });
      await lab.applyObjects([policy([{ ipBlock: { cidr: '10.244.0.0/16', except: [yb] } }])]);
      // An IPv4 block says nothing about IPv6: over IPv6, x/a's egress is isolated and allowed nowhere.
      await lab.check(`x/a reaches every IPv4 pod but y/b (${yb}), no IPv6 pod`, (t) => (t.family === 6 ? all().expectAllEgress('x/a', false) : all().expect('x/a', 'y/b', false)), [...V4, ...V6]);
      await lab.applyObjects([policy([{ ipBlock: { cidr: '10.244.0.0/16', except: [yb] } }, { ipBlock: { cidr: yb } }])]);
      await lab.check('an address in one peer except and in another peer cidr is allowed', all());
    },
  },
  {
    name: 'ingress from ipBlock (y/a /32 and /128, then 10.244.0.0/16 except z/c/32)',
    v6: true,
    async run(lab) {
      const policy = (from: object[]) => np('x', 'a-from-cidr', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from }] });
      await lab.applyObjects([policy([{ ipBlock: { cidr: `${lab.ip('y/a')}/32` } }, { ipBlock: { cidr: `${lab.ip('y/a', 6)}/128` } }])]);
      await lab.check('x/a from y/a only (IPv4 and IPv6)', all().expectAllIngress('x/a', false).expect('y/a', 'x/a', true), [...V4, ...V6]);
      const zc = `${lab.ip('z/c')}/32`;
      await lab.applyObjects([policy([{ ipBlock: { cidr: '10.244.0.0/16', except: [zc] } }])]);
      await lab.check(`x/a from every IPv4 pod but z/c (${zc})`, all().expect('z/c', 'x/a', false));
    },
  },
  {
    name: 'several policies add up (x/a from y, x/a from x/b, x/c on TCP 81)',
    async run(lab) {
      await lab.applyObjects([
        np('x', 'a-from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
        np('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }),
        np('x', 'c-tcp-81', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ ports: [{ port: 81 }] }] }),
      ]);
      await lab.check('x/a from y and x/b; x/c on TCP 81 from all', (t) => {
        const r = all().expectAllIngress('x/a', false).expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true).expect('x/b', 'x/a', true);
        return same(t, TCP81) ? r : r.expectAllIngress('x/c', false);
      });
    },
  },
  {
    name: 'egress denied at the client even where the server allows it (x/a egress to y/a only; y/a, y/b allow from x/a)',
    async run(lab) {
      const xa = [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'a' } } }];
      await lab.applyObjects([
        np('x', 'a-egress-to-y-a', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] }),
        np('y', 'a-from-x-a', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: xa }] }),
        np('y', 'b-from-x-a', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: xa }] }),
      ]);
      await lab.check('x/a -> y/a only; y/a only from x/a; y/b from nobody', all().expectAllEgress('x/a', false).expectAllIngress('y/a', false).expectAllIngress('y/b', false).expect('x/a', 'y/a', true));
    },
  },
  {
    name: 'ingress and egress in one policy (x/a: from x/b; to TCP 80 anywhere)',
    async run(lab) {
      await lab.applyObjects([
        np('x', 'a-both', {
          podSelector: { matchLabels: { pod: 'a' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
          egress: [{ ports: [{ port: 80 }] }],
        }),
      ]);
      await lab.check('x/a reached from x/b only (replies pass its egress); x/a reaches TCP 80 only', (t) => {
        const r = all().expectAllIngress('x/a', false).expect('x/b', 'x/a', true);
        return same(t, TCP80) ? r : r.expectAllEgress('x/a', false);
      });
    },
  },
  {
    name: 'policy updated in place: peer selector, then target selector',
    async run(lab) {
      const policy = (target: string, peer: string) => np('x', 'from-peer', { podSelector: { matchLabels: { pod: target } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: peer } } }] }] });
      await lab.applyObjects([policy('a', 'b')]);
      await lab.check('x/a from x/b only', all().expectAllIngress('x/a', false).expect('x/b', 'x/a', true));
      await lab.applyObjects([policy('a', 'c')]);
      await lab.check('peer changed: x/a from x/c only', all().expectAllIngress('x/a', false).expect('x/c', 'x/a', true));
      await lab.applyObjects([policy('b', 'c')]);
      await lab.check('target changed: x/b from x/c only, x/a open again', all().expectAllIngress('x/b', false).expect('x/c', 'x/b', true));
    },
  },
  {
    name: 'pod labels changed: a pod becomes isolated, a client becomes allowed, the target is released',
    async run(lab) {
      await lab.applyObjects([np('x', 'isolated-from-allowed', { podSelector: { matchLabels: { target: 'isolated' } }, ingress: [{ from: [{ podSelector: { matchLabels: { client: 'allowed' } } }] }] })]);
      await lab.check('nothing selected yet: all open', all());
      await lab.relabelPod('x/a', { ...podLabels('x/a'), target: 'isolated' });
      await lab.check('x/a labelled target=isolated: nothing reaches x/a', all().expectAllIngress('x/a', false));
      await lab.relabelPod('x/b', { ...podLabels('x/b'), client: 'allowed' });
      await lab.check('x/b labelled client=allowed: x/b reaches x/a', all().expectAllIngress('x/a', false).expect('x/b', 'x/a', true));
      await lab.relabelPod('x/a', podLabels('x/a'));
      await lab.check('x/a label removed: all open', all());
    },
  },
  {
    name: 'namespace labels changed: y, then z instead, becomes trusted',
    async run(lab) {
      await lab.applyObjects([np('x', 'a-from-trusted', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { trusted: 'yes' } } }] }] })]);
      await lab.check('no namespace trusted: nothing reaches x/a', all().expectAllIngress('x/a', false));
      await lab.labelNamespace('y', { ...NAMESPACE_LABELS.y, trusted: 'yes' });
      await lab.check('y trusted: y reaches x/a', all().expectAllIngress('x/a', false).expectPeer({ namespace: 'y' }, { namespace: 'x', pod: 'a' }, true));
      await lab.applyObjects([
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'y', labels: NAMESPACE_LABELS.y } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'z', labels: { ...NAMESPACE_LABELS.z, trusted: 'yes' } } },
      ]);
      await lab.check('z trusted instead: z reaches x/a, y no longer', all().expectAllIngress('x/a', false).expectPeer({ namespace: 'z' }, { namespace: 'x', pod: 'a' }, true));
    },
  },
  {
    name: 'policies deleted: x open again, one policy at a time',
    async run(lab) {
      const allowFromY = np('x', 'allow-from-y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
      await lab.applyObjects([denyIngressX, allowFromY]);
      await lab.check('x from y only', all().expectPeer({}, { namespace: 'x' }, false).expectPeer({ namespace: 'y' }, { namespace: 'x' }, true));
      await lab.deleteObjects([allowFromY]);
      await lab.check('allow-from-y deleted: nothing reaches x', all().expectPeer({}, { namespace: 'x' }, false));
      await lab.deleteObjects([denyIngressX]);
      await lab.check('deny-ingress deleted: all open', all());
    },
  },
];

labSuite({
  label: 'np',
  backends: ['nftables', 'iptables'],
  nodes: 3,
  upTitle: 'lab up with x/y/z over 3 nodes; no policies: every pod reaches every pod (TCP+UDP 80,81, IPv4+IPv6)',
  checkLab(t, lab) {
    const state = lab.state;
    // Every namespace spans every node, so same-node and cross-node pairs both occur in each.
    for (const ns of NAMESPACES) {
      const nodes = new Set(state.pods.filter((p) => p.namespace === ns).map((p) => p.node));
      t.is(nodes.size, 3, `namespace ${ns} on ${[...nodes].join(', ')}`);
    }
    for (const p of state.pods) t.is(p.node, nodeOf(podKey(p), 3));
  },
  upTargets: [...V4, ...V6],
  resetTargets: V4,
  cases: CASES.map((c) => ({ name: c.name, run: (lab) => c.run(lab), ...(c.v6 ? { resetTargets: [...V4, ...V6] } : {}) })),
});
