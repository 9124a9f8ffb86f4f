import { BlockList, isIP, isIPv4 } from 'node:net';
import * as z from 'zod';
import { type Cidr, parseCidr } from '../../policy/conditions.ts';

/** Bound on the CIDRs one role or credential may carry. */
export const MAX_BOUND_CIDRS = 64;

/** A list of CIDRs (`10.0.0.0/8`, or a bare address for one host), as roles' `*_bound_cidrs` take them. */
export const CidrListSchema = z
  .array(
    z
      .string()
      .max(64)
      .refine((text) => parseCidr(text) !== undefined, { error: 'must be a CIDR such as 10.0.0.0/8 or an IP address' }),
  )
  .max(MAX_BOUND_CIDRS);

/**
 * Whether `sourceIp` is inside one of `cidrs`; an empty list binds nothing (true). A source that is not an address
 * (a transport that could not tell) is inside no list: bound credentials fail closed.
 */
export function sourceAllowed(cidrs: readonly string[], sourceIp: string): boolean {
  if (cidrs.length === 0) return true;
  const version = isIP(sourceIp);
  if (version === 0) return false;
  const list = blockList(cidrs);
  if (version === 4) return list.check(sourceIp, 'ipv4');
  // '::ffff:1.2.3.4' is an IPv4 client seen through a dual-stack socket: it must meet IPv4 bounds.
  const lower = sourceIp.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) && list.check(lower.slice(7), 'ipv4')) return true;
  return list.check(sourceIp, 'ipv6');
}

/**
 * The CIDRs of `inner` that no CIDR of `outer` contains (a credential's bounds must be a subset of its role's). An
 * empty `outer` contains everything.
 */
export function cidrsOutside(inner: readonly string[], outer: readonly string[]): string[] {
  if (outer.length === 0) return [];
  const parsedOuter = outer.map(parseCidr).filter((cidr): cidr is Cidr => cidr !== undefined);
  return inner.filter((text) => {
    const cidr = parseCidr(text);
    if (cidr === undefined) return true;
    return !parsedOuter.some((container) => contains(container, cidr));
  });
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const list = new BlockList();
  list.addSubnet(outer.address, outer.prefix, outer.family);
  return list.check(inner.address, inner.family);
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    // The schema refused invalid CIDRs on write; one that slipped through binds nothing rather than everything.
    if (cidr !== undefined) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}
