/**
 * Service proxying end to end in a 2-node lab (the agents run with --proxy, the lab allocates
 * cluster IPs and node ports and keeps the EndpointSlices), on each backend: a cluster IP spreads
 * TCP connections and UDP datagrams over the endpoints of both nodes (counted); a pod reaching
 * itself through its service is masqueraded (hairpin); node ports answer from the other node and
 * from outside the cluster (the underlay switch), masqueraded under externalTrafficPolicy
 * Cluster, with the client's address and local endpoints only under Local; session affinity
 * keeps a client on one endpoint; a service without endpoints refuses at once; an endpoint
 * going away gets no more connections or datagrams; and a NetworkPolicy applies to traffic that
 * came through a service (the policy sees the endpoint pod, after DNAT).
 */
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { KubeObject } from '../../agent/objects';
import { labApply } from '../../lab/cluster/apply';
import { openLab } from '../../lab/cluster/inspect';
import { readObjects } from '../../lab/cluster/manifests';
import { UNDERLAY_V4, underlayNetnsName } from '../../lab/cluster/names';
import { WHOAMI_PORT } from '../../lab/cluster/pod-server';
import { probeFromPod, type Protocol } from '../../lab/cluster/probe';
import type { AgentBackend } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';
import { NETNS_RUN_DIR } from '../../kernel/netns';
import { tcpProbe } from '../../lab/probe';
import { eventually } from '../helpers/agent-process';
import { tempDir } from '../helpers/tmp';
import { labName, labRoot } from './lab-fixture';

const service = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec });
const WHO = { name: 'who', port: 80, targetPort: WHOAMI_PORT, protocol: 'TCP' };

const SERVICES: KubeObject[] = [
  service('who', { type: 'NodePort', selector: { app: 'web' }, ports: [WHO, { name: 'udp', port: 81, targetPort: 81, protocol: 'UDP' }] }),
  service('local', { type: 'NodePort', externalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [WHO] }),
  service('sticky', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', ports: [WHO] }),
  service('nothing', { selector: { app: 'nobody' }, ports: [WHO] }),
];

/** Pod names of the answers ("default/pod-0-1 10.244.0.2" -> "pod-0-1"), errors as they are. */
const names = (answers: { answer?: string; error?: string }[]) => answers.map((a) => ('answer' in a && a.answer ? a.answer.split(' ')[0].split('/')[1] : `error:${a.error}`));
const count = (items: string[]) => items.reduce<Record<string, number>>((acc, x) => ((acc[x] = (acc[x] ?? 0) + 1), acc), {});

async function proxyLab(t: ExecutionContext, backend: AgentBackend) {
  const lab = labName(`px${backend[0]}`);
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 2, podsPerNode: 2, ports: [80, 81], backend });
  const files = tempDir(t, 'px');
  const apply = async (file: string, objects: KubeObject[], del = false) => {
    const full = path.join(files, file);
    fs.writeFileSync(full, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    await labApply({ name: lab, root, files: [full], delete: del });
  };
  await apply('services.yaml', SERVICES);
  const { state, manifests } = openLab(lab, root);
  const stored = readObjects(manifests);
  const svc = (name: string) => [...stored.values()].find((o) => o.kind === 'Service' && o.metadata.name === name)!;
  const clusterIp = (name: string) => String(svc(name).spec?.clusterIP);
  const nodePort = (name: string) => (svc(name).spec?.ports as { nodePort: number }[])[0].nodePort;
  const pod = (name: string) => {
    const found = openLab(lab, root).state.pods.find((p) => p.name === name);
    if (!found) throw new Error(`no pod ${name}`);
    return found;
  };
  const ask = async (from: string, host: string, port: number, protocol: Protocol, n: number, timeoutMs = 1000) => probeFromPod(pod(from), host, port, protocol, n, timeoutMs);
  const nodeIp = (i: number) => state.nodes[i].underlay.v4;
  const proxied = (address: string) => eventually('the agents proxy the cluster IP', async () => ('answer' in (await ask('pod-0-0', address, 80, 'TCP', 1))[0] ? true : undefined), 30_000);
  return { lab, root, state, apply, clusterIp, nodePort, pod, ask, nodeIp, proxied };
}

for (const backend of ['nftables', 'iptables'] as const) {
  test(`${backend}: cluster IP spread over both nodes (TCP and UDP), hairpin, node ports from another node and from outside, both external traffic policies, affinity, no endpoints`, async (t) => {
    const lab = await proxyLab(t, backend);
    const who = lab.clusterIp('who');
    await lab.proxied(who);

    const tcp = await lab.ask('pod-0-0', who, 80, 'TCP', 60);
    const tcpCount = count(names(tcp));
    for (const p of ['pod-0-0', 'pod-0-1', 'pod-1-0', 'pod-1-1']) t.true((tcpCount[p] ?? 0) >= 3, `TCP: ${p} answers its share: ${JSON.stringify(tcpCount)}`);
    const client = lab.pod('pod-0-0').ips[0];
    const peers = new Map(tcp.flatMap((a) => ('answer' in a ? [[a.answer.split(' ')[0], a.answer.split(' ')[1]] as const] : [])));
    t.not(peers.get('default/pod-0-0'), client, 'hairpin: the pod reaching itself is masqueraded (else its reply would not pass the node)');
    t.is(peers.get('default/pod-0-1'), client, 'another pod of the node sees the client');
    t.is(peers.get('default/pod-1-0'), client, 'a pod of the other node sees the client');

    const udpCount = count(names(await lab.ask('pod-1-0', who, 81, 'UDP', 40)));
    for (const p of ['pod-0-0', 'pod-0-1', 'pod-1-0', 'pod-1-1']) t.true((udpCount[p] ?? 0) >= 1, `UDP: ${p} answers: ${JSON.stringify(udpCount)}`);

    // Node ports: from the other node (its own namespace), and from the underlay switch, outside.
    const fromNode1 = await tcpProbe(lab.state.nodes[1].netns, lab.nodeIp(0), lab.nodePort('who'), 3000);
    t.true(fromNode1.ok && fromNode1.detail.startsWith('default/pod-'), `node port from the other node: ${fromNode1.detail}`);
    const outside = path.join(NETNS_RUN_DIR, underlayNetnsName(lab.lab));
    for (let i = 0; i < 4; i++) {
      const r = await tcpProbe(outside, lab.nodeIp(0), lab.nodePort('who'), 3000);
      t.true(r.ok, `node port from outside: ${r.detail}`);
      t.not(r.detail.split(' ')[1], UNDERLAY_V4.gateway, 'externalTrafficPolicy Cluster: masqueraded');
    }
    for (const node of [0, 1]) {
      for (let i = 0; i < 4; i++) {
        const r = await tcpProbe(outside, lab.nodeIp(node), lab.nodePort('local'), 3000);
        t.regex(r.detail, new RegExp(`^default/pod-${node}-\\d ${UNDERLAY_V4.gateway.replace(/\./g, '\\.')}$`), `externalTrafficPolicy Local: node-${node}'s own pods, with the client's address`);
      }
    }

    t.is(new Set(names(await lab.ask('pod-1-0', lab.clusterIp('sticky'), 80, 'TCP', 12))).size, 1, 'session affinity: one endpoint for the client');
    t.deepEqual(names(await lab.ask('pod-0-0', lab.clusterIp('nothing'), 80, 'TCP', 2, 3000)), ['error:ECONNREFUSED', 'error:ECONNREFUSED'], 'no endpoints: refused at once');
  });

  test(`${backend}: an endpoint going away gets no new connections or datagrams; a policy applies after the service's DNAT`, async (t) => {
    const lab = await proxyLab(t, backend);
    const who = lab.clusterIp('who');
    await lab.proxied(who);

    // pod-1-1 leaves the service's selector.
    const leaving = lab.pod('pod-1-1').object;
    await lab.apply('relabel.yaml', [{ ...leaving, metadata: { ...leaving.metadata, labels: { app: 'other', name: 'pod-1-1' } } }]);
    await eventually(
      'pod-1-1 gets no more connections',
      async () => (!names(await lab.ask('pod-0-0', who, 80, 'TCP', 20)).includes('pod-1-1') ? true : undefined),
      30_000,
    );
    const tcp = count(names(await lab.ask('pod-0-0', who, 80, 'TCP', 40)));
    t.false('pod-1-1' in tcp, JSON.stringify(tcp));
    t.deepEqual(Object.keys(tcp).sort(), ['pod-0-0', 'pod-0-1', 'pod-1-0'], 'the others share the connections');
    const udp = count(names(await lab.ask('pod-0-1', who, 81, 'UDP', 40)));
    t.false('pod-1-1' in udp, `UDP too: ${JSON.stringify(udp)}`);

    // pod-0-1 admits only pod-1-0, on the endpoint port: through the service, the others'
    // connections that land on it are dropped, pod-1-0's are not.
    const policy: KubeObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'pod-0-1-from-pod-1-0', namespace: 'default' },
      spec: { podSelector: { matchLabels: { name: 'pod-0-1' } }, ingress: [{ from: [{ podSelector: { matchLabels: { name: 'pod-1-0' } } }], ports: [{ port: WHOAMI_PORT }] }] },
    };
    await lab.apply('policy.yaml', [policy]);
    await eventually(
      'the policy is in force',
      async () => {
        const answers = names(await lab.ask('pod-0-0', who, 80, 'TCP', 20, 500));
        return !answers.includes('pod-0-1') && answers.includes('error:timeout') ? answers : undefined;
      },
      30_000,
    );
    const denied = count(names(await lab.ask('pod-1-1', who, 80, 'TCP', 30, 500)));
    t.false('pod-0-1' in denied, `pod-1-1 never reaches pod-0-1 through the service: ${JSON.stringify(denied)}`);
    t.true((denied['error:timeout'] ?? 0) >= 1, 'its connections landing on pod-0-1 are dropped');
    const allowed = count(names(await lab.ask('pod-1-0', who, 80, 'TCP', 30, 500)));
    t.true((allowed['pod-0-1'] ?? 0) >= 1, `pod-1-0 reaches pod-0-1 through the service: ${JSON.stringify(allowed)}`);
    t.false('error:timeout' in allowed, 'and is dropped nowhere');
  });
}
