import * as z from 'zod';
import { hostName } from '../core/auth/allowed-hosts.ts';
import type { CacheSettings } from '../sdk/secrets-server.ts';

/**
 * The extension's settings, read once from the environment. The `PARAMETERS_SECRETS_EXTENSION_*` and
 * `SECRETS_MANAGER_*` variables and their defaults are those of the AWS Parameters and Secrets Lambda Extension, so a
 * function's configuration carries over; `COFFER_*` variables configure what AWS's extension does not have.
 */

const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false']))
  .transform((v) => v === 'true');

/** AWS caps the TTL at 300 s and warns rather than failing; so do we. */
const MAX_TTL_S = 300;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'none'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const EnvSchema = z.object({
  PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: int(1, 65_535).default(2773),
  PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED: bool.default(true),
  PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE: int(0, 1000).default(1000),
  SECRETS_MANAGER_TTL: int(0, Number.MAX_SAFE_INTEGER).default(300),
  /** 0: no timeout of our own (the client's default applies). */
  SECRETS_MANAGER_TIMEOUT_MILLIS: int(0, 3_600_000).default(0),
  PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS: int(1, 10_000).default(3),
  PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL: z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS)).default('info'),
  /** Callers must send it in `X-Aws-Parameters-Secrets-Token`; Lambda sets it for every function. */
  AWS_SESSION_TOKEN: z.string().min(1, 'AWS_SESSION_TOKEN must be set: callers authenticate with it'),
  COFFER_ADDR: z.url({ protocol: /^https?$/, error: 'COFFER_ADDR must be an http(s) URL' }),
  /** Without it, requests to Coffer are signed with SigV4 using the function's role. */
  COFFER_TOKEN: z.string().min(1).optional(),
  /** `execute-api` behind API Gateway's IAM authorisation; `coffer` for a Coffer server reached directly. */
  COFFER_SIGNING_SERVICE: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/)
    .default('execute-api'),
  COFFER_EXTENSION_CHECK_INTERVAL_MS: int(50, 300_000).default(2000),
  COFFER_EXTENSION_STALE_WHILE_REVALIDATE_MS: int(0, 300_000).default(1000),
  COFFER_EXTENSION_NEGATIVE_TTL_MS: int(0, 300_000).default(1000),
  COFFER_EXTENSION_CACHE_MAX_BYTES: int(0, 2 ** 40).default(32 * 1024 * 1024),
  COFFER_EXTENSION_HOT_WINDOW_MS: int(0, 3_600_000).default(60_000),
  /** Comma-separated `Host` names answered besides loopback: functions call `localhost:2773`, so none by default. */
  COFFER_EXTENSION_ALLOWED_HOSTS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().refine((name) => hostName(name) !== undefined, 'must list host names')))
    .default([]),
  /** The local port serves HTTPS with this certificate chain and key (PEM files). Unset: plain HTTP. */
  COFFER_EXTENSION_TLS_CERT: z.string().min(1).optional(),
  COFFER_EXTENSION_TLS_KEY: z.string().min(1).optional(),
  /** TLS 1.2 only when asked for. */
  COFFER_EXTENSION_TLS_MIN_VERSION: z.enum(['1.2', '1.3']).default('1.3'),
});

export interface ExtensionConfig {
  readonly port: number;
  readonly sessionToken: string;
  readonly cofferAddr: string;
  readonly cofferToken: string | undefined;
  readonly signingService: string;
  /** Upstream calls to Coffer in flight at most. */
  readonly maxConnections: number;
  readonly timeoutMs: number | undefined;
  readonly logLevel: LogLevel;
  readonly cache: CacheSettings;
  /** `Host` names answered besides loopback (DNS rebinding guard). */
  readonly allowedHosts: readonly string[];
  /** Problems that did not stop the start (a TTL above the maximum, say), to log. */
  readonly warnings: readonly string[];
  /** The listener's certificate and key files; undefined: plain HTTP. */
  readonly tls:
    | { readonly certFile: string; readonly keyFile: string; readonly minVersion: 'TLSv1.2' | 'TLSv1.3' }
    | undefined;
}

/**
 * Parses the environment. Messages name variables, never values: `COFFER_TOKEN` and `AWS_SESSION_TOKEN` are secrets.
 * @throws Error listing every invalid variable
 * @example const config = parseExtensionConfig(process.env);
 */
export function parseExtensionConfig(env: NodeJS.ProcessEnv): ExtensionConfig {
  const parsed = EnvSchema.safeParse(env, { reportInput: false });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid extension configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if ((e.COFFER_EXTENSION_TLS_CERT === undefined) !== (e.COFFER_EXTENSION_TLS_KEY === undefined)) {
    throw new Error(
      'invalid extension configuration: COFFER_EXTENSION_TLS_CERT and COFFER_EXTENSION_TLS_KEY go together',
    );
  }
  const warnings: string[] = [];
  let ttlS = e.SECRETS_MANAGER_TTL;
  if (ttlS > MAX_TTL_S) {
    warnings.push(`SECRETS_MANAGER_TTL exceeds the maximum; using ${MAX_TTL_S} s`);
    ttlS = MAX_TTL_S;
  }
  return {
    port: e.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT,
    sessionToken: e.AWS_SESSION_TOKEN,
    cofferAddr: e.COFFER_ADDR,
    cofferToken: e.COFFER_TOKEN,
    signingService: e.COFFER_SIGNING_SERVICE,
    maxConnections: e.PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS,
    timeoutMs: e.SECRETS_MANAGER_TIMEOUT_MILLIS === 0 ? undefined : e.SECRETS_MANAGER_TIMEOUT_MILLIS,
    logLevel: e.PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL,
    cache: {
      enabled:
        e.PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED && e.PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE > 0 && ttlS > 0,
      maxEntries: e.PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE,
      maxBytes: e.COFFER_EXTENSION_CACHE_MAX_BYTES,
      ttlMs: ttlS * 1000,
      checkIntervalMs: e.COFFER_EXTENSION_CHECK_INTERVAL_MS,
      staleWhileRevalidateMs: e.COFFER_EXTENSION_STALE_WHILE_REVALIDATE_MS,
      negativeTtlMs: e.COFFER_EXTENSION_NEGATIVE_TTL_MS,
      hotWindowMs: e.COFFER_EXTENSION_HOT_WINDOW_MS,
    },
    allowedHosts: e.COFFER_EXTENSION_ALLOWED_HOSTS,
    warnings,
    tls:
      e.COFFER_EXTENSION_TLS_CERT === undefined || e.COFFER_EXTENSION_TLS_KEY === undefined
        ? undefined
        : {
            certFile: e.COFFER_EXTENSION_TLS_CERT,
            keyFile: e.COFFER_EXTENSION_TLS_KEY,
            minVersion: e.COFFER_EXTENSION_TLS_MIN_VERSION === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
          },
  };
}
