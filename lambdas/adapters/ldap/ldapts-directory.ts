import { isIP, connect as netConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import type { Client } from 'ldapts';
import type { EgressGuard } from '../../core/egress/egress-policy.ts';
import { InternalError } from '../../core/errors.ts';
import { lazyImport } from '../../core/lazy-import.ts';
import {
  LdapBindRejectedError,
  type LdapConnectOptions,
  type LdapDirectory,
  type LdapEntry,
  type LdapSearchRequest,
  type LdapSession,
} from '../../core/ports/ldap-directory.ts';

const PURPOSE = 'ldap auth';

/**
 * ldapts is loaded at the first LDAP login, not when the broker starts: most brokers never bind to a directory (a
 * Lambda broker outside a VPC cannot), and loading it costs about a tenth of the broker Lambda's cold import.
 */
const loadLdapts = lazyImport(() => import('ldapts'));

/**
 * LDAP directories through `ldapts`. Every connection asks the egress guard first and dials the address it checked
 * (a DNS answer cannot move it elsewhere); TLS (ldaps:// or StartTLS) still verifies the server's certificate against
 * the URL's host name (or IP address), with the mount's CA when it gives one. At least TLS 1.2.
 *
 * @example
 * const session = await new LdaptsDirectory(egress).open({ urls: ['ldaps://ldap.example.com'], startTls: false,
 *   insecureTls: false, timeoutMs: 10_000 });
 */
export class LdaptsDirectory implements LdapDirectory {
  readonly #egress: EgressGuard;

  constructor(egress: EgressGuard) {
    this.#egress = egress;
  }

  async open(options: LdapConnectOptions): Promise<LdapSession> {
    const failures: string[] = [];
    for (const url of options.urls) {
      try {
        return await this.#openOne(url, options);
      } catch (err) {
        failures.push(`${url}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    throw new InternalError(`no LDAP server answered (${failures.join('; ')})`);
  }

  async #openOne(url: string, options: LdapConnectOptions): Promise<LdapSession> {
    const parsed = new URL(url);
    const ldaps = parsed.protocol === 'ldaps:';
    const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    const port = parsed.port === '' ? (ldaps ? 636 : 389) : Number(parsed.port);
    const address = await this.#egress.resolve({ host, port, purpose: PURPOSE });
    const { Client, InappropriateAuthError, InvalidCredentialsError, UnwillingToPerformError } = await loadLdapts();
    const tls: ConnectionOptions = {
      ...(options.caPem !== undefined && { ca: options.caPem }),
      rejectUnauthorized: !options.insecureTls,
      minVersion: 'TLSv1.2',
      // The certificate is checked against the name in the URL, not the address dialled; SNI only for names.
      ...(isIP(host) === 0 ? { servername: host } : {}),
    };
    const client = new Client({
      url,
      timeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
      // Active Directory binds as user@domain, which is no DN; the core builds every DN it sends with escaping.
      strictDN: false,
      createConnection: ((_port: number) => netConnect({ port, host: address })) as never,
      createSecureConnection: ((portOrOptions: number | ConnectionOptions) =>
        typeof portOrOptions === 'object'
          ? // StartTLS: over the socket already open to the checked address; identity as the URL names it.
            tlsConnect({ ...portOrOptions, ...tls, host })
          : tlsConnect({ port, host: address, ...tls })) as never,
    });
    const close = async () => {
      await client.unbind().catch(() => {});
    };
    try {
      await withTimeout(connectNow(client), options.timeoutMs, ldaps ? 'TLS connect' : 'connect');
      if (!ldaps && options.startTls) await withTimeout(client.startTLS({}), options.timeoutMs, 'StartTLS');
    } catch (err) {
      await close();
      throw err;
    }
    return {
      url,
      async bind(dn, password) {
        try {
          await client.bind(dn, password);
        } catch (err) {
          if (
            err instanceof InvalidCredentialsError ||
            err instanceof InappropriateAuthError ||
            err instanceof UnwillingToPerformError
          ) {
            throw new LdapBindRejectedError(`${err.constructor.name.replace(/Error$/, '')} (${err.code})`);
          }
          throw new InternalError(`LDAP bind at ${url} failed: ${messageOf(err)}`);
        }
      },
      async search(request: LdapSearchRequest): Promise<LdapEntry[]> {
        try {
          const { searchEntries } = await client.search(request.base, {
            scope: request.scope,
            filter: request.filter,
            attributes: [...request.attributes],
            sizeLimit: request.sizeLimit,
          });
          return searchEntries.map(({ dn, ...attributes }) => ({
            dn,
            attributes: Object.fromEntries(
              Object.entries(attributes).map(([name, value]) => [name.toLowerCase(), valuesOf(value)]),
            ),
          }));
        } catch (err) {
          if (isNoSuchObject(err)) return [];
          throw new InternalError(`LDAP search at ${url} failed: ${messageOf(err)}`);
        }
      },
      close,
    };
  }
}

/**
 * ldapts connects lazily, at the first operation; connecting now makes a server that is down or fails the TLS handshake
 * count as not answering, so the next URL is tried (there is no public connect).
 */
async function connectNow(client: Client): Promise<void> {
  const internal = client as unknown as { _connect(): Promise<void> };
  await internal._connect();
}

function valuesOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function isNoSuchObject(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 32;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : 'unknown error';
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
