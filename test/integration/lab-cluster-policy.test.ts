/**
 * `lab apply` takes ClusterNetworkPolicy documents (cluster-scoped, in no namespace) and delivers
 * them to the nodes' agents through the manifests directory; `lab apply --delete` takes them
 * back; and an online trace against a node's agent names the Admin tier.
 */
import test from 'ava';
import { stringify } from 'yaml';
import { createAgentClient } from '../../agent/api/client';
import { labApply } from '../../lab/cluster/apply';
import { readObjects } from '../../lab/cluster/manifests';
import { labPaths } from '../../lab/cluster/names';
import { loadState } from '../../lab/cluster/state';
import { labUp } from '../../lab/cluster/up';
import { eventually } from '../helpers/agent-process';
import { labName, labRoot } from './lab-fixture';

const guard = stringify({
  apiVersion: 'policy.networking.k8s.io/v1alpha2',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'guard' },
  spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ingress: [{ name: 'no-z', action: 'Deny', from: [{ namespaces: { matchLabels: { team: 'z' } } }] }] },
});
const namespaceZ = stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'z', labels: { team: 'z' } } });
const podZ = stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'z', labels: { app: 'b' } }, spec: { nodeName: 'node-0', containers: [{ name: 'c' }] } });

test('lab apply: a ClusterNetworkPolicy reaches every agent, the online trace names its tier; --delete takes it back', async (t) => {
  t.timeout(240_000);
  const lab = labName('cnp');
  const root = labRoot(t, lab);
  await labUp({ name: lab, root, nodes: 2, podsPerNode: 1, ports: [80] });
  const paths = labPaths(root, lab);
  const state = loadState(paths, lab);
  const apply = (text: string, del = false) => labApply({ name: lab, root, files: ['-'], delete: del, stdin: () => text });

  const changes = await apply([namespaceZ, podZ, guard].join('---\n'));
  t.deepEqual(changes.map((c) => `${c.kind}/${c.namespace ? `${c.namespace}/` : ''}${c.name} ${c.action}`), ['Namespace/z created', 'Pod/z/b created', 'ClusterNetworkPolicy/guard created']);
  t.true(readObjects(paths.manifests).has('ClusterNetworkPolicy/guard'));
  t.deepEqual((await apply(guard)).map((c) => c.action), ['unchanged']);

  const held = async (count: number) => {
    for (const node of state.nodes) {
      const client = createAgentClient(node.agent?.socket ?? '');
      try {
        if ((await client.status()).objectCounts.ClusterNetworkPolicy !== count) return undefined;
      } finally {
        client.close();
      }
    }
    return true;
  };
  await eventually('every agent to hold the policy', () => held(1), 30_000);
  const target = state.pods[0];
  const client = createAgentClient(state.nodes[0].agent?.socket ?? '');
  t.teardown(() => client.close());
  const trace = () => client.policyQuery({ kind: 'trace', from: 'z/b', to: `${target.namespace}/${target.name}`, port: '80' });
  const text = JSON.stringify(await trace());
  t.true(text.includes('DENIED by Admin ClusterNetworkPolicy guard (priority 10) ingress rule 1 (no-z)'), text);

  t.deepEqual((await apply(guard, true)).map((c) => `${c.kind}/${c.name} ${c.action}`), ['ClusterNetworkPolicy/guard deleted']);
  t.false(readObjects(paths.manifests).has('ClusterNetworkPolicy/guard'));
  await eventually('every agent to drop the policy', () => held(0), 30_000);
  t.false(JSON.stringify(await trace()).includes('ClusterNetworkPolicy'));
});
