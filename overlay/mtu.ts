/**
 * The pod MTU for an overlay: the underlay interface's MTU minus what encapsulation adds, so a
 * full-size pod packet never needs fragmenting. VXLAN adds an outer IP header (20 bytes IPv4,
 * 40 IPv6), UDP (8), VXLAN (8) and the inner Ethernet header (14): 50 over IPv4, 70 over IPv6.
 * Direct routing (host-gw) adds nothing.
 */
export type OverlayMode = 'vxlan' | 'host-gw' | 'hybrid';

export const VXLAN_OVERHEAD = { 4: 50, 6: 70 } as const;

/**
 * Pods of a node may talk over either path in hybrid mode, so they get the VXLAN figure; a node
 * with both underlay families gets the larger (IPv6) overhead, valid for both.
 */
export function podMtu(underlayMtu: number, mode: OverlayMode, underlayFamilies: readonly (4 | 6)[]): number {
  if (!Number.isInteger(underlayMtu) || underlayMtu < 576) throw new Error(`underlay MTU ${underlayMtu} is too small`);
  if (mode === 'host-gw') return underlayMtu;
  const overhead = Math.max(...underlayFamilies.map((f) => VXLAN_OVERHEAD[f]), VXLAN_OVERHEAD[4]);
  return underlayMtu - overhead;
}
