/**
 * A small Kubernetes API server for tests: a real HTTP server on 127.0.0.1 that speaks the list
 * and watch wire protocol (JSON lists with a resourceVersion, `?watch=true` streams of
 * newline-delimited events, 410 Gone for a compacted history, bookmarks, timeoutSeconds) for the
 * kinds weft-agent watches, so the real client library is exercised end to end. Tests drive it
 * through controls: change objects, drop connections, compact history, go down and come back,
 * serve malformed objects, uninstall and install a CRD's kind. It checks the bearer token from the
 * kubeconfig it writes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { inNetns } from '../../kernel/netns';

export interface FakeResource {
  kind: string;
  apiVersion: string;
  plural: string;
  namespaced: boolean;
}

/** The resources served: the kinds weft-agent watches. */
export const FAKE_RESOURCES: readonly FakeResource[] = [
  { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
  { kind: 'Service', apiVersion: 'v1', plural: 'services', namespaced: true },
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  { kind: 'Pod', apiVersion: 'v1', plural: 'pods', namespaced: true },
  { kind: 'Namespace', apiVersion: 'v1', plural: 'namespaces', namespaced: false },
  { kind: 'Node', apiVersion: 'v1', plural: 'nodes', namespaced: false },
  // A CRD's (kubernetes-sigs/network-policy-api): served until uninstall().
  { kind: 'ClusterNetworkPolicy', apiVersion: 'policy.networking.k8s.io/v1alpha2', plural: 'clusternetworkpolicies', namespaced: false },
];

/** An object as tests hand it in: kind and name are required, everything else is passed through. */
export interface FakeObject {
  kind: string;
  apiVersion?: string;
  metadata: { name: string; namespace?: string; [field: string]: unknown };
  [field: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One request the server answered (or refused with an error status). */
export interface RequestRecord {
  kind: string;
  watch: boolean;
  namespace?: string;
  /** The resourceVersion query parameter, '' when absent. */
  resourceVersion: string;
  query: Record<string, string>;
  /** The HTTP status answered; 0 for a request the 'hang' mode never answered. */
  status: number;
}

interface Stored {
  /** The object as the server holds it (kind and apiVersion included); anything for raw objects. */
  object: unknown;
  namespace?: string;
}

interface HistoryEntry {
  rv: number;
  plural: string;
  namespace?: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: unknown;
}

interface OpenWatch {
  resource: FakeResource;
  namespace?: string;
  bookmarks: boolean;
  res: http.ServerResponse;
  timer?: NodeJS.Timeout;
}

/**
 * How the server is down: 'refuse' closes the listening socket (connection refused), 'error'
 * answers 500, 'hang' accepts requests and never answers them (a black-holed server).
 */
export type DownMode = 'refuse' | 'error' | 'hang';

const PATH = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)$/;

function apiPrefix(apiVersion: string): string {
  return apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class FakeKubeApi {
  readonly token = crypto.randomBytes(12).toString('hex');
  /** Every list and watch request, in arrival order. */
  readonly requests: RequestRecord[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly watches = new Set<OpenWatch>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly store = new Map<string, Map<string, Stored>>(FAKE_RESOURCES.map((r) => [r.plural, new Map()]));
  private history: HistoryEntry[] = [];
  private rv = 1;
  /** Watches from a resourceVersion older than this get 410 Gone. */
  private compactedRv = 0;
  private goneAs: 'event' | 'status' = 'event';
  private downMode?: DownMode;
  private rawCount = 0;
  /** Plurals of the resources not served (a CRD not installed): 404 to lists and watches. */
  private readonly notInstalled = new Set<string>();
  private listening = false;
  private netns?: string;
  private portNumber = 0;

  private constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /**
   * Starts a server on 127.0.0.1 and a random port; with `netns`, on a random port of that
   * network namespace instead (for an agent running there), reachable at 127.0.0.1 inside it.
   */
  static async start(options: { netns?: string } = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi();
    api.netns = options.netns;
    await api.listen(0);
    return api;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Writes a kubeconfig for this server (plain http, so TLS verification is off) and returns its path. */
  writeKubeconfig(dir: string, file = 'kubeconfig'): string {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    };
    const full = path.join(dir, file);
    // JSON is YAML: any kubeconfig loader reads it.
    fs.writeFileSync(full, JSON.stringify(config, null, 2), { mode: 0o600 });
    return full;
  }

  // --- objects --------------------------------------------------------------------------------

  /** Creates an object (or replaces one of the same name: MODIFIED); returns it as stored. */
  add(obj: FakeObject): FakeObject {
    const resource = this.resourceOf(obj.kind);
    if (this.notInstalled.has(resource.plural)) throw new Error(`add: ${obj.kind} is not installed`);
    const namespace = resource.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const key = namespace ? `${namespace}/${obj.metadata.name}` : obj.metadata.name;
    const objects = this.objectsOf(resource);
    const existing = objects.get(key);
    const previousMeta = existing && isRecord(existing.object) && isRecord(existing.object.metadata) ? existing.object.metadata : undefined;
    const rv = this.bump();
    const stored: FakeObject = {
      ...obj,
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      metadata: {
        ...obj.metadata,
        ...(namespace ? { namespace } : {}),
        uid: typeof previousMeta?.uid === 'string' ? previousMeta.uid : crypto.randomUUID(),
        resourceVersion: String(rv),
      },
    };
    if (!namespace) delete stored.metadata.namespace;
    objects.set(key, { object: stored, namespace });
    this.record({ rv, plural: resource.plural, namespace, type: existing ? 'MODIFIED' : 'ADDED', object: stored });
    return structuredClone(stored);
  }

  /** Replaces an existing object: MODIFIED (throws when there is none). */
  update(obj: FakeObject): FakeObject {
    if (!this.get(obj.kind, obj.metadata.name, obj.metadata.namespace)) throw new Error(`update: no ${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`);
    return this.add(obj);
  }

  /** Deletes an object: DELETED carrying its last state (throws when there is none). */
  remove(kind: string, name: string, namespace?: string): void {
    const resource = this.resourceOf(kind);
    const ns = resource.namespaced ? (namespace ?? 'default') : undefined;
    const key = ns ? `${ns}/${name}` : name;
    const objects = this.objectsOf(resource);
    const existing = objects.get(key);
    if (!existing) throw new Error(`remove: no ${kind} ${key}`);
    objects.delete(key);
    const rv = this.bump();
    const object = isRecord(existing.object) && isRecord(existing.object.metadata)
      ? { ...existing.object, metadata: { ...existing.object.metadata, resourceVersion: String(rv) } }
      : existing.object;
    this.record({ rv, plural: resource.plural, namespace: ns, type: 'DELETED', object });
  }

  /** The well-formed objects of a kind, as stored (raw objects left out). */
  objects(kind: string): FakeObject[] {
    const resource = this.resourceOf(kind);
    return [...this.objectsOf(resource).values()]
      .map((s) => s.object)
      .filter((o): o is FakeObject => isRecord(o) && o.kind === resource.kind)
      .map((o) => structuredClone(o));
  }

  get(kind: string, name: string, namespace?: string): FakeObject | undefined {
    const resource = this.resourceOf(kind);
    const ns = resource.namespaced ? (namespace ?? 'default') : undefined;
    const stored = this.objectsOf(resource).get(ns ? `${ns}/${name}` : name);
    return stored ? (structuredClone(stored.object) as FakeObject) : undefined;
  }

  /**
   * Serves `raw` as an object of `kind` exactly as given (a malformed object: no name, a label
   * that is not a string, not even an object...): it appears in lists and as an ADDED event.
   * Its resourceVersion is set when it has a metadata object. Returns a handle for removeRaw.
   */
  addRaw(kind: string, raw: unknown): string {
    const resource = this.resourceOf(kind);
    const rv = this.bump();
    const object = isRecord(raw) ? { ...raw, metadata: isRecord(raw.metadata) ? { ...raw.metadata, resourceVersion: String(rv) } : raw.metadata } : raw;
    const handle = `raw:${++this.rawCount}`;
    this.objectsOf(resource).set(handle, { object });
    this.record({ rv, plural: resource.plural, type: 'ADDED', object });
    return handle;
  }

  /** Stops serving a raw object (no watch event: the API server cannot name it either). */
  removeRaw(kind: string, handle: string): void {
    this.objectsOf(this.resourceOf(kind)).delete(handle);
    this.bump();
  }

  // --- CRDs -----------------------------------------------------------------------------------

  /**
   * Stops serving a kind, as deleting its CRD does: the API server deletes its objects first
   * (DELETED events to open watches), then ends the watches, and from then on lists and watches
   * of it get 404 until install(). `silently`: the objects vanish without events, as a client
   * that was disconnected meanwhile would find (it learns only from the 404).
   */
  uninstall(kind: string, options: { silently?: boolean } = {}): void {
    const resource = this.resourceOf(kind);
    const objects = this.objectsOf(resource);
    for (const [key, stored] of [...objects]) {
      if (options.silently) objects.delete(key);
      else if (isRecord(stored.object) && isRecord(stored.object.metadata)) this.remove(kind, stored.object.metadata.name as string, stored.namespace);
      else this.removeRaw(kind, key);
    }
    this.notInstalled.add(resource.plural);
    this.bump();
    this.closeWatches(kind);
  }

  /** Serves a kind again (its CRD installed), with no objects. */
  install(kind: string): void {
    this.notInstalled.delete(this.resourceOf(kind).plural);
  }

  // --- connections ----------------------------------------------------------------------------

  /** Open watch connections, of one kind or all. */
  openWatches(kind?: string): number {
    return [...this.watches].filter((w) => kind === undefined || w.resource.kind === kind).length;
  }

  lists(kind?: string): RequestRecord[] {
    return this.requests.filter((r) => !r.watch && (kind === undefined || r.kind === kind));
  }

  watchRequests(kind?: string): RequestRecord[] {
    return this.requests.filter((r) => r.watch && (kind === undefined || r.kind === kind));
  }

  /** Destroys every open watch connection mid-stream, as a crashed server or a broken network would. */
  dropWatches(kind?: string): void {
    for (const w of [...this.watches]) {
      if (kind !== undefined && w.resource.kind !== kind) continue;
      this.forget(w);
      w.res.socket?.destroy();
    }
  }

  /** Ends every open watch cleanly (as the server does at timeoutSeconds). */
  closeWatches(kind?: string): void {
    for (const w of [...this.watches]) {
      if (kind !== undefined && w.resource.kind !== kind) continue;
      this.forget(w);
      w.res.end();
    }
  }

  /**
   * Forgets the history before `rv` (default: now), as etcd compaction does: a watch from an
   * older resourceVersion gets 410 Gone, as an ERROR event on a 200 response (what the API
   * server does) or, with `as: 'status'`, as an HTTP 410 response.
   */
  compact(rv = this.rv, as: 'event' | 'status' = 'event'): void {
    this.compactedRv = rv;
    this.goneAs = as;
    this.history = this.history.filter((h) => h.rv >= rv);
  }

  /** Sends an ERROR 410 event to the open watches and ends them (a watch that fell too far behind). */
  expireWatches(kind?: string): void {
    for (const w of [...this.watches]) {
      if (kind !== undefined && w.resource.kind !== kind) continue;
      this.forget(w);
      w.res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') })}\n`);
    }
  }

  /** Sends a BOOKMARK at the current resourceVersion to the open watches that asked for bookmarks. */
  bookmark(kind?: string): number {
    let sent = 0;
    for (const w of this.watches) {
      if (!w.bookmarks || (kind !== undefined && w.resource.kind !== kind)) continue;
      const object = { kind: w.resource.kind, apiVersion: w.resource.apiVersion, metadata: { resourceVersion: String(this.rv) } };
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
      sent++;
    }
    return sent;
  }

  /** Writes one line as is to the open watches of `kind` (say, something that is not JSON). */
  sendRawLine(kind: string, line: string): void {
    for (const w of this.watches) if (w.resource.kind === kind) w.res.write(`${line}\n`);
  }

  /** Requests held unanswered by the 'hang' mode. */
  hungRequests(): number {
    return this.hung.size;
  }

  /** Goes down (see DownMode); every open watch connection is cut. */
  async down(mode: DownMode = 'refuse'): Promise<void> {
    this.downMode = mode;
    if (mode === 'refuse' && this.listening) {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.listening = false;
      for (const socket of this.sockets) socket.destroy();
      this.watches.forEach((w) => this.forget(w));
      await closed;
    } else {
      this.dropWatches();
    }
  }

  /** Comes back up on the same port; requests left hanging are cut. */
  async up(): Promise<void> {
    this.downMode = undefined;
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
    if (!this.listening) await this.listen(this.portNumber);
  }

  async close(): Promise<void> {
    this.downMode = 'refuse';
    this.hung.clear();
    this.watches.forEach((w) => this.forget(w));
    for (const socket of this.sockets) socket.destroy();
    if (this.listening) {
      this.listening = false;
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  // --- internals ------------------------------------------------------------------------------

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const ready = () => {
        this.server.off('error', reject);
        this.portNumber = (this.server.address() as net.AddressInfo).port;
        this.listening = true;
        resolve();
      };
      // Without a host the socket is bound at once, so inside the namespace (with a host, Node
      // resolves it first and would bind later, back in this process's own namespace).
      if (this.netns) inNetns(this.netns, () => this.server.listen(port, ready));
      else this.server.listen(port, '127.0.0.1', ready);
    });
  }

  private resourceOf(kind: string): FakeResource {
    const resource = FAKE_RESOURCES.find((r) => r.kind === kind);
    if (!resource) throw new Error(`the fake API server does not serve ${kind}`);
    return resource;
  }

  private objectsOf(resource: FakeResource): Map<string, Stored> {
    return this.store.get(resource.plural)!;
  }

  private bump(): number {
    return ++this.rv;
  }

  private record(entry: HistoryEntry): void {
    this.history.push(entry);
    for (const w of this.watches) {
      if (w.resource.plural !== entry.plural || (w.namespace !== undefined && w.namespace !== entry.namespace)) continue;
      w.res.write(`${JSON.stringify({ type: entry.type, object: entry.object })}\n`);
    }
  }

  private forget(w: OpenWatch): void {
    clearTimeout(w.timer);
    this.watches.delete(w);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = PATH.exec(url.pathname);
    const resource = match ? FAKE_RESOURCES.find((r) => apiPrefix(r.apiVersion) === match[1] && r.plural === match[3]) : undefined;
    const namespace = match?.[2];
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === 'true' || query.watch === '1';
    const reply = (code: number, body: unknown) => {
      if (resource) this.requests.push({ kind: resource.kind, watch, namespace, resourceVersion: query.resourceVersion ?? '', query, status: code });
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (this.downMode === 'error') return reply(500, status(500, 'InternalError', 'the fake API server is down'));
    if (this.downMode === 'hang') {
      if (resource) this.requests.push({ kind: resource.kind, watch, namespace, resourceVersion: query.resourceVersion ?? '', query, status: 0 });
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    if (req.method !== 'GET') return reply(405, status(405, 'MethodNotAllowed', `${req.method} is not served`));
    if (req.headers.authorization !== `Bearer ${this.token}`) return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
    if (!resource || (namespace !== undefined && !resource.namespaced)) return reply(404, status(404, 'NotFound', `no resource at ${url.pathname}`));
    // The API server's answer for a resource no CRD defines.
    if (this.notInstalled.has(resource.plural)) return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (!watch) return reply(200, this.listBody(resource, namespace));

    const from = query.resourceVersion ?? '';
    const fromRv = Number(from);
    if (from !== '' && from !== '0' && (!Number.isInteger(fromRv) || fromRv < this.compactedRv)) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`);
      if (this.goneAs === 'status') return reply(410, gone);
      this.requests.push({ kind: resource.kind, watch, namespace, resourceVersion: from, query, status: 200 });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    this.requests.push({ kind: resource.kind, watch, namespace, resourceVersion: from, query, status: 200 });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { resource, namespace, bookmarks: query.allowWatchBookmarks === 'true', res };
    const inScope = (ns?: string) => namespace === undefined || ns === namespace;
    if (from === '' || from === '0') {
      // No resourceVersion: the current state as synthetic ADDED events, then changes.
      for (const stored of this.objectsOf(resource).values()) {
        if (inScope(stored.namespace)) res.write(`${JSON.stringify({ type: 'ADDED', object: stored.object })}\n`);
      }
    } else {
      for (const h of this.history) {
        if (h.rv > fromRv && h.plural === resource.plural && inScope(h.namespace)) res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
      }
    }
    const timeout = Number(query.timeoutSeconds);
    if (Number.isFinite(timeout) && timeout > 0) {
      w.timer = setTimeout(() => {
        this.forget(w);
        res.end();
      }, timeout * 1000);
    }
    this.watches.add(w);
    res.on('close', () => this.forget(w));
  }

  private listBody(resource: FakeResource, namespace?: string): Record<string, unknown> {
    const items: unknown[] = [];
    for (const stored of this.objectsOf(resource).values()) {
      if (namespace !== undefined && stored.namespace !== namespace) continue;
      // Lists carry kind and apiVersion once, on the list, not on the items.
      if (isRecord(stored.object) && stored.object.kind === resource.kind) {
        const { kind: _kind, apiVersion: _apiVersion, ...item } = stored.object;
        items.push(item);
      } else {
        items.push(stored.object);
      }
    }
    return { kind: `${resource.kind}List`, apiVersion: resource.apiVersion, metadata: { resourceVersion: String(this.rv) }, items };
  }
}
