/** NFLOG: packets logged by netfilter rules, read over netlink (socket.ts) and summarised (packet.ts). */
export { openNflog, parseNflogMessage, type NflogListener, type NflogOptions, type NflogPacket } from './socket';
export { parsePacketHeaders, type PacketHeaders } from './packet';
