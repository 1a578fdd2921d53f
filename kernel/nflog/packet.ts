/**
 * The headers of an IP packet as NFLOG copies it (from the network header on): addresses,
 * protocol, ports (TCP, UDP, SCTP), TCP flags and ICMP type. Enough to say which connection a
 * logged packet belongs to; a packet cut short (the copy range) or a later fragment gives what
 * its bytes hold. Pure.
 */
import { bytesToIp } from '../netlink/ip';

export interface PacketHeaders {
  family: 4 | 6;
  source: string;
  destination: string;
  /** "tcp", "udp", "sctp", "icmp", "ipv6-icmp", or the protocol number. */
  protocol: string;
  sourcePort?: number;
  destinationPort?: number;
  /** TCP flags set, in the order tcpdump prints them ("SYN", "SYN,ACK"). */
  tcpFlags?: string;
  icmpType?: number;
  /** The packet's length as its IP header says. */
  length: number;
}

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp' };
const TCP_FLAGS: [number, string][] = [[0x02, 'SYN'], [0x01, 'FIN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG']];

/** IPv6 extension headers walked to reach the transport header (hop-by-hop, routing, destination options, fragment, AH). */
const EXTENSIONS = new Set([0, 43, 44, 51, 60]);

function transport(out: PacketHeaders, proto: number, l4: Buffer): void {
  out.protocol = PROTOCOLS[proto] ?? String(proto);
  if ((proto === 6 || proto === 17 || proto === 132) && l4.length >= 4) {
    out.sourcePort = l4.readUInt16BE(0);
    out.destinationPort = l4.readUInt16BE(2);
  }
  if (proto === 6 && l4.length >= 14) out.tcpFlags = TCP_FLAGS.filter(([bit]) => l4[13] & bit).map(([, name]) => name).join(',');
  if ((proto === 1 || proto === 58) && l4.length >= 1) out.icmpType = l4[0];
}

function ipv4(b: Buffer): PacketHeaders | undefined {
  if (b.length < 20) return undefined;
  const ihl = (b[0] & 0x0f) * 4;
  const out: PacketHeaders = { family: 4, source: bytesToIp(b.subarray(12, 16)), destination: bytesToIp(b.subarray(16, 20)), protocol: String(b[9]), length: b.readUInt16BE(2) };
  // A later fragment carries no transport header.
  const fragmentOffset = b.readUInt16BE(6) & 0x1fff;
  transport(out, b[9], fragmentOffset === 0 && ihl >= 20 ? b.subarray(ihl) : Buffer.alloc(0));
  return out;
}

function ipv6(b: Buffer): PacketHeaders | undefined {
  if (b.length < 40) return undefined;
  const out: PacketHeaders = { family: 6, source: bytesToIp(b.subarray(8, 24)), destination: bytesToIp(b.subarray(24, 40)), protocol: String(b[6]), length: 40 + b.readUInt16BE(4) };
  let next = b[6];
  let offset = 40;
  while (EXTENSIONS.has(next)) {
    if (offset + 8 > b.length) return { ...out, protocol: String(next) };
    const header = next;
    next = b[offset];
    if (header === 44) {
      // A fragment header: only the first fragment holds the transport header.
      if ((b.readUInt16BE(offset + 2) & 0xfff8) !== 0) {
        out.protocol = PROTOCOLS[next] ?? String(next);
        return out;
      }
      offset += 8;
    } else offset += header === 51 ? (b[offset + 1] + 2) * 4 : (b[offset + 1] + 1) * 8;
  }
  transport(out, next, offset <= b.length ? b.subarray(offset) : Buffer.alloc(0));
  return out;
}

/** The headers of a packet starting at its IP header; undefined when it is not IPv4 or IPv6, or too short. */
export function parsePacketHeaders(packet: Buffer): PacketHeaders | undefined {
  if (packet.length < 1) return undefined;
  const version = packet[0] >> 4;
  return version === 4 ? ipv4(packet) : version === 6 ? ipv6(packet) : undefined;
}
