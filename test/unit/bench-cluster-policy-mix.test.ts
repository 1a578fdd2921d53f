/**
 * The cnp-sync bench's ClusterNetworkPolicies (bench/cluster-policy-mix.ts): every one is valid
 * (the agent would skip an invalid one, and the bench would measure less than it says), the mix
 * is the one the bench describes, and the edit the bench times changes what node-0 enforces.
 */
import test from 'ava';
import { ObjectCache } from '../../agent/cache';
import { policyInputFromCache } from '../../agent/compile/policy';
import { clusterPolicyMix, nodeObjects, teamGuard } from '../../bench/cluster-policy-mix';
import { syntheticCluster } from '../../bench/policy-cluster';
import { parseClusterPolicies } from '../../policy/cluster-policy/parse';
import { PolicyEvaluator } from '../../policy/evaluate';

test('100 valid ClusterNetworkPolicies: 60 Admin, 40 Baseline, names unique, some with ports, networks and nodes peers', (t) => {
  const objects = clusterPolicyMix();
  const { policies, problems } = parseClusterPolicies(objects);
  t.deepEqual(problems, []);
  t.is(policies.length, 100);
  t.is(new Set(objects.map((o) => o.metadata.name)).size, 100);
  t.is(policies.filter((p) => p.tier === 'Admin').length, 60);
  t.is(policies.filter((p) => p.tier === 'Baseline').length, 40);
  const rules = policies.flatMap((p) => [...p.ingress, ...p.egress]);
  t.true(rules.some((r) => r.ports?.some((e) => e.kind === 'named')));
  t.true(rules.some((r) => r.ports?.some((e) => e.kind === 'range' && e.first !== e.last)));
  for (const kind of ['networks', 'nodes', 'pods'] as const) t.true(rules.some((r) => r.peers?.some((p) => p.kind === kind)), kind);
  t.is(clusterPolicyMix(10).length, 10);
});

test("a team guard's edit (Pass -> Deny) changes a verdict for a pod on node-0, for every even team", (t) => {
  const { namespaces, pods, policies } = syntheticCluster();
  const verdicts = (guard: ReturnType<typeof teamGuard>, team: number) => {
    const cache = new ObjectCache();
    const objects = [...namespaces, ...pods, ...policies, ...nodeObjects(), ...clusterPolicyMix().filter((o) => o.metadata.name !== guard.metadata.name), guard];
    for (const object of objects) cache.apply({ type: 'ADDED', object });
    const evaluator = new PolicyEvaluator(policyInputFromCache(cache, [], ''));
    // From a pod of the team to node-0's pod of the team (an even namespace's first web pod).
    const inTeam = (p: (typeof pods)[number]) => namespaces.find((n) => n.metadata.name === p.metadata.namespace)?.metadata.labels?.team === `team-${team}`;
    const local = pods.find((p) => p.spec?.nodeName === 'node-0' && inTeam(p))!;
    const peer = pods.find((p) => p !== local && inTeam(p) && p.metadata.labels?.app === 'web')!;
    const ip = (p: typeof local) => p.status!.podIP as string;
    return evaluator.explain({ src: ip(peer), dst: ip(local), protocol: 'tcp', port: 8080 }).ingress.decidedBy;
  };
  for (let team = 0; team < 20; team += 2) {
    t.is(verdicts(teamGuard(team, 'Deny'), team), 'admin', `team-${team}: Deny decides`);
    t.not(verdicts(teamGuard(team, 'Pass'), team), 'admin', `team-${team}: Pass hands on`);
  }
});
