/**
 * kernel/nflog against the real kernel, in a namespace of the test's own: packets an nftables
 * `log group` rule logs arrive with the rule's prefix and their headers (UDP and TCP, IPv4 and
 * IPv6); a second listener on the same group is refused (EPERM); listeners in two namespaces
 * each see their own namespace's packets only.
 */
import test, { type ExecutionContext } from 'ava';
import { execTool, systemBinary } from '../../kernel/exec';
import { openNflog, parsePacketHeaders, type NflogPacket } from '../../kernel/nflog';
import { eventually } from '../helpers/agent-process';
import { loopbackUp, tcpConnectLoopback } from '../helpers/loopback';
import { tempNetns } from '../helpers/netns';

const GROUP = 7;

/** A namespace with lo up, where UDP and TCP to port `port` on loopback are logged to GROUP. */
async function logged(t: ExecutionContext, port: number, prefix: string): Promise<string> {
  const ns = tempNetns(t, 'nflog');
  await loopbackUp(ns);
  const rules = `table inet t {\n chain out {\n  type filter hook output priority 0; policy accept;\n  meta l4proto { tcp, udp } th dport ${port} log prefix "${prefix}" group ${GROUP}\n }\n}\n`;
  const r = await execTool(systemBinary('nft'), ['-f', '-'], { netns: ns, input: rules });
  t.is(r.code, 0, r.stderr);
  return ns;
}

const SEND_UDP = `const s=require('dgram').createSocket(process.argv[2]);s.send('x',Number(process.argv[3]),process.argv[1],()=>s.close());`;

async function sendUdp(ns: string, address: string, port: number): Promise<void> {
  const r = await execTool(process.execPath, ['-e', SEND_UDP, address, address.includes(':') ? 'udp6' : 'udp4', String(port)], { netns: ns, timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(r.stderr);
}

test('logged packets arrive with their prefix and headers; the group is one listener per namespace', async (t) => {
  const ns = await logged(t, 9999, 'weft-test');
  const packets: NflogPacket[] = [];
  const listener = await openNflog({ group: GROUP, netns: ns }, (p) => packets.push(p));
  t.teardown(() => listener.close());
  await t.throwsAsync(openNflog({ group: GROUP, netns: ns }, () => undefined), { message: /^binding NFLOG group 7 in netns \S+: EPERM \(operation not permitted\): another listener has the group/ });

  await sendUdp(ns, '127.0.0.1', 9999);
  await sendUdp(ns, '::1', 9999);
  t.is(await tcpConnectLoopback(ns, 9999), 'connected');
  await eventually('three logged packets', () => (packets.length >= 3 ? true : undefined), 10_000);
  t.true(packets.every((p) => p.prefix === 'weft-test'));
  const headers = packets.map((p) => parsePacketHeaders(p.payload));
  t.like(headers[0], { family: 4, source: '127.0.0.1', destination: '127.0.0.1', protocol: 'udp', destinationPort: 9999, length: 29 });
  t.is(packets[0].family, 'ipv4');
  t.like(headers[1], { family: 6, source: '::1', destination: '::1', protocol: 'udp', destinationPort: 9999 });
  t.is(packets[1].family, 'ipv6');
  // The TCP connection: its SYN first (the listener's replies go to another port).
  t.like(headers[2], { family: 4, protocol: 'tcp', destinationPort: 9999, tcpFlags: 'SYN' });
  t.true((headers[2]?.sourcePort ?? 0) > 0);
  t.is(listener.overruns, 0);
});

test('a listener hears only its own namespace', async (t) => {
  const [a, b] = [await logged(t, 9001, 'a'), await logged(t, 9001, 'b')];
  const heard: Record<string, string[]> = { a: [], b: [] };
  const la = await openNflog({ group: GROUP, netns: a }, (p) => heard.a.push(p.prefix));
  t.teardown(() => la.close());
  const lb = await openNflog({ group: GROUP, netns: b }, (p) => heard.b.push(p.prefix));
  t.teardown(() => lb.close());
  await sendUdp(a, '127.0.0.1', 9001);
  await sendUdp(a, '127.0.0.1', 9001);
  await sendUdp(b, '127.0.0.1', 9001);
  await eventually('all three', () => (heard.a.length + heard.b.length >= 3 ? true : undefined), 10_000);
  t.deepEqual(heard, { a: ['a', 'a'], b: ['b'] });
});
