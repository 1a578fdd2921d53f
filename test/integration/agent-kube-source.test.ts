/**
 * The Kubernetes API source against a fake API server that speaks the real list/watch wire
 * protocol (test/helpers/fake-kube-api.ts) to the real client library: initial sync, changes,
 * watches dropped, timed out, expired (410 Gone) and bookmarked, malformed objects, an API server
 * that goes away and comes back, and a stop() that leaves nothing running.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { objectKey, WATCHED_KINDS, type WatchedKind } from '../../agent/objects';
import { KubeSource, type KubeSourceOptions } from '../../agent/sources/kube';
import type { SourceEvent } from '../../agent/sources/source';
import { FakeKubeApi, type FakeObject } from '../helpers/fake-kube-api';
import { tempDir } from '../helpers/tmp';

/** How many kinds are watched: one list and one watch each. */
const KINDS = WATCHED_KINDS.length;

/** Small backoff so that recoveries take milliseconds; the shape (doubling, capped) is the default's. */
const BACKOFF = { initialMs: 20, maxMs: 200 };

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `condition` every 10 ms until it holds, or fails with `what` after `ms`. The deadline
 * only bounds a failure: it is generous so that a loaded machine does not fail a test.
 */
async function until(what: string, condition: () => boolean, ms = 30_000, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${context() ? `\n${context()}` : ''}`);
    await delay(10);
  }
}

const describe = (e: SourceEvent): string => {
  switch (e.type) {
    case 'SYNCED':
      return 'SYNCED';
    case 'SKIPPED':
      return `SKIPPED ${e.where}`;
    case 'WATCH_RESTARTED':
      return `RESTARTED ${e.kind}`;
    case 'KIND_SERVED':
      return `${e.served ? 'SERVED' : 'NOT SERVED'} ${e.kind}`;
    default:
      return `${e.type} ${objectKey(e.object)}`;
  }
};

/** Collects a source's events; folds them into the state a consumer would hold. */
class Recorder {
  readonly events: SourceEvent[] = [];
  readonly onEvent = (e: SourceEvent): void => {
    this.events.push(e);
  };

  described(from = 0): string[] {
    return this.events.slice(from).map(describe);
  }

  has(line: string, from = 0): boolean {
    return this.described(from).includes(line);
  }

  count(line: string, from = 0): number {
    return this.described(from).filter((l) => l === line).length;
  }

  restarts(kind?: WatchedKind, from = 0): { kind: WatchedKind; reason: string }[] {
    return this.events.slice(from).flatMap((e) => (e.type === 'WATCH_RESTARTED' && (kind === undefined || e.kind === kind) ? [{ kind: e.kind, reason: e.reason }] : []));
  }

  /** objectKey -> resourceVersion, as a consumer applying every event would have it. */
  state(): Map<string, string | undefined> {
    const state = new Map<string, string | undefined>();
    for (const e of this.events) {
      if (e.type === 'ADDED' || e.type === 'MODIFIED') state.set(objectKey(e.object), e.object.metadata.resourceVersion);
      else if (e.type === 'DELETED') state.delete(objectKey(e.object));
    }
    return state;
  }

  until(what: string, condition: () => boolean, ms?: number): Promise<void> {
    return until(what, condition, ms, () => `events: ${this.described().join(', ')}`);
  }
}

/** What the fake holds, in the same shape as Recorder.state(). */
function serverState(api: FakeKubeApi): Map<string, string | undefined> {
  const state = new Map<string, string | undefined>();
  for (const kind of WATCHED_KINDS) {
    for (const o of api.objects(kind)) state.set(objectKey({ kind, metadata: o.metadata }), o.metadata.resourceVersion as string | undefined);
  }
  return state;
}

/** The distinct kinds of some restarts, sorted. */
const kindsOf = (restarts: { kind: WatchedKind }[]) => [...new Set(restarts.map((r) => r.kind))].sort();

const sorted = (m: Map<string, string | undefined>) => [...m].sort(([a], [b]) => a.localeCompare(b));

function pod(name: string, namespace = 'shop', labels: Record<string, string> = { app: name }): FakeObject {
  return { kind: 'Pod', metadata: { name, namespace, labels }, spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'x' }] }, status: { podIP: '10.244.1.7' } };
}

function clusterPolicy(name: string, priority = 10): FakeObject {
  return { kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier: 'Admin', priority, subject: { namespaces: {} }, ingress: [{ action: 'Deny', from: [{ namespaces: { matchLabels: { team: 'z' } } }] }] } };
}

interface Fixture {
  api: FakeKubeApi;
  source: KubeSource;
  rec: Recorder;
}

/** A fake API server and a source against it (not started), both torn down with the test. */
async function fixture(t: ExecutionContext, options: Omit<KubeSourceOptions, 'kubeConfig'> = {}): Promise<Fixture> {
  const api = await FakeKubeApi.start();
  t.teardown(() => api.close());
  const kubeconfig = api.writeKubeconfig(tempDir(t, 'kube'));
  const source = new KubeSource({ kubeConfig: kubeconfig, backoff: BACKOFF, ...options });
  t.teardown(() => source.stop());
  return { api, source, rec: new Recorder() };
}

async function startSynced(f: Fixture): Promise<void> {
  await f.source.start(f.rec.onEvent);
  await f.rec.until('SYNCED', () => f.rec.has('SYNCED'));
}

test('initial list of every kind (kind and apiVersion restored on list items), then one SYNCED; watches ask for bookmarks and a timeout', async (t) => {
  const f = await fixture(t, { watchTimeoutSeconds: 120 });
  const { api, rec } = f;
  api.add({ kind: 'Namespace', metadata: { name: 'shop' } });
  api.add({ kind: 'Node', metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.10' }] } });
  api.add(pod('web'));
  api.add({ kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }] } });
  api.add({ kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.7'] }] });
  api.add({ kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'shop' }, spec: { podSelector: {} } });
  api.add(clusterPolicy('guard'));

  t.is(f.source.description, `kube ${api.url}`);
  await startSynced(f);
  const synced = rec.described().indexOf('SYNCED');
  t.deepEqual(rec.described().slice(0, synced).sort(), [
    'ADDED ClusterNetworkPolicy/guard',
    'ADDED EndpointSlice/shop/web-1',
    'ADDED Namespace/shop',
    'ADDED NetworkPolicy/shop/deny',
    'ADDED Node/node-a',
    'ADDED Pod/shop/web',
    'ADDED Service/shop/web',
  ]);
  const versions = Object.fromEntries(rec.events.flatMap((e) => (e.type === 'ADDED' ? [[e.object.kind, e.object.apiVersion]] : [])));
  t.deepEqual(versions, {
    Namespace: 'v1',
    Node: 'v1',
    Pod: 'v1',
    Service: 'v1',
    EndpointSlice: 'discovery.k8s.io/v1',
    NetworkPolicy: 'networking.k8s.io/v1',
    ClusterNetworkPolicy: 'policy.networking.k8s.io/v1alpha2',
  });
  // Top-level fields (EndpointSlice keeps its data there) and status survive.
  const slice = rec.events.find((e) => e.type === 'ADDED' && e.object.kind === 'EndpointSlice');
  t.deepEqual(slice?.type === 'ADDED' ? slice.object.endpoints : undefined, [{ addresses: ['10.244.1.7'] }]);

  await until('every watch open', () => api.openWatches() === KINDS);
  t.is(rec.count('SYNCED'), 1);
  for (const kind of WATCHED_KINDS) {
    t.is(api.lists(kind).length, 1, kind);
    const [watch] = api.watchRequests(kind);
    t.is(watch.query.allowWatchBookmarks, 'true', kind);
    t.is(watch.query.timeoutSeconds, '120', kind);
  }
  // Every watch starts where its list ended: the list's resourceVersion, the latest.
  t.deepEqual([...new Set(api.watchRequests().map((r) => r.resourceVersion))], [api.resourceVersion]);
  t.deepEqual(rec.restarts(), []);
});

test('changes arrive as ADDED, MODIFIED, DELETED, with the new state', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  await startSynced(f);
  t.deepEqual(rec.described(), ['SYNCED']);

  api.add(pod('a'));
  api.add(pod('b', 'other'));
  api.update({ ...pod('a'), metadata: { name: 'a', namespace: 'shop', labels: { app: 'a', tier: 'front' } } });
  api.add({ kind: 'Node', metadata: { name: 'node-b' } });
  api.remove('Pod', 'b', 'other');
  await rec.until('the deletion', () => rec.has('DELETED Pod/other/b'));
  await rec.until('the node', () => rec.has('ADDED Node/node-b'));
  const podEvents = rec.described(1).filter((l) => l.includes('Pod/'));
  t.deepEqual(podEvents, ['ADDED Pod/shop/a', 'ADDED Pod/other/b', 'MODIFIED Pod/shop/a', 'DELETED Pod/other/b']);
  const modified = rec.events.find((e) => e.type === 'MODIFIED');
  t.deepEqual(modified?.type === 'MODIFIED' ? modified.object.metadata.labels : undefined, { app: 'a', tier: 'front' });
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
  t.deepEqual(rec.restarts(), []);
});

test('a watch the server ends at its timeoutSeconds resumes from its resourceVersion: no restart, no relist', async (t) => {
  const f = await fixture(t, { watchTimeoutSeconds: 1 });
  const { api, rec } = f;
  api.add(pod('a'));
  await startSynced(f);
  await until('a Pod watch open', () => api.openWatches('Pod') === 1);

  // The server ends each watch after 1 s; each comes back from where it was.
  const before = api.watchRequests('Pod').length;
  api.add(pod('b'));
  await until('two more Pod watches', () => api.watchRequests('Pod').length >= before + 2);
  t.true(rec.has('ADDED Pod/shop/b'));
  t.deepEqual(rec.restarts(), [], 'a timeout is not a restart');
  t.is(api.lists().length, KINDS, 'no relist after a timeout');
  const resumed = api.watchRequests('Pod').slice(before + 1);
  t.true(resumed.every((r) => r.resourceVersion === api.get('Pod', 'b', 'shop')?.metadata.resourceVersion), JSON.stringify(resumed));
  t.is(rec.count('SYNCED'), 1);
});

test('a dropped watch is reported, and resumes from its last resourceVersion without a relist', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.add(pod('a'));
  await startSynced(f);
  await until('every watch open', () => api.openWatches() === KINDS);

  // Drop every connection mid-stream; changes made meanwhile arrive when the watches resume.
  const mark = rec.events.length;
  api.dropWatches();
  api.add(pod('c'));
  api.remove('Pod', 'a', 'shop');
  await rec.until('the changes made while dropped', () => rec.has('ADDED Pod/shop/c', mark) && rec.has('DELETED Pod/shop/a', mark));
  await rec.until('a restart reported per kind', () => rec.restarts(undefined, mark).length >= KINDS);
  t.deepEqual(kindsOf(rec.restarts(undefined, mark)), [...WATCHED_KINDS].sort());
  await until('every watch open again', () => api.openWatches() === KINDS);
  t.is(api.lists().length, KINDS, 'no relist after a dropped connection');
  t.is(api.watchRequests().length, 2 * KINDS);
  // Nothing happened between the list and the drop: each kind resumed from its list's resourceVersion.
  for (const kind of WATCHED_KINDS) t.is(api.watchRequests(kind)[1].resourceVersion, api.watchRequests(kind)[0].resourceVersion, kind);
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
  t.is(rec.count('SYNCED'), 1);
});

test('410 Gone after the server was down and its history compacted: relist converges, deletions included', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  for (const name of ['a', 'b', 'c']) api.add(pod(name));
  api.add({ kind: 'Service', metadata: { name: 'keep', namespace: 'shop' }, spec: {} });
  await startSynced(f);
  await until('every watch open', () => api.openWatches() === KINDS);

  await api.down('refuse');
  const mark = rec.events.length;
  api.remove('Pod', 'b', 'shop');
  api.update({ ...pod('c'), spec: { nodeName: 'node-b' } });
  api.add(pod('d'));
  api.add({ kind: 'Namespace', metadata: { name: 'new' } });
  api.compact();
  await rec.until('a restart while down', () => rec.restarts('Pod', mark).length > 0);
  await api.up();

  await rec.until('Pod relisted', () => rec.has('DELETED Pod/shop/b', mark) && rec.has('ADDED Pod/shop/d', mark) && rec.has('MODIFIED Pod/shop/c', mark));
  await rec.until('every kind relisted', () => rec.count('SYNCED', mark) === KINDS);
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
  for (const kind of WATCHED_KINDS) {
    t.is(api.lists(kind).length, 2, `${kind} listed again`);
    t.true(rec.restarts(kind, mark).some((r) => r.reason.includes('410 Gone')), kind);
  }
  // Unchanged objects are not reported again.
  t.false(rec.has('MODIFIED Pod/shop/a', mark));
  t.false(rec.has('MODIFIED Service/shop/keep', mark));
  t.false(rec.has('ADDED Pod/shop/a', mark));
});

test('410 Gone as an HTTP status, and as an ERROR event on an open watch: both relist', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.add(pod('a'));
  api.add(pod('b'));
  await startSynced(f);
  await until('every watch open', () => api.openWatches() === KINDS);

  // The watch is cut; the object is deleted; the history is gone and a new watch gets HTTP 410.
  let mark = rec.events.length;
  api.dropWatches('Pod');
  api.remove('Pod', 'a', 'shop');
  api.compact(undefined, 'status');
  await rec.until('relist after HTTP 410', () => rec.has('DELETED Pod/shop/a', mark) && rec.has('SYNCED', mark));
  t.true(api.watchRequests('Pod').some((r) => r.status === 410));
  t.is(api.lists('Pod').length, 2);
  t.true(rec.restarts('Pod', mark).some((r) => r.reason.includes('410 Gone')));

  // The server expires an open watch with an ERROR 410 event (a watcher that fell behind).
  await until('Pod watch open again', () => api.openWatches('Pod') === 1);
  mark = rec.events.length;
  api.compact();
  api.expireWatches('Pod');
  api.update({ ...pod('b'), metadata: { name: 'b', namespace: 'shop', labels: { app: 'b2' } } });
  await rec.until('relist after the ERROR event', () => rec.has('MODIFIED Pod/shop/b', mark) && rec.has('SYNCED', mark));
  t.is(api.lists('Pod').length, 3);
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
  // Only Pod was disturbed.
  t.deepEqual(kindsOf(rec.restarts()), ['Pod']);
});

test('a server that expires every fresh watch: the first 410 relists at once, the next ones back off; then it recovers', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.add(pod('a'));
  await startSynced(f);
  await until('Pod watch open', () => api.openWatches('Pod') === 1);

  // History forgotten up to a version far ahead: every watch, even from a fresh list, is too old.
  const mark = rec.events.length;
  api.compact(Number(api.resourceVersion) + 1000);
  api.dropWatches('Pod');
  await rec.until('five 410s', () => rec.restarts('Pod', mark).filter((r) => r.reason.includes('410 Gone')).length >= 5);
  const gones = rec.restarts('Pod', mark).filter((r) => r.reason.includes('410 Gone'));
  t.false(/ in \d+ ms/.test(gones[0].reason), `the first relists at once: ${gones[0].reason}`);
  gones.slice(1, 5).forEach((r, i) => {
    const delay = Number(/listing again in (\d+) ms/.exec(r.reason)?.[1]);
    const base = Math.min(BACKOFF.initialMs * 2 ** i, BACKOFF.maxMs);
    t.true(delay >= base && delay <= base * 1.2 + 1, `410 number ${i + 2}: ${r.reason}`);
  });

  // Watches work again: the next relist sticks, and what changed meanwhile arrives.
  api.add(pod('b'));
  api.compact();
  await rec.until('pod b', () => rec.has('ADDED Pod/shop/b', mark));
  await until('Pod watch open', () => api.openWatches('Pod') === 1);
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
});

test('a BOOKMARK moves the resourceVersion forward without an event: the next watch resumes from it, needing no relist', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.add(pod('a'));
  await startSynced(f);
  await until('every watch open', () => api.openWatches() === KINDS);
  const podWatchRv = api.watchRequests('Pod')[0].resourceVersion;

  // Other kinds change: the Pod watch's resourceVersion falls behind, until a bookmark.
  api.add({ kind: 'Service', metadata: { name: 's1', namespace: 'shop' }, spec: {} });
  api.add({ kind: 'Service', metadata: { name: 's2', namespace: 'shop' }, spec: {} });
  await rec.until('the services', () => rec.has('ADDED Service/shop/s2'));
  const mark = rec.events.length;
  const bookmarkRv = api.resourceVersion;
  t.not(bookmarkRv, podWatchRv);
  t.is(api.bookmark('Pod'), 1, 'the Pod watch asked for bookmarks');
  // History before the bookmark is forgotten: resuming from the old resourceVersion would get 410.
  api.compact();
  api.closeWatches('Pod');
  await until('the Pod watch resumed', () => api.watchRequests('Pod').length === 2);

  t.is(api.watchRequests('Pod')[1].resourceVersion, bookmarkRv);
  t.is(api.watchRequests('Pod')[1].status, 200);
  t.is(api.lists('Pod').length, 1);
  t.deepEqual(rec.described(mark), [], 'a bookmark is no object event, and no restart');
});

test('malformed objects are skipped and reported, in lists and in watches; everything else keeps flowing', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.add(pod('good'));
  api.addRaw('Pod', { metadata: { name: 'Bad_Name', namespace: 'shop' } });
  api.addRaw('Pod', { metadata: { name: 'bad-labels', namespace: 'shop', labels: { app: 7 } } });
  api.addRaw('Pod', { spec: {} });
  api.addRaw('Pod', 'not an object');
  api.addRaw('Pod', { kind: 'Service', metadata: { name: 'wrong-kind', namespace: 'shop' } });
  api.add({ kind: 'Node', metadata: { name: 'node-a' } });
  await startSynced(f);

  const synced = rec.described().indexOf('SYNCED');
  t.deepEqual(rec.described().slice(0, synced).sort(), [
    'ADDED Node/node-a',
    'ADDED Pod/shop/good',
    'SKIPPED Pod (list item 3, no usable name)',
    'SKIPPED Pod (list item 4, no usable name)',
    'SKIPPED Pod shop/Bad_Name',
    'SKIPPED Pod shop/bad-labels',
    'SKIPPED Pod shop/wrong-kind',
  ]);
  const reasons = rec.events.flatMap((e) => (e.type === 'SKIPPED' ? [e.reason] : []));
  t.true(reasons.some((r) => r.includes('invalid name')));
  t.true(reasons.some((r) => r.includes('labels must map strings to strings')));
  t.true(reasons.some((r) => r.includes('"Service" in the Pod watch')));

  // In a watch: a bad object, a line that is not JSON, then good objects still arrive.
  await until('Pod watch open', () => api.openWatches('Pod') === 1);
  let mark = rec.events.length;
  api.addRaw('Pod', { metadata: { name: 'x', namespace: 'shop', annotations: { a: ['b'] } } });
  api.sendRawLine('Pod', '{"type": "ADDED", "object": {trailing garbage');
  api.add(pod('next'));
  await rec.until('the good pod after the bad ones', () => rec.has('ADDED Pod/shop/next', mark));
  t.deepEqual(rec.described(mark), ['SKIPPED Pod shop/x', 'ADDED Pod/shop/next']);

  // A good object turned bad is gone for weft (as in the manifests source); fixed, it is back.
  mark = rec.events.length;
  api.update({ ...pod('good'), metadata: { name: 'good', namespace: 'shop', labels: { app: 1 as unknown as string } } });
  await rec.until('the deletion of the bad version', () => rec.has('DELETED Pod/shop/good', mark));
  t.deepEqual(rec.described(mark), ['SKIPPED Pod shop/good', 'DELETED Pod/shop/good']);
  api.update(pod('good'));
  await rec.until('the fixed pod', () => rec.has('ADDED Pod/shop/good', mark));

  // A relist sees the same bad objects, and converges to the same good ones.
  mark = rec.events.length;
  api.compact();
  api.expireWatches('Pod');
  await rec.until('the relist', () => rec.has('SYNCED', mark));
  t.false(rec.described(mark).some((l) => l.startsWith('ADDED') || l.startsWith('DELETED') || l.startsWith('MODIFIED')));
  t.true(rec.has('SKIPPED Pod shop/bad-labels', mark));
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
});

test('API server down (refusing, then answering 500) and back: retries back off, doubling up to the cap, and the source recovers', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.add(pod('a'));

  // Down from the start: start() still resolves, nothing is synced, lists are retried.
  await api.down('error');
  await f.source.start(rec.onEvent);
  await rec.until('list retries', () => rec.restarts('Pod').length >= 5);
  t.false(rec.has('SYNCED'));
  t.true(rec.restarts('Pod').every((r) => r.reason.includes('HTTP 500')));
  await api.up();
  await rec.until('SYNCED once up', () => rec.has('SYNCED'));
  t.true(rec.has('ADDED Pod/shop/a'));

  // Down while watching (connections refused): changes made meanwhile arrive after, no relist.
  await until('every watch open', () => api.openWatches() === KINDS);
  const lists = api.lists().length;
  const mark = rec.events.length;
  await api.down('refuse');
  api.add(pod('b'));
  api.remove('Pod', 'a', 'shop');
  await rec.until('several failed attempts', () => rec.restarts('Pod', mark).length >= 6);
  await api.up();
  await rec.until('the changes', () => rec.has('ADDED Pod/shop/b', mark) && rec.has('DELETED Pod/shop/a', mark));
  t.is(api.lists().length, lists);
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));

  // The delays: initial, doubling, capped (each with up to 20% jitter), no attempt in between succeeding.
  const delays = rec.restarts('Pod', mark).map((r) => Number(/retrying in (\d+) ms/.exec(r.reason)?.[1]));
  t.true(delays.length >= 6);
  delays.slice(0, 6).forEach((d, i) => {
    const base = Math.min(BACKOFF.initialMs * 2 ** i, BACKOFF.maxMs);
    t.true(d >= base && d <= base * 1.2 + 1, `attempt ${i}: ${d} ms (base ${base})`);
  });
});

/** Lists of the ClusterNetworkPolicy CRD's kind being looked for again this often, in the tests below. */
const RECHECK_MS = 50;

test('ClusterNetworkPolicy without its CRD: an empty list, SYNCED not held up, said once, no watch, no restart; installed later, it is picked up', async (t) => {
  const f = await fixture(t, { absentRecheckMs: RECHECK_MS });
  const { api, rec } = f;
  api.uninstall('ClusterNetworkPolicy');
  api.add(pod('a'));
  await startSynced(f);
  t.deepEqual(rec.described().sort(), ['ADDED Pod/shop/a', 'NOT SERVED ClusterNetworkPolicy', 'SYNCED']);
  const notServed = rec.events.find((e) => e.type === 'KIND_SERVED');
  t.regex(notServed?.type === 'KIND_SERVED' ? notServed.detail : '', /clusternetworkpolicies: HTTP 404 the server could not find the requested resource$/);
  await until('the other watches open', () => api.openWatches() === KINDS - 1);

  // Looked for again and again: nothing new to say, nothing delivered again, no watch tried.
  await until('three more looks', () => api.lists('ClusterNetworkPolicy').length >= 4);
  t.true(api.lists('ClusterNetworkPolicy').every((r) => r.status === 404));
  t.deepEqual(api.watchRequests('ClusterNetworkPolicy'), []);
  t.deepEqual(rec.restarts(), []);
  t.is(rec.count('NOT SERVED ClusterNetworkPolicy'), 1);
  t.is(rec.count('SYNCED'), 1);

  // Installed: the next look lists it, watches it, and delivers its objects and changes.
  const mark = rec.events.length;
  api.install('ClusterNetworkPolicy');
  api.add(clusterPolicy('guard'));
  await rec.until('the policy', () => rec.has('ADDED ClusterNetworkPolicy/guard', mark) && rec.has('SYNCED', mark));
  t.deepEqual(rec.described(mark), ['SERVED ClusterNetworkPolicy', 'ADDED ClusterNetworkPolicy/guard', 'SYNCED']);
  await until('its watch open', () => api.openWatches('ClusterNetworkPolicy') === 1);
  api.update(clusterPolicy('guard', 20));
  await rec.until('the change', () => rec.has('MODIFIED ClusterNetworkPolicy/guard', mark));
  t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
  t.deepEqual(rec.restarts(), []);
  // The other kinds were never disturbed.
  for (const kind of WATCHED_KINDS.filter((k) => k !== 'ClusterNetworkPolicy')) t.is(api.lists(kind).length, 1, kind);
});

for (const how of ['with DELETED events first, as the API server does', 'silently (found out through the 404)'] as const) {
  test(`the CRD removed while watched (${how}): its objects are deleted and that is said once; installed again, they are back`, async (t) => {
    const f = await fixture(t, { absentRecheckMs: RECHECK_MS });
    const { api, rec } = f;
    api.add(clusterPolicy('a'));
    api.add(clusterPolicy('b', 20));
    api.add(pod('p'));
    await startSynced(f);
    await until('every watch open', () => api.openWatches() === KINDS);

    let mark = rec.events.length;
    api.uninstall('ClusterNetworkPolicy', { silently: how.startsWith('silently') });
    await rec.until('the deletions', () => rec.has('DELETED ClusterNetworkPolicy/a', mark) && rec.has('DELETED ClusterNetworkPolicy/b', mark) && rec.has('NOT SERVED ClusterNetworkPolicy', mark));
    t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
    await until('more looks', () => api.lists('ClusterNetworkPolicy').filter((r) => r.status === 404).length >= 3);
    t.is(rec.count('NOT SERVED ClusterNetworkPolicy', mark), 1);
    t.is(api.openWatches('ClusterNetworkPolicy'), 0);
    t.is(api.openWatches(), KINDS - 1);
    t.true(rec.has('ADDED Pod/shop/p'));

    mark = rec.events.length;
    api.install('ClusterNetworkPolicy');
    api.add(clusterPolicy('c'));
    await rec.until('back', () => rec.has('ADDED ClusterNetworkPolicy/c', mark));
    await until('its watch open', () => api.openWatches('ClusterNetworkPolicy') === 1);
    t.is(rec.count('SERVED ClusterNetworkPolicy', mark), 1);
    t.deepEqual(sorted(rec.state()), sorted(serverState(api)));
    for (const kind of WATCHED_KINDS.filter((k) => k !== 'ClusterNetworkPolicy')) t.deepEqual(rec.restarts(kind), [], kind);
  });
}

test('404 is no excuse for a kind Kubernetes always serves: a Pod list answered 404 is retried, and nothing is synced until it works', async (t) => {
  const f = await fixture(t);
  const { api, rec } = f;
  api.uninstall('Pod');
  await f.source.start(rec.onEvent);
  await rec.until('list retries', () => rec.restarts('Pod').length >= 3);
  t.true(rec.restarts('Pod').every((r) => r.reason.includes('HTTP 404')));
  t.false(rec.has('SYNCED'));
  t.false(rec.described().some((l) => l.includes('SERVED')));
  api.install('Pod');
  await rec.until('SYNCED once served', () => rec.has('SYNCED'));
});

/** Runs a source in a child process, stops it on request, and reports whether the process then exits by itself. */
function childSource(t: ExecutionContext, kubeconfig: string) {
  const kubeJs = path.join(__dirname, '../../agent/sources/kube.js');
  const code = `
    const { KubeSource } = require(${JSON.stringify(kubeJs)});
    const source = new KubeSource({ kubeConfig: process.argv[1], backoff: { initialMs: 20, maxMs: 200 } });
    let synced = false;
    source.start((e) => {
      if (e.type === 'SYNCED' && !synced) { synced = true; console.log('synced'); }
      if (e.type === 'WATCH_RESTARTED') console.log('restarted');
    });
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => { if (d.includes('stop')) source.stop().then(() => console.log('stopped')); });
  `;
  const child = spawn(process.execPath, ['-e', code, kubeconfig], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A test that fails half-way must not leave the child (and this worker) running.
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    output: () => output,
    stop(): void {
      child.stdin.end('stop\n');
    },
    /** The exit code, or 'hung' when the process is still alive after `ms` (it is then killed). */
    async exit(ms = 20_000): Promise<number | null | 'hung'> {
      const timer = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), ms).unref());
      const result = await Promise.race([exited, timer]);
      if (result === 'hung') child.kill('SIGKILL');
      return result;
    },
  };
}

for (const scenario of ['watching', 'retrying against a server that refuses', 'watch requests hanging unanswered', 'a CRD not installed, its next look pending'] as const) {
  test(`stop() ends every watch and timer: the process exits by itself (${scenario})`, async (t) => {
    const api = await FakeKubeApi.start();
    t.teardown(() => api.close());
    api.add(pod('a'));
    const absent = scenario === 'a CRD not installed, its next look pending';
    // The next look is 60 s away (the default): a timer left behind would keep the process alive.
    if (absent) api.uninstall('ClusterNetworkPolicy');
    const child = childSource(t, api.writeKubeconfig(tempDir(t, 'kube')));
    // Generous: a fresh node process loading the client library is slow on a loaded machine.
    await until('the child synced', () => child.output().includes('synced'), 60_000);
    await until('every watch open', () => api.openWatches() === KINDS - (absent ? 1 : 0));
    if (scenario === 'retrying against a server that refuses') {
      await api.down('refuse');
      // Watches cut, then at least one retry refused: a retry timer is pending or about to be.
      await until('retries', () => child.output().split('restarted').length > 7);
    } else if (scenario === 'watch requests hanging unanswered') {
      await api.down('hang');
      await until('watch requests hanging', () => api.hungRequests() >= KINDS);
    }
    child.stop();
    t.is(await child.exit(), 0, child.output());
    t.true(child.output().includes('stopped'));
    t.is(api.openWatches(), 0);
    t.is(api.hungRequests(), 0, 'hanging requests were cut by the client');
  });
}
