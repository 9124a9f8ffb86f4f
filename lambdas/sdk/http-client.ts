import { readFile } from 'node:fs/promises';
import type * as z from 'zod';
import type { RequestAuthoriser } from './auth.ts';
import { CofferClientError, CofferNetworkError, errorFromResponse } from './errors.ts';
import { type RetryOptions, realSleep, withRetries } from './retry.ts';

export interface CofferHttpOptions {
  /** Base URL of the Coffer API, including any stage path behind API Gateway (no trailing '/'). */
  readonly endpoint: string;
  /** Adds the credential to each request: a token header, or a SigV4 signature. Its own errors pass through as they are. */
  readonly authorise: RequestAuthoriser;
  /** Retries on 429, 5xx and network errors, never on other 4xx. @default { maxAttempts: 1 } (no retries) */
  readonly retry?: Required<RetryOptions>;
  /** Per-attempt timeout. @default none */
  readonly timeoutMs?: number | undefined;
  /** @default globalThis.fetch, or one trusting `caCert` alone when that is set */
  readonly fetch?: typeof fetch;
  /**
   * CA certificates (PEM) that alone are trusted for the endpoint's TLS certificate, instead of the system's (as
   * Vault's VAULT_CACERT): the file of `COFFER_CACERT`, or a development CA. The file is read at the first request.
   * Ignored when `fetch` is given. @default the system's trust store
   */
  readonly caCert?: { readonly pem: string | Buffer } | { readonly file: string } | undefined;
  /**
   * A client certificate (PEM chain) and its private key presented on every TLS connection, for certificate login
   * (`POST /v1/auth/<cert mount>/login`) and listeners that require mTLS (as Vault's VAULT_CLIENT_CERT and
   * VAULT_CLIENT_KEY). Both or neither; files are read at the first request. Ignored when `fetch` is given.
   */
  readonly clientCert?: PemSource | undefined;
  readonly clientKey?: PemSource | undefined;
  /** For tests: the backoff's sleep. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** For tests: the backoff's jitter, uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
  /**
   * Called when the server answers 401 (no, an invalid or an expired credential) with the headers that were sent;
   * the request is then sent once more, authorised afresh. What a client that logs in uses to log in again.
   * @default none: a 401 is thrown
   */
  readonly onUnauthenticated?: ((sent: Readonly<Record<string, string>>) => void) | undefined;
}

/** PEM given as text, or the file that holds it. */
export type PemSource = { readonly pem: string | Buffer } | { readonly file: string };

export interface CofferHttpRequest {
  /** Query parameters; undefined ones are left out. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** e.g. `content-type` and `x-amz-target` of the AWS JSON 1.1 operations. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The one HTTP client of Coffer's API, under the SDK, the agent and the CLI: authorisation (token or SigV4), an
 * optional per-attempt timeout, retries with full-jitter backoff, and every failure as a typed
 * {@link CofferClientError}. Answers are read with the route's schema from `lambdas/api`, so a client's types are the
 * server's.
 *
 * @example
 * const http = new CofferHttp({ endpoint: 'http://127.0.0.1:8270', authorise: tokenAuthoriser(token) });
 * const health = await http.call(Health, 'GET', '/v1/sys/health');
 */
export class CofferHttp {
  readonly endpoint: string;
  private readonly options: CofferHttpOptions;
  private trusting: Promise<typeof fetch> | undefined;

  constructor(options: CofferHttpOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.options = options;
  }

  /**
   * A request whose answer is read with `schema`.
   * @throws CofferClientError `invalid_response` when a 2xx body does not fit it (a proxy's page, an incompatible
   * server), rather than a crash further on
   */
  async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    request: CofferHttpRequest = {},
  ): Promise<z.output<S>> {
    const parsed = schema.safeParse(await this.request(method, path, request));
    if (!parsed.success) {
      throw new CofferClientError('Coffer answered with an unexpected body', {
        code: 'invalid_response',
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  /** A request whose JSON answer is returned as it came (undefined for an empty body, e.g. 204). */
  request(method: string, path: string, request: CofferHttpRequest = {}): Promise<unknown> {
    const url = new URL(`${this.endpoint}${path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    const retry = this.options.retry ?? { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 };
    // A refusal that says to wait longer than any backoff would (a login lockout, a long quota interval) is passed
    // on at once: retrying it within the backoff only spends attempts the server will refuse.
    const isRetryable = (err: unknown) =>
      err instanceof CofferClientError &&
      err.retryable &&
      (err.retryAfterSeconds === undefined || err.retryAfterSeconds * 1000 <= retry.maxDelayMs);
    let sent: Record<string, string> = {};
    const send = () =>
      withRetries(
        () =>
          this.attempt(method, url, payload, request.headers ?? {}, (headers) => {
            sent = headers;
          }),
        isRetryable,
        retry,
        { sleep: this.options.sleep ?? realSleep, random: this.options.random ?? Math.random },
      );
    const { onUnauthenticated } = this.options;
    if (onUnauthenticated === undefined) return send();
    // Once: a credential refused again right after it was replaced is not going to be accepted by retrying.
    return send().catch((err: unknown) => {
      if (!(err instanceof CofferClientError) || err.status !== 401) throw err;
      onUnauthenticated(sent);
      return send();
    });
  }

  /** A failure to read the CA file is a network error of each request: the caller sees it where it would a refusal. */
  private fetchFn(): Promise<typeof fetch> {
    const { fetch: given, caCert, clientCert, clientKey } = this.options;
    if (given !== undefined) return Promise.resolve(given);
    if ((clientCert === undefined) !== (clientKey === undefined)) {
      return Promise.reject(new Error('a client certificate needs its key, and a key its certificate'));
    }
    if (caCert === undefined && clientCert === undefined) return Promise.resolve(globalThis.fetch);
    this.trusting ??= Promise.all([
      caCert === undefined ? undefined : readPem(caCert, 'the CA certificate file', 'COFFER_CACERT'),
      clientCert === undefined ? undefined : readPem(clientCert, 'the client certificate file', 'COFFER_CLIENT_CERT'),
      clientKey === undefined ? undefined : readPem(clientKey, 'the client key file', 'COFFER_CLIENT_KEY'),
    ]).then(([ca, cert, key]) => fetchWithTls({ ca, cert, key }));
    return this.trusting;
  }

  private async attempt(
    method: string,
    url: URL,
    payload: string | undefined,
    extraHeaders: Readonly<Record<string, string>>,
    onSent: (headers: Record<string, string>) => void,
  ): Promise<unknown> {
    const headers = await this.options.authorise({
      method,
      url,
      headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...extraHeaders },
      body: payload,
    });
    onSent(headers);
    const timeoutMs = this.options.timeoutMs;
    let res: Response;
    let text: string;
    try {
      const fetchFn = await this.fetchFn();
      res = await fetchFn(url, {
        method,
        headers,
        body: payload,
        ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
      });
      text = await res.text();
    } catch (err) {
      throw new CofferNetworkError(`request to Coffer failed: ${err instanceof Error ? err.message : String(err)}`, {
        code: 'network',
        cause: err,
      });
    }
    if (!res.ok) {
      throw errorFromResponse(res.status, text, res.headers.get('x-request-id'), res.headers.get('retry-after'));
    }
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new CofferClientError('Coffer answered with a body that is not JSON', {
        status: res.status,
        code: 'invalid_response',
        cause: err,
      });
    }
  }
}

async function readPem(source: PemSource, what: string, variable: string): Promise<string | Buffer> {
  if (!('file' in source)) return source.pem;
  return readFile(source.file).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${what} ${source.file} (${variable}): ${err.code ?? 'error'}`);
  });
}

/**
 * A fetch whose TLS connections trust the CA certificates `caPem` and nothing else. Node's fetch takes a CA only
 * through an undici dispatcher, and undici is loaded only here: a client without a custom CA never loads it.
 * @example
 * const trusted = await fetchTrusting(readFileSync(process.env.COFFER_CACERT!));
 */
export function fetchTrusting(caPem: string | Buffer): Promise<typeof fetch> {
  return fetchWithTls({ ca: caPem });
}

/**
 * A fetch whose TLS connections trust `ca` alone (when given) and present the client certificate `cert` with its
 * `key` (when given). The key is handed to node:tls and kept nowhere else; errors name the setting, never its bytes.
 */
export async function fetchWithTls(tls: {
  readonly ca?: string | Buffer | undefined;
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
}): Promise<typeof fetch> {
  const ca = tls.ca?.toString();
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('the CA certificate (COFFER_CACERT) holds no PEM certificate');
  }
  const cert = tls.cert?.toString();
  if (cert !== undefined && !cert.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('the client certificate (COFFER_CLIENT_CERT) holds no PEM certificate');
  }
  const key = tls.key?.toString();
  if (key !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new Error('the client key (COFFER_CLIENT_KEY) holds no PEM private key');
  }
  const undici = await import('undici');
  const dispatcher = new undici.Agent({
    connect: { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert, key }) },
  });
  const trusted = (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undici.fetch(input as Parameters<typeof undici.fetch>[0], {
      ...(init as Parameters<typeof undici.fetch>[1]),
      dispatcher,
    });
  return trusted as unknown as typeof fetch;
}
