import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import type { EgressGuard, EgressPolicy, EgressTarget } from '../../core/egress/egress-policy.ts';

type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => {
      if (err !== null) reject(err);
      else resolve(addresses.map((a) => a.address));
    });
  });

/**
 * The egress guard on Node: resolves a name with the system resolver and checks every address it gets against the
 * policy before anything connects. Engines then connect to the returned address (PostgreSQL) or through
 * {@link guardedFetch}, whose connector performs the same check on the address it actually dials, so a DNS answer that
 * changes between check and connect (rebinding) cannot slip through.
 *
 * @example
 * const guard = new DnsEgressGuard(EgressPolicy.parse(config.egressAllow));
 * const address = await guard.resolve({ host: 'db.internal', port: 5432, purpose: 'database' });
 */
export class DnsEgressGuard implements EgressGuard {
  readonly #policy: EgressPolicy;
  readonly #resolve: Resolve;

  /** @param resolve the resolver, so tests can answer for names. @default the system resolver (dns.lookup) */
  constructor(policy: EgressPolicy, resolve: Resolve = systemResolve) {
    this.#policy = policy;
    this.#resolve = resolve;
  }

  get policy(): EgressPolicy {
    return this.#policy;
  }

  async resolve(target: EgressTarget): Promise<string> {
    const host = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
    // Fail on the name before asking DNS: a refused target should not even be looked up.
    this.#policy.checkName(target);
    const addresses = isIP(host) !== 0 ? [host] : await this.#resolve(host);
    this.#policy.check(target, addresses);
    return addresses[0]!;
  }
}

/**
 * A `fetch` whose every connection goes through the guard: its connector checks the URL's host and port and dials
 * the address it checked (TLS still verifies the certificate against the host name). Redirects are the caller's to
 * refuse (`redirect: 'manual'`).
 */
export function guardedFetch(guard: EgressGuard, purpose: string): typeof fetch {
  const connect = buildConnector({});
  const agent = new Agent({
    connect: (options, callback) => {
      const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
      guard.resolve({ host: options.hostname, port, purpose }).then(
        (address) => {
          const servername = options.servername ?? (isIP(options.hostname) === 0 ? options.hostname : undefined);
          connect({ ...options, hostname: address, ...(servername === undefined ? {} : { servername }) }, callback);
        },
        (err: Error) => callback(err, null),
      );
    },
  });
  return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undiciFetch(input as never, { ...(init as object), dispatcher: agent } as never)) as unknown as typeof fetch;
}
