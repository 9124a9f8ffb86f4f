/**
 * Which `Host` a request may name. A listener on loopback is still reachable from a browser page through DNS
 * rebinding (`evil.example` re-pointed at 127.0.0.1): the browser then sends `Host: evil.example`, which is the one
 * thing the attacker cannot change. So only loopback names and the names an operator configured are answered.
 */

export interface AllowedHostsOptions {
  /**
   * Names accepted besides loopback, e.g. `coffer.internal` or `10.0.0.5`. Ports are ignored: rebinding is about
   * names, and a proxy in front may expose the node on another port.
   * @default [] (none)
   */
  readonly names?: readonly string[];
  /** Whether `localhost`, `127.x.x.x` and `[::1]` (any port) are accepted. @default true */
  readonly loopback?: boolean;
}

/** `host[:port]` as RFC 9110 allows it: a reg-name or IPv4 (no percent-encoding, no userinfo) or an IPv6 literal. */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{0,5})?$/;
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const MAX_REMEMBERED_HOSTS = 64;
/** A host name is at most 253 characters; with a port and brackets, a little more. */
const MAX_REMEMBERED_HOST_CHARS = 270;

/**
 * The host name of a `Host` header value, normalised as a browser would serialise it (lower case, IPv4 shorthand
 * such as `127.1` expanded, IPv6 compressed, no trailing dot), or `undefined` when it is not a valid host.
 * @example hostName('LocalHost:8270') // 'localhost'
 */
export function hostName(value: string): string | undefined {
  const trimmed = value.trim();
  // The shape check comes first: the URL parser would otherwise read `a@b` as userinfo and `a/b` as a path.
  if (!HOST_HEADER.test(trimmed)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(`http://${trimmed}/`);
  } catch {
    return undefined;
  }
  const name = parsed.hostname.endsWith('.') ? parsed.hostname.slice(0, -1) : parsed.hostname;
  return name === '' ? undefined : name;
}

/** Whether a normalised host name (see {@link hostName}) is a loopback name. */
export function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name === '[::1]' || LOOPBACK_V4.test(name);
}

/**
 * The name a listener bound to `address` is reached by (`10.0.0.5`, `[::1]`, `coffer.internal`), or `undefined` for a
 * wildcard (`0.0.0.0`, `::`), which names no host of its own.
 */
export function boundHostName(address: string): string | undefined {
  const name = hostName(address.includes(':') && !address.startsWith('[') ? `[${address}]` : address);
  return name === '0.0.0.0' || name === '[::]' ? undefined : name;
}

/**
 * The `Host` names one listener answers to.
 * @example
 * const hosts = new AllowedHosts({ names: ['coffer.internal'] });
 * hosts.allows('127.0.0.1:8270'); // true
 * hosts.allows('evil.example');   // false
 */
export class AllowedHosts {
  private readonly names: ReadonlySet<string>;
  private readonly loopback: boolean;
  /**
   * Answers by raw header value: clients send the same few `Host` values on every request, and parsing one with the
   * URL parser was a visible share of a request's CPU. Bounded in count and value length, so junk cannot grow it.
   */
  private readonly decided = new Map<string, boolean>();

  /** @throws RangeError when a configured name is not a valid host */
  constructor(options: AllowedHostsOptions = {}) {
    this.loopback = options.loopback ?? true;
    const names = new Set<string>();
    for (const configured of options.names ?? []) {
      const name = hostName(configured);
      if (name === undefined) throw new RangeError(`not a valid host name: ${JSON.stringify(configured)}`);
      names.add(name);
    }
    this.names = names;
  }

  /**
   * Whether a request naming `host` (a `Host` header value, port included or not) may be answered. No `Host` at all
   * (HTTP/1.0) is refused: every browser and HTTP/1.1 client sends one, and failing closed costs nothing real.
   */
  allows(host: string | undefined): boolean {
    if (host === undefined) return false;
    const known = this.decided.get(host);
    if (known !== undefined) return known;
    const name = hostName(host);
    const allowed = name !== undefined && (this.names.has(name) || (this.loopback && isLoopbackName(name)));
    if (host.length <= MAX_REMEMBERED_HOST_CHARS) {
      if (this.decided.size >= MAX_REMEMBERED_HOSTS) this.decided.clear();
      this.decided.set(host, allowed);
    }
    return allowed;
  }
}
