/**
 * A host-network server for cnp-conformance.test.ts, run inside a lab node's namespace: it
 * answers every TCP connection and UDP datagram on the given ports of ONE address with its id.
 *
 *   node node-responder.js ID ADDRESS TCP_PORTS UDP_PORTS      (ports comma-separated)
 *
 * Why not the lab's pod server: it listens on every address, and a node has several (its
 * underlay address, its pod bridge's). A UDP answer from a socket bound to every address leaves
 * from the address of the route back to the client, which for a pod of the same node is the
 * bridge's, not the one the pod sent to, and the pod's connected socket drops it. Bound to the
 * address the pods probe (the Node object's InternalIP), the answer comes from it.
 *
 * Prints "ready" once every port listens. Only node: modules: this starts while the test waits.
 */
import dgram from 'node:dgram';
import net from 'node:net';

function ports(text: string | undefined): number[] {
  return (text ?? '').split(',').filter(Boolean).map(Number);
}

async function main([id, address, tcp, udp]: string[]): Promise<void> {
  if (!id || !address) throw new Error('usage: node-responder ID ADDRESS TCP_PORTS UDP_PORTS');
  const answer = `${id}\n`;
  const servers = [
    ...ports(tcp).map(
      (port) =>
        new Promise<void>((resolve, reject) => {
          const server = net.createServer((socket) => {
            socket.on('error', () => undefined);
            socket.end(answer);
          });
          server.once('error', reject);
          server.listen({ port, host: address }, resolve);
        }),
    ),
    ...ports(udp).map(
      (port) =>
        new Promise<void>((resolve, reject) => {
          const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
          socket.on('message', (_msg, from) => socket.send(answer, from.port, from.address));
          socket.once('error', reject);
          socket.bind(port, address, resolve);
        }),
    ),
  ];
  await Promise.all(servers);
  process.stdout.write('ready\n');
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`node-responder: ${err.message}\n`);
  process.exit(1);
});
