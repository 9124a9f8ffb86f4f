import path from 'node:path';
import * as z from 'zod';
import { hostName } from '../../core/auth/allowed-hosts.ts';
import { ValidationError } from '../../core/errors.ts';

/** The node's region when none is configured: the AWS CLI and SDKs sign for it when they have none either. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * All configuration of the local runtime, parsed once at start-up. Environment access happens only here.
 * There are no defaults for key material: the keyring is generated at init, the passphrase comes from the operator.
 */
export const LocalConfigSchema = z.object({
  /** @default '.coffer' (relative to the working directory) */
  dataDir: z.string().min(1).default('.coffer'),
  /** @default '127.0.0.1' */
  host: z.string().min(1).default('127.0.0.1'),
  /** @default 8270 */
  port: z.coerce.number().int().min(0).max(65_535).default(8270),
  /** Seals the root key with scrypt. Unset: the keyring file is protected by file permissions only. */
  passphrase: z.string().min(8, 'COFFER_PASSPHRASE must be at least 8 characters').optional(),
  /** Operations not audited, e.g. `sys.health`. @default none: every request is audited */
  auditExclude: z.array(z.string().min(1)).default([]),
  /**
   * The node's region, in the ARNs of secrets created through the native API (the Secrets Manager-compatible API uses
   * the caller's credential scope). A real region, so both APIs agree for a caller signing for it: COFFER_REGION, else
   * AWS_REGION or AWS_DEFAULT_REGION. Secrets keep the ARN they were created with. @default 'us-east-1' (what the AWS
   * tools, moto and LocalStack assume when none is set)
   */
  region: z
    .string()
    .regex(
      /^[a-z0-9-]{1,32}$/,
      'the region (COFFER_REGION, else AWS_REGION or AWS_DEFAULT_REGION) must be lower-case letters, digits and -',
    )
    .default(DEFAULT_REGION),
  /**
   * The region of STS for `aws/<role>` credentials: AWS_REGION, else AWS_DEFAULT_REGION (which the AWS SDK alone does
   * not read). @default none: the shared config file's, else issuing answers `AwsRegionMissingError`
   */
  awsRegion: z.string().min(1).max(64).optional(),
  /** Used in secret ARNs. @default '000000000000' */
  account: z
    .string()
    .regex(/^\d{12}$/, 'COFFER_ACCOUNT_ID must be 12 digits')
    .default('000000000000'),
  /** @default 1_048_576 */
  maxBodyBytes: z.coerce.number().int().min(1024).max(16_777_216).default(1_048_576),
  /** @default 30_000 */
  requestTimeoutMs: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /** How often secrets past their recovery window are purged. @default 60_000 */
  purgeIntervalMs: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  /** How often the lease sweeper revokes expired leases and retries failed revocations. @default 1000 */
  leaseSweepIntervalMs: z.coerce.number().int().min(20).max(3_600_000).default(1000),
  /** How often the expiry sweep publishes the expiry events of secrets and certificates that fell due. @default 60_000 */
  expirySweepIntervalMs: z.coerce.number().int().min(20).max(3_600_000).default(60_000),
  /** Live leases per role (a role's max_leases overrides it). @default 1000 */
  leaseMaxPerRole: z.coerce.number().int().min(1).max(10_000_000).default(1000),
  /** Live leases per principal. @default 1000 */
  leaseMaxPerPrincipal: z.coerce.number().int().min(1).max(10_000_000).default(1000),
  /** First retry delay of a failed revocation (doubles per attempt, up to leaseRetryMaxMs). @default 1000 */
  leaseRetryBaseMs: z.coerce.number().int().min(10).max(3_600_000).default(1000),
  /** @default 300_000 */
  leaseRetryMaxMs: z.coerce.number().int().min(10).max(86_400_000).default(300_000),
  /**
   * Base URL clients reach this node at, written into issued certificates (CRL distribution point
   * `<publicUrl>/v1/pki/crl`). @default `http(s)://<host>:<port>` (https when the listener serves TLS; see
   * {@link listenUrl}), so a node on another port still names a CRL it serves
   */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** How often the local scheduler starts due rotations and revokes retired credentials. @default 10_000 */
  rotationTickMs: z.coerce.number().int().min(20).max(3_600_000).default(10_000),
  /** Replaces the workflow's retry intervals (the definition's own: 2 s doubling). @default the definition's */
  rotationRetryIntervalMs: z.coerce.number().int().min(0).max(600_000).optional(),
  /**
   * Where engines may connect (API-key providers, database hosts): comma-separated host names, `*.domain`, addresses
   * or CIDRs, each optionally `:port` (see `core/egress/egress-policy.ts`). Loopback and link-local targets need an
   * entry naming their address. @default '' (nothing: engines cannot connect anywhere)
   */
  egressAllow: z.string().max(8192).default(''),
  /**
   * Writes per second allowed on one secret (value, metadata, labels), with bursts of twice as many; beyond it a
   * writer is answered 429 (`ThrottlingException`) at once. 0 turns the limit off. @default 10
   */
  secretWriteRate: z.coerce.number().min(0).max(100_000).default(10),
  /**
   * Deprecated versions a secret keeps (older ones are pruned, never one younger than 24 hours); a write that would
   * leave more young deprecated versions than this is refused (`LimitExceededException`). @default 100
   */
  maxDeprecatedVersions: z.coerce.number().int().min(1).max(100_000).default(100),
  /** Fault injection for chaos drills: `<type|*>:<step>:<fail|transient|stall>[:n]`. @default none */
  rotationFault: z.string().max(1000).optional(),
  /**
   * The regions whose secrets the node serves (the native API's `--region`, SigV4 scopes, replica regions).
   * @default any region in AWS's name form
   */
  regions: z
    .array(z.string().regex(/^[a-z]{2}(?:-[a-z]+){1,3}-\d{1,2}$/, 'COFFER_REGIONS must list AWS region names'))
    .min(1)
    .optional(),
  /**
   * Drills: root may mark replica regions down (`sys/replication/faults`), and the node's clock is wall time plus the
   * milliseconds in `<dataDir>/fault-clock-offset-ms` (see `fault-clock.ts`). Never in production. @default false
   */
  faultInjection: z.boolean().default(false),
  /**
   * `Host` names answered besides loopback, the host of `publicUrl` and a non-wildcard `host` (see
   * `served-names.ts`); any other is refused, against DNS rebinding. @default none
   */
  allowedHosts: z
    .array(z.string().refine((value) => hostName(value) !== undefined, 'COFFER_ALLOWED_HOSTS must list host names'))
    .default([]),
  /** Regions a SigV4 credential scope may name. @default `region` and `us-east-1` */
  sigv4Regions: z
    .array(z.string().regex(/^[a-z0-9-]{1,32}$/, 'COFFER_SIGV4_REGIONS must list regions'))
    .min(1)
    .optional(),
  /** The listener's certificate chain (PEM file), with `tlsKey`. @default none (see {@link listenerTransport}) */
  tlsCert: z.string().min(1).optional(),
  /** The private key of `tlsCert` (PEM file). @default none */
  tlsKey: z.string().min(1).optional(),
  /**
   * CA certificates (PEM file) client certificates must chain to: set, every client must present one (refused at the
   * handshake otherwise). @default none: no client certificate is asked for
   */
  tlsClientCa: z.string().min(1).optional(),
  /**
   * With `tlsClientCa`: `require` refuses a client without a certificate at the handshake; `request` asks for one and
   * lets clients without one through (token callers beside certificate logins), still refusing a connection whose
   * certificate does not verify. @default 'require'
   */
  tlsClientAuth: z
    .enum(['require', 'request'], { error: 'the TLS client auth mode must be require or request' })
    .optional(),
  /** The oldest TLS version accepted; 1.2 only when asked for. @default 'TLSv1.3' */
  tlsMinVersion: z
    .enum(['1.2', '1.3', 'TLSv1.2', 'TLSv1.3'], { error: 'the TLS minimum version must be 1.2 or 1.3' })
    .transform((value) => (value.startsWith('TLSv') ? value : `TLSv${value}`) as 'TLSv1.2' | 'TLSv1.3')
    .default('TLSv1.3'),
  /**
   * A CA and server certificate generated in `<dataDir>/tls/`. @default on for a host that is not loopback and has no
   * certificate configured, off otherwise
   */
  devTls: z.boolean().optional(),
  /** Serve plain HTTP on an address that is not loopback (tokens then cross the network in clear). @default false */
  insecurePlainHttp: z.boolean().default(false),
  /**
   * A `postgres://` URL: the node keeps its items in this PostgreSQL database, which several nodes share (docs/ha.md).
   * The data dir then holds only what is the node's own (its audit log, its lock, dev TLS). @default none: SQLite in
   * the data dir
   */
  storeUrl: z
    .string()
    .refine(isPostgresUrl, 'COFFER_STORE_URL must be a postgres:// URL naming a host and a database')
    .optional(),
  /** The store's password, from a file (a mounted Kubernetes Secret), when the URL carries none. @default none */
  storePasswordFile: z.string().min(1).optional(),
  /** The store's password from `PGPASSWORD`, when neither the URL nor a file gives one. @default none */
  storePassword: z.string().min(1).optional(),
  /** Sessions a node opens to the store at most. @default 10 */
  storeMaxConnections: z.coerce.number().int().min(1).max(1000).default(10),
  /**
   * With a store URL: the keyring every node shares (a mounted Secret; read-only is fine). Created here by the node
   * that initialises an empty store when the file does not exist yet. @default `<dataDir>/keyring.json`
   */
  keyringFile: z.string().min(1).optional(),
});

export type LocalConfig = Omit<z.infer<typeof LocalConfigSchema>, 'publicUrl'> & { readonly publicUrl: string };
export type LocalConfigInput = z.input<typeof LocalConfigSchema>;

/** Reads `COFFER_*` variables; explicit overrides (CLI flags) win. */
export function loadLocalConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<LocalConfigInput> = {},
): LocalConfig {
  const fromEnv: Partial<LocalConfigInput> = {
    dataDir: env.COFFER_DATA_DIR,
    host: env.COFFER_HOST,
    port: env.COFFER_PORT as unknown as number | undefined,
    passphrase: env.COFFER_PASSPHRASE === '' ? undefined : env.COFFER_PASSPHRASE,
    auditExclude: env.COFFER_AUDIT_EXCLUDE?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    region: firstSet(env.COFFER_REGION, env.AWS_REGION, env.AWS_DEFAULT_REGION),
    awsRegion: firstSet(env.AWS_REGION, env.AWS_DEFAULT_REGION),
    account: env.COFFER_ACCOUNT_ID,
    maxBodyBytes: env.COFFER_MAX_BODY_BYTES as unknown as number | undefined,
    requestTimeoutMs: env.COFFER_REQUEST_TIMEOUT_MS as unknown as number | undefined,
    purgeIntervalMs: env.COFFER_PURGE_INTERVAL_MS as unknown as number | undefined,
    leaseSweepIntervalMs: env.COFFER_LEASE_SWEEP_INTERVAL_MS as unknown as number | undefined,
    expirySweepIntervalMs: env.COFFER_EXPIRY_SWEEP_INTERVAL_MS as unknown as number | undefined,
    leaseMaxPerRole: env.COFFER_LEASE_MAX_PER_ROLE as unknown as number | undefined,
    leaseMaxPerPrincipal: env.COFFER_LEASE_MAX_PER_PRINCIPAL as unknown as number | undefined,
    leaseRetryBaseMs: env.COFFER_LEASE_RETRY_BASE_MS as unknown as number | undefined,
    leaseRetryMaxMs: env.COFFER_LEASE_RETRY_MAX_MS as unknown as number | undefined,
    publicUrl: env.COFFER_PUBLIC_URL,
    rotationTickMs: env.COFFER_ROTATION_TICK_MS as unknown as number | undefined,
    rotationRetryIntervalMs: env.COFFER_ROTATION_RETRY_INTERVAL_MS as unknown as number | undefined,
    rotationFault: env.COFFER_ROTATION_FAULT === '' ? undefined : env.COFFER_ROTATION_FAULT,
    allowedHosts: list(env.COFFER_ALLOWED_HOSTS),
    sigv4Regions: list(env.COFFER_SIGV4_REGIONS),
    regions: list(env.COFFER_REGIONS),
    faultInjection: flag(env.COFFER_FAULT_INJECTION, 'COFFER_FAULT_INJECTION'),
    egressAllow: env.COFFER_EGRESS_ALLOW,
    secretWriteRate: env.COFFER_SECRET_WRITE_RATE as unknown as number | undefined,
    maxDeprecatedVersions: env.COFFER_MAX_DEPRECATED_VERSIONS as unknown as number | undefined,
    tlsCert: firstSet(env.COFFER_TLS_CERT),
    tlsKey: firstSet(env.COFFER_TLS_KEY),
    tlsClientCa: firstSet(env.COFFER_TLS_CLIENT_CA),
    tlsClientAuth: firstSet(env.COFFER_TLS_CLIENT_AUTH) as LocalConfigInput['tlsClientAuth'],
    tlsMinVersion: firstSet(env.COFFER_TLS_MIN_VERSION) as LocalConfigInput['tlsMinVersion'],
    devTls: flag(env.COFFER_DEV_TLS, 'COFFER_DEV_TLS'),
    insecurePlainHttp: flag(env.COFFER_INSECURE_PLAIN_HTTP, 'COFFER_INSECURE_PLAIN_HTTP'),
    storeUrl: firstSet(env.COFFER_STORE_URL),
    storePasswordFile: firstSet(env.COFFER_STORE_PASSWORD_FILE),
    storePassword: firstSet(env.PGPASSWORD),
    storeMaxConnections: env.COFFER_STORE_MAX_CONNECTIONS as unknown as number | undefined,
    keyringFile: firstSet(env.COFFER_KEYRING_FILE),
  };
  // An override given as `undefined` (a CLI flag left out) must not hide the environment: flags, then env, then
  // defaults. Spreading first and filtering after would let it.
  const given = (entries: object) => Object.entries(entries).filter(([, value]) => value !== undefined);
  const merged = Object.fromEntries([...given(fromEnv), ...given(overrides)]);
  const parsed = LocalConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`invalid configuration ${issue.path.join('.')}: ${issue.message}`);
  }
  checkTlsSettings(parsed.data);
  checkStoreSettings(parsed.data);
  const { host, port } = parsed.data;
  const transport = listenerTransport(parsed.data);
  return {
    ...parsed.data,
    dataDir: path.resolve(parsed.data.dataDir),
    ...(parsed.data.keyringFile !== undefined && { keyringFile: path.resolve(parsed.data.keyringFile) }),
    publicUrl: parsed.data.publicUrl ?? listenUrl(host, port, transport.kind === 'plain' ? 'http' : 'https'),
  };
}

/** Settings that contradict each other are refused rather than one silently winning. */
function checkTlsSettings(config: z.output<typeof LocalConfigSchema>): void {
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ValidationError(
      'invalid configuration: --tls-cert and --tls-key (COFFER_TLS_CERT, COFFER_TLS_KEY) are given together',
    );
  }
  if (config.tlsCert !== undefined && config.devTls === true) {
    throw new ValidationError(
      'invalid configuration: --dev-tls generates a certificate; leave out --tls-cert/--tls-key',
    );
  }
  if (config.insecurePlainHttp && (config.tlsCert !== undefined || config.devTls === true)) {
    throw new ValidationError('invalid configuration: --insecure-plain-http contradicts a TLS certificate');
  }
  if (config.tlsClientAuth !== undefined && config.tlsClientCa === undefined) {
    throw new ValidationError(
      'invalid configuration: --tls-client-auth (COFFER_TLS_CLIENT_AUTH) needs --tls-client-ca (COFFER_TLS_CLIENT_CA)',
    );
  }
  if (config.tlsClientCa !== undefined && listenerTransport(config).kind === 'plain') {
    throw new ValidationError(
      'invalid configuration: --tls-client-ca (COFFER_TLS_CLIENT_CA) needs TLS: give --tls-cert/--tls-key or --dev-tls',
    );
  }
}

/** Store settings that only mean something beside a store URL are refused without one, not silently ignored. */
function checkStoreSettings(config: z.output<typeof LocalConfigSchema>): void {
  if (config.storeUrl !== undefined) return;
  for (const [given, name] of [
    [config.storePasswordFile, 'COFFER_STORE_PASSWORD_FILE'],
    [config.keyringFile, 'COFFER_KEYRING_FILE'],
  ] as const) {
    if (given !== undefined) {
      throw new ValidationError(`invalid configuration: ${name} is for a shared store: set COFFER_STORE_URL too`);
    }
  }
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return /^postgres(ql)?:$/.test(url.protocol) && url.hostname !== '' && url.pathname.length > 1;
  } catch {
    return false;
  }
}

/**
 * The store URL as it may be shown (start-up line, errors): the password, if it carries one, replaced by `***`.
 *
 * @example redactStoreUrl('postgres://coffer:s3cret@db:5432/coffer') // 'postgres://coffer:***@db:5432/coffer'
 */
export function redactStoreUrl(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

/**
 * How the listener serves: `files` (the operator's certificate), `dev` (generated in the data dir), `plain` HTTP, or
 * `refused`: plain HTTP on an address other hosts reach would carry tokens in clear, so it needs
 * `--insecure-plain-http`. A host that is not loopback without a certificate gets dev TLS unless it was turned off.
 */
export type ListenerTransport =
  | { readonly kind: 'files'; readonly cert: string; readonly key: string }
  | { readonly kind: 'dev' }
  | { readonly kind: 'plain' }
  | { readonly kind: 'refused'; readonly reason: string };

export function listenerTransport(
  config: Pick<LocalConfig, 'host' | 'tlsCert' | 'tlsKey' | 'devTls' | 'insecurePlainHttp'>,
): ListenerTransport {
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    return { kind: 'files', cert: config.tlsCert, key: config.tlsKey };
  }
  if (config.devTls === true) return { kind: 'dev' };
  if (isLoopbackHost(config.host) || config.insecurePlainHttp) return { kind: 'plain' };
  if (config.devTls === undefined) return { kind: 'dev' };
  return {
    kind: 'refused',
    reason:
      `refusing to serve plain HTTP on ${config.host}, which other hosts can reach: give --tls-cert/--tls-key ` +
      '(COFFER_TLS_CERT/COFFER_TLS_KEY), or --dev-tls, or accept clear-text tokens with --insecure-plain-http ' +
      '(COFFER_INSECURE_PLAIN_HTTP=1)',
  };
}

/** Loopback names and addresses: only this machine reaches them, so plain HTTP exposes nothing on a network. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * The URL a client on this machine reaches a listener at: a wildcard address is not one a client can connect to, so
 * `0.0.0.0` becomes `127.0.0.1` and `::` becomes `localhost`. Port 0 stays 0 until the listener has its port (see
 * `server.ts`).
 */
export function listenUrl(host: string, port: number, scheme: 'http' | 'https' = 'http'): string {
  const name = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? 'localhost' : host;
  return `${scheme}://${name.includes(':') && !name.startsWith('[') ? `[${name}]` : name}:${port}`;
}

/** A yes/no variable: 1/true/yes or 0/false/no; unset or empty: undefined (the default applies). */
function flag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new ValidationError(`invalid configuration: ${name} must be 1 or 0`);
}

/** The first variable that is set and not empty (an empty one is unset, as the AWS tools read it). */
function firstSet(...values: (string | undefined)[]): string | undefined {
  return values.find((value) => value !== undefined && value !== '');
}

/** A comma-separated variable as its non-empty items; unset or empty: undefined (the default applies). */
function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items === undefined || items.length === 0 ? undefined : items;
}

/** Where each piece lives inside the data directory. */
export function dataPaths(dataDir: string) {
  return {
    keyring: path.join(dataDir, 'keyring.json'),
    database: path.join(dataDir, 'coffer.db'),
    auditLog: path.join(dataDir, 'audit', 'audit.log'),
    auditSalt: path.join(dataDir, 'audit-salt'),
    rootToken: path.join(dataDir, 'root-token'),
    events: path.join(dataDir, 'events.jsonl'),
    devTls: path.join(dataDir, 'tls'),
  };
}

/** The secret limits of a config as `SecretService` takes them. */
export function secretLimits(config: Pick<LocalConfig, 'secretWriteRate' | 'maxDeprecatedVersions'>) {
  return {
    writeRate:
      config.secretWriteRate === 0
        ? ('unlimited' as const)
        : { perSecond: config.secretWriteRate, burst: Math.max(1, Math.ceil(config.secretWriteRate * 2)) },
    maxDeprecatedVersions: config.maxDeprecatedVersions,
  };
}
