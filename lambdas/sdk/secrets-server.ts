import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { AllowedHosts, type AllowedHostsOptions } from '../core/auth/allowed-hosts.ts';
import type { CofferClient } from './client.ts';
import {
  CofferAccessDeniedError,
  CofferClientError,
  CofferInvalidRequestError,
  CofferNetworkError,
  CofferNotFoundError,
  CofferThrottledError,
  CofferValidationError,
} from './errors.ts';
import { cacheKey, SecretCache, type SecretCacheStats, type SecretSource } from './secret-cache.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from './types.ts';

/** Where the listener reports trouble. Lines never carry secret values. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface CacheSettings {
  /** False when caching is off (CACHE_ENABLED=false, CACHE_SIZE=0 or TTL=0): every request reads Coffer. */
  readonly enabled: boolean;
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** A value is fetched again this long after it was fetched, whatever the version checks said. */
  readonly ttlMs: number;
  /** How often a hot secret's version is checked, and how long a value is served unconfirmed. */
  readonly checkIntervalMs: number;
  readonly staleWhileRevalidateMs: number;
  readonly negativeTtlMs: number;
  /** Secrets read within this window are polled by the background checker. */
  readonly hotWindowMs: number;
}

export const TOKEN_HEADER = 'x-aws-parameters-secrets-token';

/** The defaults of a cache started outside Lambda; inside, `config.ts` derives them from the AWS variables. */
export const DEFAULT_CACHE_SETTINGS: CacheSettings = {
  enabled: true,
  maxEntries: 1000,
  maxBytes: 32 * 1024 * 1024,
  ttlMs: 300_000,
  checkIntervalMs: 2000,
  staleWhileRevalidateMs: 1000,
  negativeTtlMs: 1000,
  hotWindowMs: 60_000,
};

export interface SecretsCacheServerOptions {
  /** The client to read Coffer with; only its uncached calls are used. */
  readonly coffer: Pick<CofferClient, 'source'>;
  /** @default 2773 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /**
   * The value callers must send in `X-Aws-Parameters-Secrets-Token` (`AWS_SESSION_TOKEN` in Lambda). Without one,
   * every process that can reach the port reads whatever the client may read: keep it on loopback.
   */
  readonly token?: string | undefined;
  /**
   * The `Host` names answered. Any other is refused with 421 before the token is even looked at: a browser page that
   * re-pointed its own name at 127.0.0.1 (DNS rebinding) can reach the port, but cannot send a loopback `Host`.
   * @default loopback names only (`localhost`, `127.x.x.x`, `[::1]`)
   */
  readonly allowedHosts?: AllowedHostsOptions;
  readonly cache?: Partial<CacheSettings>;
  /** Upstream calls to Coffer in flight at most (`PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS`). @default 3 */
  readonly maxConnections?: number;
  readonly logger?: Logger;
  /** @default Date.now */
  readonly now?: () => number;
  /** Serve HTTPS with this certificate and key. @default plain HTTP (a loopback port) */
  readonly tls?: ListenerTls | undefined;
}

/** The listener's certificate chain and key (PEM); TLS 1.3 unless 1.2 is allowed explicitly. */
export interface ListenerTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** @default 'TLSv1.3' */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface SecretsCacheServer {
  /** `http://host:port`, or `https://` with `tls` */
  readonly address: string;
  readonly port: number;
  stats(): SecretCacheStats & { requests: number; upstreamCalls: number };
  /**
   * Checks the versions of hot secrets now. Lambda freezes the process between invocations, so timers stall; the
   * extension calls this on every INVOKE event to catch up at once.
   */
  checkNow(): Promise<void>;
  /**
   * Serves a renewed certificate and key to new handshakes; open connections keep theirs (nothing is dropped).
   * @throws Error on a listener without TLS, or a certificate and key node:tls refuses (the old pair stays in use)
   */
  reloadTls(tls: ListenerTls): void;
  close(): Promise<void>;
}

const QuerySchema = z
  .object({
    secretId: z.string().min(1).max(2048),
    versionId: z.string().min(1).max(64).optional(),
    versionStage: z.string().min(1).max(256).optional(),
    refreshNow: z.enum(['true', 'false']).optional(),
  })
  .strict();

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

interface ParsedQuery {
  readonly input: GetSecretValueInput;
  readonly key: string;
  readonly refresh: boolean;
}

/**
 * Validated query strings, by their raw text. Validation is most of a hit's own CPU (a few µs, against ~1 µs for the
 * rest), and a function asks for the same few secrets over and over. Bounded: short strings only, and cleared when full.
 */
const MEMO_MAX_ENTRIES = 1024;
const MEMO_MAX_QUERY_LENGTH = 1024;

function queryParser(): (raw: string) => ParsedQuery | string {
  const memo = new Map<string, ParsedQuery>();
  return (raw) => {
    const known = memo.get(raw);
    if (known !== undefined) return known;
    const fields: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(raw)) fields[name] = value;
    const parsed = QuerySchema.safeParse(fields, { reportInput: false });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      return `${where}${issue?.message ?? 'invalid query'}`;
    }
    const { secretId, versionId, versionStage, refreshNow } = parsed.data;
    const input: GetSecretValueInput = { secretId, versionId, versionStage };
    const result = { input, key: cacheKey(input), refresh: refreshNow === 'true' };
    if (raw.length <= MEMO_MAX_QUERY_LENGTH) {
      if (memo.size >= MEMO_MAX_ENTRIES) memo.clear();
      memo.set(raw, result);
    }
    return result;
  };
}

/** Limits calls in flight to `max`; the rest wait in FIFO order. */
function limitConcurrency(source: SecretSource, max: number): SecretSource & { calls(): number } {
  let active = 0;
  let calls = 0;
  const waiting: Array<() => void> = [];
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    calls++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  return {
    fetch: (input) => run(() => source.fetch(input)),
    versions: (secretId) => run(() => source.versions(secretId)),
    calls: () => calls,
  };
}

interface PreparedResponse {
  readonly body: Buffer;
  /** Flat name/value pairs: node:http takes them without walking an object's keys. */
  readonly headers: string[];
}

/**
 * Compares a presented token with the expected one in constant time, without allocating: the presented string is
 * encoded into one scratch buffer of the expected length. A string of another length is refused before the
 * comparison, which reveals only the length (as comparing buffers of different lengths would).
 */
function constantTimeMatcher(text: string, expected: Buffer): (presented: string) => boolean {
  const scratch = Buffer.alloc(expected.length);
  return (presented) => {
    if (presented.length !== text.length) return false;
    // Same UTF-16 length and a byte-for-byte match of the whole expected encoding leave no room for more characters;
    // `write` stops before a character that does not fit, so a longer encoding writes fewer bytes or a prefix that
    // differs.
    const written = scratch.write(presented, 0, 'utf8');
    return written === expected.length && timingSafeEqual(scratch, expected);
  };
}

/**
 * The two headers a request is judged by, read from `rawHeaders` as node:http would fold them into `req.headers`:
 * the first `Host` wins, repeated token headers are joined with ", " (so two tokens never match one). Building
 * `req.headers` would copy every header a client sends, on every hit; this allocates only the answer.
 */
function hitHeaders(raw: readonly string[]): { host: string | undefined; token: string | undefined } {
  let host: string | undefined;
  let token: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4) {
      if (host === undefined && name.toLowerCase() === 'host') host = raw[i + 1];
    } else if (name.length === TOKEN_HEADER.length && name.toLowerCase() === TOKEN_HEADER) {
      token = token === undefined ? raw[i + 1] : `${token}, ${raw[i + 1]}`;
    }
  }
  return { host, token };
}

/** Coffer errors in the Secrets Manager shape that callers of AWS's extension already handle. */
function errorResponse(err: unknown): { status: number; type: string; message: string } {
  if (err instanceof CofferNotFoundError) {
    return {
      status: 400,
      type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    };
  }
  if (err instanceof CofferAccessDeniedError)
    return { status: 400, type: 'AccessDeniedException', message: err.message };
  if (err instanceof CofferInvalidRequestError)
    return { status: 400, type: 'InvalidRequestException', message: err.message };
  if (err instanceof CofferValidationError)
    return { status: 400, type: 'InvalidParameterException', message: err.message };
  if (err instanceof CofferThrottledError)
    return { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' };
  if (err instanceof CofferNetworkError)
    return { status: 502, type: 'InternalServiceError', message: 'Coffer is unreachable' };
  if (err instanceof CofferClientError && err.status !== undefined && err.status < 500) {
    return { status: 400, type: 'InvalidRequestException', message: err.message };
  }
  return { status: 500, type: 'InternalServiceError', message: 'internal error' };
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, JSON_HEADERS);
  res.end(JSON.stringify({ __type: type, message }));
}

/**
 * Serves the AWS Parameters and Secrets Lambda Extension protocol (`GET /secretsmanager/get?secretId=..`) from a
 * version-aware cache of Coffer secrets: the Lambda extension's listener, and `coffer agent --cache` outside Lambda.
 *
 * Beyond AWS's TTL-only cache:
 * - a hot secret's version is checked every `checkIntervalMs` (a metadata read), so after a rotation no caller gets
 *   the old value for longer than `checkIntervalMs + staleWhileRevalidateMs` plus one round trip, while Coffer answers;
 * - `refreshNow=true` forces a fetch; not-found answers are remembered for `negativeTtlMs`;
 * - memory is bounded by entries (`maxEntries`) and bytes (`maxBytes`).
 *
 * @example
 * const cache = await startSecretsCache({ coffer: new CofferClient({ cache: false }), port: 2773, token });
 * // curl -H "X-Aws-Parameters-Secrets-Token: $token" 'http://127.0.0.1:2773/secretsmanager/get?secretId=prod/db'
 * await cache.close();
 */
export async function startSecretsCache(options: SecretsCacheServerOptions): Promise<SecretsCacheServer> {
  const settings: CacheSettings = { ...DEFAULT_CACHE_SETTINGS, ...options.cache };
  const logger = options.logger ?? silentLogger;
  const source = limitConcurrency(options.coffer.source, options.maxConnections ?? 3);
  const cache = new SecretCache(source, {
    maxEntries: settings.enabled ? settings.maxEntries : 0,
    maxBytes: settings.maxBytes,
    checkAfterMs: settings.checkIntervalMs,
    staleWhileRevalidateMs: settings.staleWhileRevalidateMs,
    expireAfterMs: settings.ttlMs,
    negativeTtlMs: settings.enabled ? settings.negativeTtlMs : 0,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const expected = options.token === undefined ? undefined : Buffer.from(options.token, 'utf8');
  const tokenMatches = expected === undefined ? () => true : constantTimeMatcher(options.token!, expected);
  // AllowedHosts remembers its answers by raw value: the hit path parses no URL.
  const hosts = new AllowedHosts(options.allowedHosts);
  // Serialised once per fetched value, with its headers: a hit writes the same bytes again. A `Content-Length` also
  // spares every hit the chunked framing node:http adds when it does not know the length.
  const responses = new WeakMap<GetSecretValueOutput, PreparedResponse>();
  const responseOf = (value: GetSecretValueOutput): PreparedResponse => {
    let prepared = responses.get(value);
    if (prepared === undefined) {
      const body = Buffer.from(JSON.stringify(value), 'utf8');
      prepared = { body, headers: ['content-type', 'application/json', 'content-length', String(body.length)] };
      responses.set(value, prepared);
    }
    return prepared;
  };
  let requests = 0;
  const parseQuery = queryParser();

  const authorised = (presented: string | undefined, res: ServerResponse): boolean => {
    if (expected === undefined) return true;
    if (presented === undefined || presented === '') {
      sendError(res, 401, 'UnauthorizedException', `Missing ${TOKEN_HEADER} header`);
      return false;
    }
    if (!tokenMatches(presented)) {
      sendError(res, 403, 'ForbiddenException', `The ${TOKEN_HEADER} header does not match AWS_SESSION_TOKEN`);
      return false;
    }
    return true;
  };

  /** A miss, an expired or unconfirmed entry, or `refreshNow`: the only path that waits for Coffer. */
  const serveFromCoffer = async (res: ServerResponse, input: GetSecretValueInput, refresh: boolean): Promise<void> => {
    let value: GetSecretValueOutput;
    try {
      value = await cache.get(input, { refresh });
    } catch (err) {
      const e = errorResponse(err);
      if (e.status >= 500) logger.warn(`reading a secret from Coffer failed: ${(err as Error).name}`);
      sendError(res, e.status, e.type, e.message);
      return;
    }
    const prepared = responseOf(value);
    res.writeHead(200, prepared.headers);
    res.end(prepared.body);
  };

  const internalError = (res: ServerResponse): void => {
    if (!res.headersSent) sendError(res, 500, 'InternalServiceError', 'internal error');
    else res.destroy();
  };

  // Synchronous up to the cache lookup: a hit answers in the same tick, without a promise.
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests++;
    const headers = hitHeaders(req.rawHeaders);
    if (!hosts.allows(headers.host)) {
      res.setHeader('connection', 'close');
      sendError(res, 421, 'MisdirectedRequest', 'This listener does not answer to the requested Host');
      req.resume();
      return;
    }
    if (!authorised(headers.token, res)) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/secretsmanager/get') {
      if (path === '/systemsmanager/parameters/get') {
        sendError(res, 501, 'UnsupportedOperation', 'Coffer serves Secrets Manager secrets only');
      } else {
        sendError(res, 404, 'NotFound', 'Unknown path; use GET /secretsmanager/get?secretId=...');
      }
      return;
    }
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      sendError(res, 405, 'MethodNotAllowed', 'Use GET');
      return;
    }
    const query = parseQuery(q === -1 ? '' : url.slice(q + 1));
    if (typeof query === 'string') {
      sendError(res, 400, 'InvalidParameterException', query);
      return;
    }
    const hit = query.refresh ? undefined : cache.peekFresh(query.key);
    if (hit === undefined) {
      serveFromCoffer(res, query.input, query.refresh).catch(() => internalError(res));
      return;
    }
    const prepared = responseOf(hit);
    res.writeHead(200, prepared.headers);
    res.end(prepared.body);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    try {
      handle(req, res);
    } catch {
      internalError(res);
    }
  };
  const tls = options.tls;
  const server =
    tls === undefined
      ? createServer(listener)
      : createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: tls.minVersion ?? 'TLSv1.3' }, listener);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 2773, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  // The poller keeps hot secrets confirmed, so reads rarely wait for a check. `minAgeMs` of half an interval makes
  // each tick check every hot entry once, whatever the timer's drift.
  let polling: Promise<void> | undefined;
  const checkNow = (): Promise<void> => {
    polling ??= cache
      .checkDue({ hotWindowMs: settings.hotWindowMs, minAgeMs: settings.checkIntervalMs / 2 })
      .finally(() => {
        polling = undefined;
      });
    return polling;
  };
  const timer = settings.enabled ? setInterval(() => void checkNow(), settings.checkIntervalMs) : undefined;
  timer?.unref();
  logger.info(
    `listening on 127.0.0.1:${port}; cache ${settings.enabled ? `on (${settings.maxEntries} entries, ttl ${settings.ttlMs} ms, version check every ${settings.checkIntervalMs} ms)` : 'off'}`,
  );

  return {
    address: `${tls === undefined ? 'http' : 'https'}://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    stats: () => ({ ...cache.stats(), requests, upstreamCalls: source.calls() }),
    checkNow,
    reloadTls(next: ListenerTls) {
      if (!('setSecureContext' in server)) throw new Error('this listener serves plain HTTP');
      server.setSecureContext({ cert: next.cert, key: next.key, minVersion: next.minVersion ?? 'TLSv1.3' });
    },
    close: async () => {
      if (timer !== undefined) clearInterval(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
    },
  };
}
