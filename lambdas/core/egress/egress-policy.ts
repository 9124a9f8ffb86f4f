import { BlockList, isIP, isIPv4 } from 'node:net';
import { PermissionDeniedError, ValidationError } from '../errors.ts';
import { parseCidr } from '../policy/conditions.ts';

/**
 * Where engines may connect: the administrator's allow-list of outbound targets (API-key providers, database hosts).
 *
 * An engine acts for whoever configured it, but it connects from Coffer's network position and, for a database or a
 * provider, sends a credential. Without a list, a caller who may configure rotation could point Coffer at a listener
 * of its own (and receive a credential) or at the cloud metadata service. So the default is **nothing**, and
 * loopback, link-local, unspecified and multicast addresses are refused unless an entry names them by address: a
 * host name or a wildcard never lets a target resolve to them (a DNS answer is the attacker's to choose).
 *
 * Entries (comma-separated in `COFFER_EGRESS_ALLOW`), each optionally followed by `:<port>` (any port without):
 * - `db.example.com` — exactly that host name; `*.example.com` — any name below it (not the bare domain);
 * - `10.0.0.5`, `10.0.0.0/8` — addresses; `[fd00::/8]` / `[::1]` — IPv6 (in brackets when a port follows);
 * - `*` — any public address (never the special ones).
 *
 * @example
 * const egress = EgressPolicy.parse('*.internal.example.com:5432, 10.0.0.0/8, 127.0.0.1:5432');
 * egress.check({ host: 'db.internal.example.com', port: 5432, purpose: 'database' }, ['10.1.2.3']);
 */
export class EgressPolicy {
  readonly #entries: readonly EgressEntry[];

  constructor(entries: readonly EgressEntry[]) {
    this.#entries = entries;
  }

  /** Nothing allowed: the default until an administrator sets the list. */
  static none(): EgressPolicy {
    return new EgressPolicy([]);
  }

  /** @throws ValidationError naming the entry that does not parse */
  static parse(list: string | readonly string[]): EgressPolicy {
    const texts = (typeof list === 'string' ? list.split(',') : list).map((s) => s.trim()).filter(Boolean);
    return new EgressPolicy(texts.map(parseEntry));
  }

  /** The entries as written, for status output. */
  describe(): string[] {
    return this.#entries.map((e) => e.text);
  }

  /**
   * Whether `target` may be reached at every one of `addresses` (what its name resolved to; for an IP literal, the
   * literal). All must pass: a name that resolves to one public and one loopback address is refused.
   * @throws PermissionDeniedError naming the target (never a credential) and the reason
   */
  check(target: EgressTarget, addresses: readonly string[]): void {
    const host = normaliseHost(target.host);
    if (addresses.length === 0) throw denied(target, 'it resolves to no address');
    for (const address of addresses) {
      if (!this.#allows(host, target.port, address)) {
        const special = specialRange(address);
        throw denied(
          target,
          special === undefined
            ? 'it is not on the outbound allow-list (COFFER_EGRESS_ALLOW)'
            : `it resolves to a ${special} address, which only an allow-list entry naming that address permits`,
        );
      }
    }
  }

  /**
   * The part of {@link check} that needs no resolution: refuses a target that no entry could match whatever its name
   * resolves to, so a refused name is not even looked up. @throws PermissionDeniedError
   */
  checkName(target: EgressTarget): void {
    const host = normaliseHost(target.host);
    if (isIP(host) !== 0) {
      this.check(target, [host]);
      return;
    }
    if (!this.mayReach(target)) throw denied(target, 'it is not on the outbound allow-list (COFFER_EGRESS_ALLOW)');
  }

  /** Can any entry match this host and port at all, before resolution? */
  mayReach(target: EgressTarget): boolean {
    const host = normaliseHost(target.host);
    const literal = isIP(host) !== 0;
    return this.#entries.some((entry) => {
      if (!portMatches(entry, target.port)) return false;
      if (literal) return this.#allows(host, target.port, host);
      // An address entry may match what the name resolves to: only resolving can tell.
      return entry.kind === 'address' || entry.kind === 'any' || namesHost(entry, host);
    });
  }

  #allows(host: string, port: number, address: string): boolean {
    const special = specialRange(address) !== undefined;
    return this.#entries.some((entry) => {
      if (!portMatches(entry, port)) return false;
      if (entry.kind === 'address') return inList(entry.list, address);
      return !special && (entry.kind === 'any' || namesHost(entry, host));
    });
  }
}

/** A connection an engine is about to make. */
export interface EgressTarget {
  readonly host: string;
  readonly port: number;
  /** What the connection is for, in refusals and audit, e.g. `api-key-http provider`. */
  readonly purpose: string;
}

export type EgressEntry = { readonly text: string; readonly port: number | undefined } & (
  | { readonly kind: 'any' }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'address'; readonly list: BlockList }
);

/**
 * The checked way out: resolves a target's name and checks every address against the policy. Adapters implement it
 * (DNS is I/O); engines connect only to the address it returns, so a second DNS answer cannot differ from the one
 * that was checked.
 */
export interface EgressGuard {
  /** @returns the address to connect to @throws PermissionDeniedError when the target is not allowed */
  resolve(target: EgressTarget): Promise<string>;
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function parseEntry(text: string): EgressEntry {
  const { pattern, port } = splitPort(text);
  const fail = (why: string) => new ValidationError(`invalid egress allow-list entry "${text}": ${why}`);
  if (pattern === '*') return { text, port, kind: 'any' };
  const cidr = parseCidr(pattern);
  if (cidr !== undefined) {
    const list = new BlockList();
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    return { text, port, kind: 'address', list };
  }
  const lower = pattern.toLowerCase();
  if (lower.startsWith('*.')) {
    const suffix = lower.slice(1);
    if (!HOST_NAME.test(suffix.slice(1))) throw fail('not a host name after "*."');
    return { text, port, kind: 'suffix', suffix };
  }
  if (lower.includes('*')) throw fail('a wildcard may only stand alone or as the first label ("*.example.com")');
  if (!HOST_NAME.test(lower)) throw fail('not a host name, address or CIDR');
  return { text, port, kind: 'name', name: lower.replace(/\.$/, '') };
}

function splitPort(text: string): { pattern: string; port: number | undefined } {
  const fail = () => new ValidationError(`invalid egress allow-list entry "${text}": bad port`);
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) throw new ValidationError(`invalid egress allow-list entry "${text}": missing "]"`);
    const rest = text.slice(close + 1);
    if (rest === '') return { pattern: text.slice(1, close), port: undefined };
    if (!/^:\d{1,5}$/.test(rest) || Number(rest.slice(1)) > 65_535) throw fail();
    return { pattern: text.slice(1, close), port: Number(rest.slice(1)) };
  }
  // A bare IPv6 address or CIDR has colons of its own and cannot carry a port.
  if (text.split(':').length > 2) return { pattern: text, port: undefined };
  const colon = text.lastIndexOf(':');
  if (colon === -1) return { pattern: text, port: undefined };
  const port = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65_535 || Number(port) === 0) throw fail();
  return { pattern: text.slice(0, colon), port: Number(port) };
}

/** A name entry naming `host` exactly, or a `*.suffix` entry with `host` below it. */
function namesHost(entry: EgressEntry, host: string): boolean {
  if (entry.kind === 'name') return host === entry.name;
  if (entry.kind === 'suffix') return host.endsWith(entry.suffix) && host.length > entry.suffix.length;
  return false;
}

function portMatches(entry: EgressEntry, port: number): boolean {
  return entry.port === undefined || entry.port === port;
}

function normaliseHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/\.$/, '');
}

const SPECIAL: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['255.255.255.255', 32, 'ipv4', 'broadcast'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
  // EC2's instance metadata service over IPv6 sits in the unique-local range, which `*` would otherwise reach.
  ['fd00:ec2::254', 128, 'ipv6', 'instance metadata'],
  // Addresses that embed an IPv4 one (IPv4-compatible, NAT64) could reach loopback or metadata through a translator.
  ['::', 96, 'ipv6', 'IPv4-embedding'],
  ['64:ff9b::', 96, 'ipv6', 'IPv4-embedding'],
  ['64:ff9b:1::', 48, 'ipv6', 'IPv4-embedding'],
];
const SPECIAL_LISTS = SPECIAL.map(([address, prefix, family, name]) => {
  const list = new BlockList();
  list.addSubnet(address, prefix, family);
  return { list, name };
});

/**
 * Loopback, link-local, unspecified, multicast, broadcast, instance metadata and IPv4-embedding IPv6: the addresses a
 * name or wildcard never unlocks.
 */
export function specialRange(address: string): string | undefined {
  return SPECIAL_LISTS.find(({ list }) => inList(list, address))?.name;
}

function inList(list: BlockList, address: string): boolean {
  const version = isIP(address);
  if (version === 4) return list.check(address, 'ipv4');
  if (version !== 6) return false;
  // '::ffff:127.0.0.1' reaches the IPv4 host: it must meet the IPv4 rules.
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return list.check(lower.slice(7), 'ipv4');
  return list.check(address, 'ipv6');
}

function denied(target: EgressTarget, why: string): PermissionDeniedError {
  return new PermissionDeniedError(
    `outbound connection refused: ${target.purpose} ${target.host}:${target.port}: ${why}`,
  );
}
