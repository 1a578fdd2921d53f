/**
 * ClusterNetworkPolicy conformance in the lab, on the topology of the upstream suite
 * (kubernetes-sigs/network-policy-api, conformance/base/manifests.yaml): four namespaces, the
 * houses, labelled conformance-house=<house> (and kubernetes.io/metadata.name, which the lab
 * adds), with two pods each (harry-potter-0/1 in gryffindor, draco-malfoy-0/1 in slytherin,
 * cedric-diggory-0/1 in hufflepuff, luna-lovegood-0/1 in ravenclaw), labelled as their
 * StatefulSet would label them. Each pod serves TCP 80 (named "web") and 8080, UDP 53 (named
 * "dns") and 5353, as upstream's do. Not SCTP 9003/9005: the lab's pods serve TCP and UDP only.
 * Upstream's namespaces are network-policy-conformance-<house>; ours are the bare house names.
 *
 * Placement: pod i of house h on node (h + i) mod nodes: with 2 nodes, every house has a pod
 * on each node and each node one pod of every house, so same-node and cross-node pairs occur
 * within and across namespaces.
 *
 * The lab, the probes, the expected-versus-observed comparison and the trace beside every probe
 * are netpol-fixture.ts's (NetpolLab with this model). This adds the truth tables' vocabulary,
 * one direction at a time (a connection needs its egress and its ingress allowed), and probes
 * from the pods to servers on the nodes themselves, for `nodes` and `networks` peers.
 */
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { KubeObject } from '../../agent/objects';
import { readObjects } from '../../lab/cluster/manifests';
import { addressOf, controlCall } from '../../lab/cluster/probe';
import { podKey } from '../../lab/cluster/state';
import { PolicyModel } from '../../policy/explain/model';
import { trace } from '../../policy/explain/trace';
import { inNetns } from '../../kernel/netns';
import { childEnv } from '../../lab/child-env';
import { modelPods, networkPolicy, ReachabilityMismatch, Reachability, targetName, type LabModel, type NetpolLab, type Target } from './netpol-fixture';

export { clusterPolicy } from '../helpers/cluster-policy-model';

// ---------------------------------------------------------------------------------------------
// The model

export const HOUSES = ['gryffindor', 'slytherin', 'hufflepuff', 'ravenclaw'] as const;
export type House = (typeof HOUSES)[number];
const STUDENTS: Readonly<Record<House, string>> = { gryffindor: 'harry-potter', slytherin: 'draco-malfoy', hufflepuff: 'cedric-diggory', ravenclaw: 'luna-lovegood' };

/** `house/student-i`: the pod of a house's StatefulSet with ordinal i. */
export const pod = (house: House, i: 0 | 1): string => `${house}/${STUDENTS[house]}-${i}`;
export const HOUSE_PODS: readonly string[] = HOUSES.flatMap((h) => [pod(h, 0), pod(h, 1)]);

export function houseOf(key: string): House {
  const house = key.split('/')[0] as House;
  if (!HOUSES.includes(house) || !HOUSE_PODS.includes(key)) throw new Error(`${JSON.stringify(key)} is not one of the houses' pods`);
  return house;
}

export const houseLabels = (house: House): Record<string, string> => ({ 'conformance-house': house });

/** The labels upstream's pods have: their StatefulSet's template label and the pod-name label the controller adds. */
export function studentLabels(key: string): Record<string, string> {
  return { ...houseLabels(houseOf(key)), 'statefulset.kubernetes.io/pod-name': key.split('/')[1] };
}

export function houseNodeOf(key: string, nodes: number): string {
  const ordinal = Number(key.slice(-1));
  return `node-${(HOUSES.indexOf(houseOf(key)) + ordinal) % nodes}`;
}

/** What the pods declare, as upstream's containers do: web and dns named, 8080 and 5353 not. */
const CONTAINER_PORTS = [
  { name: 'web', containerPort: 80, protocol: 'TCP' },
  { containerPort: 8080, protocol: 'TCP' },
  { name: 'dns', containerPort: 53, protocol: 'UDP' },
  { containerPort: 5353, protocol: 'UDP' },
];

export const HOUSE_MODEL: LabModel = {
  namespaces: HOUSES,
  pods: HOUSE_PODS,
  namespaceObject: (ns, labels) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: labels ?? houseLabels(ns as House) } }),
  podObject: (key, nodes, labels) => {
    const [namespace, name] = key.split('/');
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: labels ?? studentLabels(key) },
      spec: { nodeName: houseNodeOf(key, nodes), containers: [{ name: 'server', image: 'weft-lab/pod-server', ports: CONTAINER_PORTS }] },
    };
  },
};

export { networkPolicy };

/** `namespaces` by the name label, as most upstream manifests select. */
export const byName = (house: House): Record<string, unknown> => ({ matchLabels: { 'kubernetes.io/metadata.name': house } });
/** `pods` of a house by namespace and pod labels, as upstream's priority and CIDR manifests select. */
export const podsOfHouse = (house: House): Record<string, unknown> => ({ namespaceSelector: { matchLabels: houseLabels(house) }, podSelector: { matchLabels: houseLabels(house) } });

// ---------------------------------------------------------------------------------------------
// Targets

export const TCP_80: Target = { protocol: 'TCP', port: 80, family: 4 };
export const TCP_8080: Target = { protocol: 'TCP', port: 8080, family: 4 };
export const UDP_53: Target = { protocol: 'UDP', port: 53, family: 4 };
export const UDP_5353: Target = { protocol: 'UDP', port: 5353, family: 4 };
export const TCP_80_V6: Target = { protocol: 'TCP', port: 80, family: 6 };
/** Every port upstream's pods serve but SCTP's. */
export const HOUSE_TARGETS: readonly Target[] = [TCP_80, TCP_8080, UDP_53, UDP_5353];

export const isTarget = (t: Target, protocol: 'TCP' | 'UDP', port: number): boolean => t.protocol === protocol && t.port === port;

// ---------------------------------------------------------------------------------------------
// Truth tables, one direction at a time

/**
 * What one direction lets through, from the upstream case's meaning: egress judges `from`,
 * ingress judges `to`; true where the policy lets the pair through (or does not apply).
 */
export type Gate = (from: string, to: string, t: Target) => boolean;

/** The pairs every gate lets through, per target: a connection needs its egress and its ingress. */
export function through(...gates: Gate[]): (t: Target) => Reachability {
  return (t) => {
    const r = new Reachability(true, HOUSE_PODS);
    for (const from of HOUSE_PODS) for (const to of HOUSE_PODS) if (from !== to) r.expect(from, to, gates.every((g) => g(from, to, t)));
    return r;
  };
}

/** A gate for one direction of pods in `subject`: `verdict(peerHouse, peer, target)` for the others. */
export function gate(direction: 'ingress' | 'egress', subject: (key: string) => boolean, verdict: (peerHouse: House, peer: string, t: Target) => boolean): Gate {
  return (from, to, t) => {
    const [local, peer] = direction === 'ingress' ? [to, from] : [from, to];
    return !subject(local) || verdict(houseOf(peer), peer, t);
  };
}

export const inHouse = (house: House) => (key: string): boolean => houseOf(key) === house;

// ---------------------------------------------------------------------------------------------
// Servers on the nodes: what `nodes` and `networks` peers reach beyond pods

export interface NodeServer {
  node: string;
  /** Its InternalIP (IPv4), what the Node object lists, and the only address the server answers on. */
  address: string;
  /** What it answers. */
  id: string;
}

const RESPONDER = path.join(__dirname, 'node-responder.js');

/** node-responder.ts in the node's namespace, until the test ends. */
async function startResponder(t: ExecutionContext, netns: string, id: string, address: string): Promise<void> {
  const list = (protocol: Target['protocol']) => HOUSE_TARGETS.filter((x) => x.protocol === protocol).map((x) => x.port).join(',');
  const child = inNetns(netns, () => spawn(process.execPath, [RESPONDER, id, address, list('TCP'), list('UDP')], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() }));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let output = '';
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    const seen = (b: Buffer) => {
      output += b.toString();
      if (output.includes('ready')) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) throw new Error(`the node server ${id} did not start in ${netns}: ${output.trim()}`);
}

/**
 * A server in each node's own namespace (a host-network server, as upstream's centaur pods),
 * on the model's ports; stopped when the test ends.
 */
export async function startNodeServers(t: ExecutionContext, lab: NetpolLab): Promise<NodeServer[]> {
  return Promise.all(
    lab.state.nodes.map(async (n) => {
      const server: NodeServer = { node: n.name, address: n.underlay.v4, id: `node/${n.name}` };
      await startResponder(t, n.netns, server.id, server.address);
      return server;
    }),
  );
}

/** Whether a pod may reach a node on a target. */
export type NodeGate = (from: string, node: string, t: Target) => boolean;

interface NodeCell {
  from: string;
  node: string;
  target: Target;
  ok: boolean;
  detail: string;
}

async function probeNodes(lab: NetpolLab, nodes: readonly NodeServer[], targets: readonly Target[], timeoutMs: number): Promise<NodeCell[]> {
  const pods = modelPods(lab.state, lab.model.pods);
  const rows = await Promise.all(
    pods.map(async (p) => {
      const wanted = targets.flatMap((target) => nodes.map((n) => ({ target, n })));
      const probes = wanted.map(({ target, n }) => ({ host: n.address, port: target.port, protocol: target.protocol }));
      const from = podKey(p);
      try {
        if (!p.server) throw new Error('the pod has no server');
        const res = await controlCall(p.server.control, { probes, timeoutMs, concurrency: probes.length }, timeoutMs + 5000);
        return wanted.map(({ target, n }, i): NodeCell => {
          const a = res.results[i] ?? { error: 'no result' };
          const ok = 'answer' in a && a.answer === n.id;
          return { from, node: n.node, target, ok, detail: 'answer' in a ? a.answer : a.error };
        });
      } catch (err) {
        return wanted.map(({ target, n }): NodeCell => ({ from, node: n.node, target, ok: false, detail: `client pod cannot probe: ${(err as Error).message}` }));
      }
    }),
  );
  return rows.flat();
}

const word = (allowed: boolean): string => (allowed ? 'allowed' : 'denied');

/**
 * Every model pod to every node server on every target: probes until they match `expected` or
 * the lab's deadline passes, then `weftctl policy trace`'s engine must say the same for each
 * pair (the pod's address to the node's). Run after lab.check of the same step (which waited
 * for the agents). Throws ReachabilityMismatch with the wrong cells.
 */
export async function checkNodes(lab: NetpolLab, what: string, nodes: readonly NodeServer[], expected: NodeGate, targets: readonly Target[] = HOUSE_TARGETS): Promise<void> {
  const started = performance.now();
  let cells: NodeCell[] = [];
  let wrong: NodeCell[] = [];
  for (let rounds = 1; ; rounds++) {
    cells = await probeNodes(lab, nodes, targets, lab.tuning.timeoutMs);
    wrong = cells.filter((c) => c.ok !== expected(c.from, c.node, c.target));
    if (wrong.length === 0 || performance.now() - started >= lab.deadlineMs) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const names = targets.map(targetName).join(', ');
  const cellText = (c: NodeCell) => `${targetName(c.target)} ${c.from} -> ${c.node}`;
  if (wrong.length > 0) {
    lab.journal.push(`FAIL ${what} [nodes; ${names}]: ${wrong.length} of ${cells.length} wrong`);
    const lines = wrong.slice(0, 20).map((c) => `  ${cellText(c)}: expected ${word(!c.ok)}, observed ${word(c.ok)} (${c.detail})`);
    throw new ReachabilityMismatch(`${what} [pods to nodes; ${names}]: ${wrong.length} of ${cells.length} cells still wrong after ${((performance.now() - started) / 1000).toFixed(1)} s:\n${lines.join('\n')}`);
  }
  const model = PolicyModel.fromObjects([...readObjects(lab.manifests).values()], { source: `lab ${lab.state.name}` });
  const byKey = new Map(lab.state.pods.map((p) => [podKey(p), p]));
  const disagreements = cells.filter((c) => {
    const from = addressOf(byKey.get(c.from)!, 4)!;
    const address = nodes.find((n) => n.node === c.node)!.address;
    const r = trace(model, { from, to: address, port: { protocol: c.target.protocol === 'TCP' ? 'tcp' : 'udp', port: c.target.port } });
    return (r.verdict === 'allowed') !== c.ok;
  });
  if (disagreements.length > 0) {
    lab.journal.push(`FAIL ${what} [nodes; ${names}]: probes as expected, trace disagrees on ${disagreements.length} of ${cells.length}`);
    const lines = disagreements.slice(0, 20).map((c) => `  ${cellText(c)}: trace says ${word(!c.ok)}, the probe was ${word(c.ok)} (${c.detail})`);
    throw new ReachabilityMismatch(`${what} [pods to nodes; ${names}]: the probes match, but trace disagrees on ${disagreements.length} of ${cells.length} pairs:\n${lines.join('\n')}`);
  }
  lab.journal.push(`ok   ${what} [pods to nodes; ${names}]: ${cells.length} cells as expected after ${((performance.now() - started) / 1000).toFixed(2)} s; trace = probe`);
}

/** A ClusterNetworkPolicy's rules rearranged as upstream's tests patch them: two swapped. */
export function swapRules(object: KubeObject, direction: 'ingress' | 'egress', i: number, j: number): KubeObject {
  const rules = [...((object.spec?.[direction] as unknown[]) ?? [])];
  [rules[i], rules[j]] = [rules[j], rules[i]];
  return { ...object, spec: { ...object.spec, [direction]: rules } };
}

/** The object with `spec` fields replaced (priority, ...). */
export function withSpec(object: KubeObject, spec: Record<string, unknown>): KubeObject {
  return { ...object, spec: { ...object.spec, ...spec } };
}
