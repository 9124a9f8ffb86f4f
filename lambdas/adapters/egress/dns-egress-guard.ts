import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
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
 * {@link guardedFetch}, which dials the address it checked, so a DNS answer that changes between check and connect
 * (rebinding) cannot slip through.
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

/** The most a guarded response body may hold: providers answer small JSON documents. */
const MAX_RESPONSE_BYTES = 1_048_576;

/**
 * A `fetch` whose every connection goes through the guard: it checks the URL's host and port, then dials the address
 * it checked (`lookup` answers with it), so a second DNS answer cannot differ from the checked one; TLS still
 * verifies the certificate against the host name. Redirects are never followed (a 3xx is returned as it is), and a
 * body over 1 MiB fails the request. Built on `node:http(s)` because global fetch offers no hook on the address it
 * dials.
 */
export function guardedFetch(guard: EgressGuard, purpose: string): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${purpose}: not an http(s) URL`);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const address = await guard.resolve({ host: hostname, port, purpose });
    const family = isIP(address);
    const lookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all === true) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    return new Promise<Response>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          lookup,
          ...(isIP(hostname) === 0 && { servername: hostname }),
          ...(init.signal !== undefined && init.signal !== null && { signal: init.signal }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              res.destroy(new Error(`${purpose}: the response is larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 502;
            const empty = status === 204 || status === 205 || status === 304 || status < 200;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') responseHeaders.set(name, value);
              else if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
            }
            resolve(
              new Response(empty ? null : Buffer.concat(chunks), {
                status: status < 200 ? 502 : status,
                statusText: res.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      request.on('error', reject);
      if (body !== undefined) request.write(body);
      request.end();
    });
  }) as typeof fetch;
}
