/**
 * The iptables backend's rendering of service proxying, without a kernel: the chains and sets it
 * renders are walked by a small interpreter of the nat and filter semantics they rely on (jumps,
 * DNAT, the masquerade mark, statistic as a choice of both ways, set and addrtype lookups), and
 * what a packet ends as is compared with kube-proxy's semantics, case by case. Also: the printed
 * form of probabilities, which chains a change rewrites, hooks only with a job, IPv6, and the
 * size of 1,000 services x 10 endpoints.
 */
import test from 'ava';
import { committedTables, diffIptables } from '../../agent/backend/iptables/backend';
import { IptablesNames } from '../../agent/backend/iptables/names';
import { renderIptables, type DesiredIpset, type IptablesRendering } from '../../agent/backend/iptables/render';
import { probability } from '../../agent/backend/iptables/render-services';
import type { NodeState } from '../../agent/dataplane/node-state';
import type { ServiceEndpoint, ServicePortState } from '../../agent/dataplane/service-state';
import { addr, inNet } from '../helpers/address-match';
import { portState } from '../helpers/service-ports';

/** A TCP port of x/NAME in the cluster IP's family, with these local endpoints. */
const port = (name: string, clusterIp: string, servicePort: number, endpoints: [string, number][], extra: Partial<ServicePortState> = {}): ServicePortState =>
  portState(name, { family: clusterIp.includes(':') ? 6 : 4, clusterIp, port: servicePort, endpoints: endpoints.map(([ip, p]) => ({ ip, port: p, local: true })), ...extra });

const NODE_IP = '10.0.0.1';
const GATEWAY = '10.244.0.1';
const P1 = '10.244.0.11';
const P2 = '10.244.0.12';
const P3 = '10.244.0.13';
const REMOTE = '10.0.0.2';
const LOCAL_ADDRESSES = new Set([NODE_IP, GATEWAY, 'fd00:0:1::1']);

const remoteP2: ServiceEndpoint = { ip: P2, port: 8080, local: false };

const PORTS: ServicePortState[] = [
  port('web', '10.96.0.10', 80, [[P1, 80], [P2, 80]]),
  port('none', '10.96.0.12', 80, [], { nodePort: 30012 }),
  port('npc', '10.96.0.14', 8080, [[P1, 8080]], { nodePort: 30080, externalIps: ['192.0.2.20'] }),
  port('npl', '10.96.0.15', 8080, [[P1, 8080]], { nodePort: 30081, externalPolicyLocal: true }),
  port('far', '10.96.0.22', 8080, [], { nodePort: 30090, externalPolicyLocal: true, clusterEndpoints: [remoteP2], externalEndpoints: [], anyEndpoints: true }),
  port('lb', '10.96.0.21', 80, [[P1, 80]], { loadBalancerIps: ['192.0.2.21'], loadBalancerSourceRanges: ['10.0.0.0/24'] }),
  port('itl', '10.96.0.40', 8080, [], { nodePort: 30100, internalPolicyLocal: true, externalEndpoints: [remoteP2], anyEndpoints: true }),
  port('web6', 'fd00:96::10', 80, [['fd00:10:244::11', 80], ['fd00:10:244::12', 80]]),
];

function state(ports: ServicePortState[] = PORTS, extra: Partial<NodeState> = {}): NodeState {
  return {
    nodeName: 'n1',
    localPods: [],
    services: {
      state: { ports: [...ports].sort((a, b) => (a.key < b.key ? -1 : 1)), nodePortAddresses: [NODE_IP], healthChecks: [], problems: [] },
      clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/64'],
    },
    ...extra,
  };
}

// ---- an interpreter of the rendered nat and filter rules ----

interface Packet {
  src: string;
  dst: string;
  dport: number;
  /** Sent by the node itself (nat and filter OUTPUT), else arriving (PREROUTING). */
  fromNode?: boolean;
}

type Ending = { kind: 'dnat'; to: string } | { kind: 'drop' | 'reject' | 'masquerade' | 'end' };
interface Path {
  marked: boolean;
  ending: Ending;
}


function setMatches(set: DesiredIpset, flags: string, p: Packet): boolean {
  if (addr(p.src).family !== (set.family === 'inet' ? 4 : 6)) return false;
  if (set.type === 'hash:ip,port' && flags === 'dst,dst') return set.elements.includes(`${p.dst},tcp:${p.dport}`);
  if (set.type === 'hash:net' && flags === 'src') return set.elements.some((n) => inNet(p.src, n));
  throw new Error(`set ${set.name} (${set.type}) used with ${flags}`);
}

/** Whether the rule's matches hold: true, false, or 'either' (a random choice). */
function matches(words: readonly string[], p: Packet, marked: boolean, sets: Map<string, DesiredIpset>): boolean | 'either' {
  let result: boolean | 'either' = true;
  let negate = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let ok: boolean | 'either' = true;
    switch (w) {
      case '!':
        negate = true;
        continue;
      case '-m':
      case '--comment':
      case '--mode':
      case '--seconds':
      case '--name':
      case '--mask':
        i++;
        continue;
      case '--reap':
      case '--rsource':
      case '--set':
        continue;
      case '--rcheck':
        ok = false; // a client seen for the first time
        break;
      case '-s':
        ok = inNet(p.src, words[++i]);
        break;
      case '-d':
        ok = inNet(p.dst, words[++i]);
        break;
      case '-p':
        ok = words[++i] === 'tcp';
        break;
      case '--dport':
        ok = p.dport === Number(words[++i]);
        break;
      case '--ctstate':
        ok = words[++i] === 'NEW';
        break;
      case '--src-type':
      case '--dst-type':
        if (words[++i] !== 'LOCAL') throw new Error(words[i]);
        ok = LOCAL_ADDRESSES.has(w === '--src-type' ? p.src : p.dst);
        break;
      case '--mark':
        if (words[++i] !== '0x4000/0x4000') throw new Error(words[i]);
        ok = marked;
        break;
      case '--probability':
        i++;
        ok = 'either';
        break;
      case '--match-set': {
        const set = sets.get(words[++i]);
        if (!set) throw new Error(`rule uses set ${words[i]}, which is not rendered`);
        ok = setMatches(set, words[++i], p);
        break;
      }
      default:
        throw new Error(`the interpreter does not know ${w} (in ${words.join(' ')})`);
    }
    if (ok !== 'either' && ok === negate) return false;
    if (ok === 'either') result = 'either';
    negate = false;
  }
  return result;
}

/** Every way through `chain` (user chains fall back to their caller: ending 'end'). */
function walk(chains: Map<string, string[][]>, sets: Map<string, DesiredIpset>, chain: string, p: Packet, marked: boolean, from = 0): Path[] {
  const rules = chains.get(chain);
  if (!rules) throw new Error(`no chain ${chain}`);
  for (let i = from; i < rules.length; i++) {
    const words = rules[i];
    const j = words.indexOf('-j');
    const m = matches(words.slice(0, j), p, marked, sets);
    if (m === false) continue;
    const [target, ...options] = words.slice(j + 1);
    const taken = ((): Path[] => {
      switch (target) {
        case 'DNAT':
          return [{ marked, ending: { kind: 'dnat', to: options[1] } }];
        case 'DROP':
          return [{ marked, ending: { kind: 'drop' } }];
        case 'REJECT':
          return [{ marked, ending: { kind: 'reject' } }];
        case 'MASQUERADE':
          return [{ marked, ending: { kind: 'masquerade' } }];
        case 'RETURN':
          return [{ marked, ending: { kind: 'end' } }];
        case 'MARK':
          return walk(chains, sets, chain, p, options[1] === '0x4000/0x4000', i + 1);
        default:
          return walk(chains, sets, target, p, marked).flatMap((sub) => (sub.ending.kind === 'end' ? walk(chains, sets, chain, p, sub.marked, i + 1) : [sub]));
      }
    })();
    return m === 'either' ? [...taken, ...walk(chains, sets, chain, p, marked, i + 1)] : taken;
  }
  return [{ marked, ending: { kind: 'end' } }];
}

/**
 * What becomes of a new connection's first packet, each possible way: 'ENDPOINT masq' or
 * 'ENDPOINT' (DNAT, with or without masquerade in postrouting), 'drop', 'reject', or 'pass'
 * (neither NAT nor filter touched it).
 */
function fate(r: IptablesRendering, p: Packet): string[] {
  const family = addr(p.src).family === 4 ? 'ipv4' : 'ipv6';
  const table = (t: string) => new Map(r.chains[family].filter((c) => c.table === t).map((c) => [c.name, c.rules]));
  const sets = new Map(r.sets.map((s) => [s.name, s]));
  const nat = table('nat');
  const filter = table('filter');
  const hooked = (chains: Map<string, string[][]>, name: string, q: Packet, marked: boolean): Path[] => (chains.has(name) ? walk(chains, sets, name, q, marked) : [{ marked, ending: { kind: 'end' } }]);
  const out = new Set<string>();
  for (const path of hooked(nat, p.fromNode ? 'WEFT-OUTPUT' : 'WEFT-PREROUTING', p, false)) {
    const to = path.ending.kind === 'dnat' ? path.ending.to : undefined;
    const after: Packet = to ? { ...p, dst: to.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), dport: Number(to.split(':').pop()) } : p;
    const hook = p.fromNode ? 'WEFT-OUTPUT' : LOCAL_ADDRESSES.has(after.dst) ? 'WEFT-INPUT' : 'WEFT-FORWARD';
    const verdicts = hooked(filter, hook, after, path.marked).map((v) => v.ending.kind);
    for (const v of verdicts) {
      if (v === 'drop' || v === 'reject') {
        out.add(v);
        continue;
      }
      const post = hooked(nat, 'WEFT-POSTROUTING', after, path.marked).some((q) => q.ending.kind === 'masquerade');
      out.add(to ? `${to}${post ? ' masq' : ''}` : post ? 'pass masq' : 'pass');
    }
  }
  return [...out].sort();
}

const rendered = renderIptables(state(), 'WEFT');
const fateOf = (p: Packet) => fate(rendered, p);

test('cluster IPs: spread over the endpoints; off-cluster clients and hairpin masqueraded; other traffic untouched', (t) => {
  t.deepEqual(fateOf({ src: P3, dst: '10.96.0.10', dport: 80 }), [`${P1}:80`, `${P2}:80`]);
  t.deepEqual(fateOf({ src: REMOTE, dst: '10.96.0.10', dport: 80 }), [`${P1}:80 masq`, `${P2}:80 masq`], 'a client outside the cluster CIDRs');
  t.deepEqual(fateOf({ src: NODE_IP, dst: '10.96.0.10', dport: 80, fromNode: true }), [`${P1}:80 masq`, `${P2}:80 masq`], 'the node itself');
  t.deepEqual(fateOf({ src: P1, dst: '10.96.0.10', dport: 80 }), [`${P1}:80 masq`, `${P2}:80`], 'hairpin: only the endpoint reaching itself');
  t.deepEqual(fateOf({ src: P3, dst: '10.96.0.10', dport: 81 }), ['pass'], 'another port of the cluster IP');
  t.deepEqual(fateOf({ src: P3, dst: '10.96.0.50', dport: 80 }), ['pass'], 'not a service');
  t.deepEqual(fateOf({ src: 'fd00:10:244::13', dst: 'fd00:96::10', dport: 80 }), ['[fd00:10:244::11]:80', '[fd00:10:244::12]:80'], 'IPv6');
});

test('no endpoints anywhere: every frontend rejects; endpoints this node may not use: dropped', (t) => {
  t.deepEqual(fateOf({ src: P3, dst: '10.96.0.12', dport: 80 }), ['reject']);
  t.deepEqual(fateOf({ src: NODE_IP, dst: '10.96.0.12', dport: 80, fromNode: true }), ['reject']);
  t.deepEqual(fateOf({ src: REMOTE, dst: NODE_IP, dport: 30012 }), ['reject'], 'its node port');
  t.deepEqual(fateOf({ src: P3, dst: '10.96.0.40', dport: 8080 }), ['drop'], 'internalTrafficPolicy Local, no local endpoint');
  t.deepEqual(fateOf({ src: REMOTE, dst: NODE_IP, dport: 30100 }), [`${P2}:8080 masq`], 'while external traffic (policy Cluster) uses every endpoint');
});

test('node ports and external IPs: Cluster masquerades; Local keeps the client, short-circuits pods and the node, drops without local endpoints', (t) => {
  t.deepEqual(fateOf({ src: REMOTE, dst: NODE_IP, dport: 30080 }), [`${P1}:8080 masq`]);
  t.deepEqual(fateOf({ src: REMOTE, dst: '192.0.2.20', dport: 8080 }), [`${P1}:8080 masq`], 'external IP');
  t.deepEqual(fateOf({ src: REMOTE, dst: GATEWAY, dport: 30080 }), ['pass'], 'not a node-port address');
  t.deepEqual(fateOf({ src: REMOTE, dst: NODE_IP, dport: 30081 }), [`${P1}:8080`], 'Local: the client address is kept');
  t.deepEqual(fateOf({ src: P3, dst: NODE_IP, dport: 30081 }), [`${P1}:8080`]);
  t.deepEqual(fateOf({ src: NODE_IP, dst: NODE_IP, dport: 30081, fromNode: true }), [`${P1}:8080 masq`]);
  t.deepEqual(fateOf({ src: REMOTE, dst: NODE_IP, dport: 30090 }), ['drop'], 'Local, endpoints only elsewhere');
  t.deepEqual(fateOf({ src: P3, dst: NODE_IP, dport: 30090 }), [`${P2}:8080`], 'a pod goes to any endpoint');
  t.deepEqual(fateOf({ src: NODE_IP, dst: NODE_IP, dport: 30090, fromNode: true }), [`${P2}:8080 masq`], 'so does the node');
});

test('load-balancer source ranges: other sources dropped, the node itself and the cluster IP unaffected', (t) => {
  t.deepEqual(fateOf({ src: REMOTE, dst: '192.0.2.21', dport: 80 }), [`${P1}:80 masq`]);
  t.deepEqual(fateOf({ src: '198.51.100.7', dst: '192.0.2.21', dport: 80 }), ['drop']);
  t.deepEqual(fateOf({ src: P3, dst: '192.0.2.21', dport: 80 }), ['drop']);
  t.deepEqual(fateOf({ src: GATEWAY, dst: '192.0.2.21', dport: 80, fromNode: true }), [`${P1}:80 masq`]);
  t.deepEqual(fateOf({ src: '198.51.100.7', dst: '10.96.0.21', dport: 80 }), [`${P1}:80 masq`]);
});

test('probabilities are written as iptables-save prints them', (t) => {
  t.is(probability(2), '0.50000000000');
  t.is(probability(3), '0.33333333349');
  t.is(probability(10), '0.10000000009');
  // 1/4096 is stored exactly and ends in a 5 at the 12th decimal: glibc rounds the tie to even.
  t.is(probability(4096), '0.00024414062');
});

test('affinity: each endpoint remembered in its own recent list, checked before the random choice', (t) => {
  const r = renderIptables(state([port('sticky', '10.96.0.13', 80, [[P1, 80], [P2, 80]], { affinityTimeoutSeconds: 600 })]), 'WEFT');
  const names = new IptablesNames('WEFT');
  const svc = r.chains.ipv4.find((c) => c.name === names.servicePortChain('SVC', 'x/sticky::tcp:v4'))!;
  const seps = [P1, P2].map((ip) => names.endpointChain('x/sticky::tcp:v4', ip, 80));
  t.deepEqual(
    svc.rules.slice(1, 3).map((w) => w.filter((x) => x.startsWith('WEFT-') || /^\d+$/.test(x) || x === '--rcheck')),
    seps.map((s) => ['--rcheck', '600', s, s]),
  );
  for (const s of seps) t.true(r.chains.ipv4.find((c) => c.name === s)!.rules[1].join(' ').includes(`-m recent --set --name ${s}`));
});

test('chains are hooked only with a job; the service masquerade comes before the pods\' in one POSTROUTING chain', (t) => {
  const hooks = (s: NodeState) => renderIptables(s, 'WEFT').chains.ipv4.filter((c) => c.hook).map((c) => `${c.table} ${c.name}`);
  t.deepEqual(hooks({ nodeName: 'n1', localPods: [] }), []);
  t.deepEqual(hooks(state([])), [], 'services with no ports');
  t.deepEqual(hooks(state([port('none', '10.96.0.12', 80, [])])), ['filter WEFT-INPUT', 'filter WEFT-FORWARD', 'filter WEFT-OUTPUT'], 'no endpoints: filter only');
  t.deepEqual(hooks(state([port('web', '10.96.0.10', 80, [[P1, 80]])])), ['nat WEFT-PREROUTING', 'nat WEFT-OUTPUT', 'nat WEFT-POSTROUTING'], 'endpoints: nat only');

  const masquerade = { sources: ['10.244.0.0/24'], exceptDestinations: ['10.244.0.0/16'] };
  const post = renderIptables(state([port('web', '10.96.0.10', 80, [[P1, 80]])], { masquerade }), 'WEFT').chains.ipv4.filter((c) => c.table === 'nat' && c.name === 'WEFT-POSTROUTING');
  t.is(post.length, 1);
  t.deepEqual(
    post[0].rules.map((w) => w[w.indexOf('-j') + 1]),
    ['WEFT-MASQ-MARKED', 'RETURN', 'MASQUERADE'],
  );
  const v6 = renderIptables(state([port('web6', 'fd00:96::10', 80, [['fd00:10:244::11', 80]])]), 'WEFT');
  t.deepEqual(v6.chains.ipv4, [], 'an IPv6 port renders nothing in iptables');
  t.true(v6.chains.ipv6.some((c) => c.rules.some((w) => w.join(' ').endsWith('-j DNAT --to-destination [fd00:10:244::11]:80'))));
  t.deepEqual(v6.sets.map((s) => `${s.name} ${s.family}`), ['weft-svc6 inet6', 'weft-cidrs6 inet6']);
  const reject6 = renderIptables(state([port('none6', 'fd00:96::12', 80, [])]), 'WEFT').chains.ipv6.find((c) => c.name === 'WEFT-SVC-REJECT')!;
  t.deepEqual(reject6.rules.map((w) => w.slice(w.indexOf('-j') + 1).join(' ')), ['REJECT --reject-with tcp-reset', 'REJECT --reject-with icmp6-port-unreachable']);
});

/** The transaction from state `a` (as committed) to `b`: chains declared (rewritten) and deleted. */
function change(a: NodeState, b: NodeState): { declared: string[]; deleted: string[] } {
  const chains = renderIptables(b, 'WEFT').chains.ipv4;
  const tx = diffIptables('ipv4', 'WEFT', chains, committedTables(renderIptables(a, 'WEFT').chains.ipv4));
  const lines = tx.render().split('\n');
  const deleted = lines.filter((l) => l.startsWith('-X ')).map((l) => l.slice(3));
  const declared = lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]).filter((n) => !deleted.includes(n));
  return { declared: declared.sort(), deleted: deleted.sort() };
}

test('a change to one service\'s endpoints rewrites its service chain and adds or deletes its endpoint chains, nothing else', (t) => {
  const names = new IptablesNames('WEFT');
  t.deepEqual(change(state(), state()), { declared: [], deleted: [] }, 'the same state: nothing');
  const fewer = PORTS.map((p) => (p.key === 'x/web::tcp:v4' ? port('web', '10.96.0.10', 80, [[P2, 80]]) : p));
  t.deepEqual(change(state(), state(fewer)), { declared: [names.servicePortChain('SVC', 'x/web::tcp:v4')], deleted: [names.endpointChain('x/web::tcp:v4', P1, 80)] });
  const more = PORTS.map((p) => (p.key === 'x/web::tcp:v4' ? port('web', '10.96.0.10', 80, [[P1, 80], [P2, 80], [P3, 80]]) : p));
  t.deepEqual(change(state(), state(more)), { declared: [names.servicePortChain('SVC', 'x/web::tcp:v4'), names.endpointChain('x/web::tcp:v4', P3, 80)].sort(), deleted: [] });
  // A new service adds its frontend to the dispatch chain (one rule per frontend, as kube-proxy's KUBE-SERVICES).
  const added = [...PORTS, port('new', '10.96.0.60', 80, [[P3, 80]])];
  t.deepEqual(change(state(), state(added)), {
    declared: ['WEFT-SERVICES', names.servicePortChain('SVC', 'x/new::tcp:v4'), names.endpointChain('x/new::tcp:v4', P3, 80)].sort(),
    deleted: [],
  });
});

test('1,000 services x 10 endpoints: one dispatch rule per service, one chain per service and per endpoint', (t) => {
  const ports: ServicePortState[] = [];
  for (let s = 0; s < 1000; s++) {
    const endpoints: [string, number][] = [];
    for (let e = 0; e < 10; e++) endpoints.push([`10.${100 + Math.floor((s * 10 + e) / 65536)}.${Math.floor(((s * 10 + e) % 65536) / 256)}.${(s * 10 + e) % 256}`, 8080]);
    ports.push(port(`svc${s}`, `10.96.${Math.floor(s / 256)}.${s % 256}`, 80, endpoints));
  }
  const r = renderIptables(state(ports), 'WEFT');
  const chains = r.chains.ipv4;
  const rules = chains.reduce((n, c) => n + c.rules.length, 0);
  const elements = r.sets.reduce((n, s) => n + s.elements.length, 0);
  t.log({ chains: chains.length, rules, setElements: elements });
  // Dispatch 1,000; each service chain 1 mark + 10 picks; each endpoint chain hairpin + DNAT; 6 fixed.
  t.is(rules, 1000 + 1000 * 11 + 10_000 * 2 + 6);
  t.is(chains.length, 1000 + 10_000 + 6);
  t.is(elements, 1000 + 1, 'the frontend set and the cluster CIDR');
  t.true(chains.every((c) => c.name.length <= 28));
});

test('names: service chains fit iptables\' 28 characters, or the prefix is refused', (t) => {
  t.is(new IptablesNames('WEFT').endpointChain('x/a::tcp:v4', P1, 80).length, 21);
  t.throws(() => new IptablesNames('A-LONG-PREFIX').endpointChain('x/a::tcp:v4', P1, 80), { message: /longer than 28/ });
  t.true(new IptablesNames('WEFT').ownsSet('weft-svdrop6'));
  t.false(new IptablesNames('WEFT').ownsSet('weft-svdrop'));
});
