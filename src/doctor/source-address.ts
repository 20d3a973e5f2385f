/**
 * Which address the probes leave from, when the operator did not say. The kernel picks the source
 * address per route, and behind NAT (most cloud VMs) the receivers see another one entirely, so this
 * is a guess, and the report says so. Pure: takes `os.networkInterfaces()`'s answer.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { classifyTarget, type TargetClass } from '../dns/target-filter.js';

export interface PickedAddress {
  readonly address: string;
  readonly interfaceName: string;
  readonly addressClass: TargetClass;
}

/** Lower ranks first: a public address is the likeliest to be the one receivers see. */
function rank(info: NetworkInterfaceInfo, cls: TargetClass): number {
  const v4 = info.family === 'IPv4';
  if (cls === 'public') return v4 ? 0 : 1;
  return v4 ? 2 : 3;
}

/**
 * The first non-internal address, public IPv4 preferred, then public IPv6, then private IPv4 and
 * IPv6. Link-local addresses (fe80::/10, 169.254/16) are never picked: nothing routes from them.
 */
export function pickSourceAddress(
  interfaces: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>,
): PickedAddress | null {
  let best: (PickedAddress & { rank: number }) | null = null;
  for (const [interfaceName, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal) continue;
      const cls = classifyTarget(info.address);
      if (cls === 'link_local' || cls === 'invalid' || cls === 'loopback' || cls === 'unspecified') continue;
      const candidate = { address: info.address, interfaceName, addressClass: cls, rank: rank(info, cls) };
      if (best === null || candidate.rank < best.rank) best = candidate;
    }
  }
  if (best === null) return null;
  return { address: best.address, interfaceName: best.interfaceName, addressClass: best.addressClass };
}
