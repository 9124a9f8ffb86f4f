import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { SecretDescribed, SecretRead, SecretWritten } from '../api/secrets.ts';
import {
  COFFER_REGION_HEADER,
  COFFER_TOKEN_HEADER,
  type CofferAuth,
  type RequestAuthoriser,
  sigv4Authoriser,
  tokenAuthoriser,
} from './auth.ts';
import { CofferClientError } from './errors.ts';
import { CofferHttp } from './http-client.ts';
import { LoginSession } from './login.ts';
import { DEFAULT_RETRY, type RetryOptions } from './retry.ts';
import { SecretCache, type SecretCacheStats, type SecretSource } from './secret-cache.ts';
import type {
  BatchGetOutput,
  GetSecretValueInput,
  GetSecretValueOutput,
  PutSecretValueInput,
  PutSecretValueOutput,
  SecretDescription,
} from './types.ts';

export interface CofferClientCacheOptions {
  /**
   * How long a value is served before its version is checked again (a metadata read; the value is fetched again only
   * when the label moved to another version). @default 60_000
   */
  readonly ttlMs?: number;
  /** @default 1000 */
  readonly maxEntries?: number;
  /** Bytes of values kept at most. @default 33_554_432 (32 MiB) */
  readonly maxBytes?: number;
}

export interface CofferClientOptions {
  /** Base URL of the Coffer API, including any stage path behind API Gateway. @default COFFER_ADDR, then http://127.0.0.1:8270 */
  readonly endpoint?: string;
  /**
   * `{ token }`, `{ sigv4 }`, or `{ login }` to log in with an auth method (AppRole, JWT, Kubernetes, LDAP) on first
   * use and again before the token expires. @default { token: COFFER_TOKEN } when it is set, else SigV4 with the
   * default AWS credential chain
   */
  readonly auth?: CofferAuth;
  /** `false` turns the cache off. @default { ttlMs: 60_000, maxEntries: 1000 } */
  readonly cache?: CofferClientCacheOptions | false;
  /** Retries on 429, 5xx and network errors, never on other 4xx. @default { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 } */
  readonly retry?: RetryOptions;
  /** Per-attempt timeout. @default 10_000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * CA certificates (PEM text) that alone are trusted for an https endpoint, as Vault's VAULT_CACERT. Ignored when
   * `fetch` is given. @default the file named by COFFER_CACERT, else the system's trust store
   */
  readonly caCert?: string | Buffer;
  /**
   * A client certificate (PEM) and its private key presented over TLS, for certificate login and listeners that
   * require mTLS. Both or neither. @default the files named by COFFER_CLIENT_CERT and COFFER_CLIENT_KEY
   */
  readonly clientCert?: string | Buffer;
  readonly clientKey?: string | Buffer;
  /** For tests: the backoff's sleep. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** For tests: the backoff's jitter, uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** For tests: the cache's clock. @default Date.now */
  readonly now?: () => number;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The region to act in (secrets are regional), sent as `X-Coffer-Region`; a SigV4-signed request to the Secrets
   * Manager-compatible API acts in its signing region instead. @default COFFER_REGION, else the node's home region
   */
  readonly region?: string;
}

const BATCH_CONCURRENCY = 8;

/** The `caCert` option, else COFFER_CACERT's file (read at the first request, not here). */
function caCertOf(caCert: string | Buffer | undefined, env: NodeJS.ProcessEnv) {
  if (caCert !== undefined) return { caCert: { pem: caCert } };
  return env.COFFER_CACERT === undefined || env.COFFER_CACERT === '' ? {} : { caCert: { file: env.COFFER_CACERT } };
}

/** The `clientCert`/`clientKey` options, else COFFER_CLIENT_CERT/COFFER_CLIENT_KEY's files (read at the first request). */
function clientCertOf(options: Pick<CofferClientOptions, 'clientCert' | 'clientKey'>, env: NodeJS.ProcessEnv) {
  const source = (pem: string | Buffer | undefined, variable: string | undefined) =>
    pem !== undefined ? { pem } : variable === undefined || variable === '' ? undefined : { file: variable };
  const clientCert = source(options.clientCert, env.COFFER_CLIENT_CERT);
  const clientKey = source(options.clientKey, env.COFFER_CLIENT_KEY);
  return { ...(clientCert === undefined ? {} : { clientCert }), ...(clientKey === undefined ? {} : { clientKey }) };
}

const epochSeconds = (iso: string): number => Date.parse(iso) / 1000;

const AWS_JSON_PATH = '/v1/aws/secretsmanager';
const isArn = (secretId: string): boolean => secretId.startsWith('arn:');

const AwsValueResponse = z.object({
  ARN: z.string(),
  Name: z.string(),
  VersionId: z.string(),
  SecretString: z.string().optional(),
  SecretBinary: z.string().optional(),
  VersionStages: z.array(z.string()),
  CreatedDate: z.number(),
});

const AwsDescribeResponse = z.object({
  ARN: z.string(),
  Name: z.string(),
  Description: z.string().optional(),
  Tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
  CreatedDate: z.number(),
  LastChangedDate: z.number(),
  DeletedDate: z.number().optional(),
  VersionIdsToStages: z.record(z.string(), z.array(z.string())),
});

/** `/v1/secret/<area>/a/b@c`: each name segment percent-encoded, as the broker decodes them one by one. */
const secretPath = (area: string, name: string): string =>
  `/v1/secret/${area}/${name.split('/').map(encodeURIComponent).join('/')}`;

/**
 * A typed client of Coffer's native API.
 *
 * - Auth: a Coffer token (`X-Coffer-Token`) or SigV4 (a Coffer access key locally, IAM behind API Gateway).
 * - Reads go through a bounded LRU cache; after `ttlMs` a cached value is re-confirmed with a metadata read and
 *   fetched again only if its label moved (a rotation).
 * - Throttling, 5xx and network failures are retried with full-jitter exponential backoff; other 4xx are not.
 * - Every failure is a typed {@link CofferClientError} (`CofferNotFoundError`, `CofferAccessDeniedError`, ...).
 *
 * @example
 * const coffer = new CofferClient({ endpoint: 'http://127.0.0.1:8270', auth: { token: process.env.COFFER_TOKEN! } });
 * const { SecretString } = await coffer.getSecretValue({ secretId: 'prod/db/password' });
 */
export class CofferClient {
  /** The uncached calls, for caches built on top of this client (the Lambda extension's). */
  readonly source: SecretSource;
  private readonly http: CofferHttp;
  private readonly cache: SecretCache | undefined;

  constructor(options: CofferClientOptions = {}) {
    const env = options.env ?? process.env;
    const auth: CofferAuth = options.auth ?? (env.COFFER_TOKEN ? { token: env.COFFER_TOKEN } : { sigv4: {} });
    const region = options.region ?? (env.COFFER_REGION === '' ? undefined : env.COFFER_REGION);
    // Before authorising, so that a signature covers the header too.
    const regional = (authorise: RequestAuthoriser): RequestAuthoriser =>
      region === undefined
        ? authorise
        : (request) => authorise({ ...request, headers: { ...request.headers, [COFFER_REGION_HEADER]: region } });
    const transport = {
      endpoint: options.endpoint ?? env.COFFER_ADDR ?? 'http://127.0.0.1:8270',
      retry: { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 10_000,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...caCertOf(options.caCert, env),
      ...clientCertOf(options, env),
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      ...(options.random === undefined ? {} : { random: options.random }),
    };
    if ('login' in auth) {
      const session = new LoginSession({
        // The login itself is anonymous, over the same connection settings.
        http: new CofferHttp({ ...transport, authorise: async (request) => request.headers }),
        login: auth.login,
        ...(options.now === undefined ? {} : { now: options.now }),
      });
      this.http = new CofferHttp({
        ...transport,
        authorise: regional(async (request) => ({ ...request.headers, [COFFER_TOKEN_HEADER]: await session.token() })),
        onUnauthenticated: (sent) => session.rejected(sent[COFFER_TOKEN_HEADER]),
      });
    } else {
      this.http = new CofferHttp({
        ...transport,
        authorise: regional('token' in auth ? tokenAuthoriser(auth.token) : sigv4Authoriser(auth.sigv4, env)),
      });
    }
    this.source = {
      fetch: (input) => this.fetchSecretValue(input),
      versions: async (secretId) => {
        const d = await this.describe(secretId);
        return { versionIdsToStages: d.VersionIdsToStages, deleted: d.DeletedDate !== undefined };
      },
    };
    this.cache =
      options.cache === false
        ? undefined
        : new SecretCache(this.source, {
            checkAfterMs: options.cache?.ttlMs ?? 60_000,
            maxEntries: options.cache?.maxEntries ?? 1000,
            ...(options.cache?.maxBytes === undefined ? {} : { maxBytes: options.cache.maxBytes }),
            ...(options.now === undefined ? {} : { now: options.now }),
          });
  }

  /**
   * Reads a value: AWSCURRENT unless a `versionId` or `versionStage` is given. `forceRefresh` skips the cache.
   * @example const { SecretString, VersionId } = await coffer.getSecretValue({ secretId: 'prod/api-key' });
   */
  getSecretValue(input: GetSecretValueInput, options: { forceRefresh?: boolean } = {}): Promise<GetSecretValueOutput> {
    if (this.cache === undefined) return this.fetchSecretValue(input);
    return this.cache.get(input, { refresh: options.forceRefresh === true });
  }

  /**
   * Reads several secrets at once (through the cache), like `BatchGetSecretValue`: a failure of one secret lands in
   * `Errors` instead of failing the batch.
   * @example const { SecretValues, Errors } = await coffer.batchGet(['prod/a', { secretId: 'prod/b', versionStage: 'AWSPREVIOUS' }]);
   */
  async batchGet(ids: ReadonlyArray<string | GetSecretValueInput>): Promise<BatchGetOutput> {
    const inputs = ids.map((id) => (typeof id === 'string' ? { secretId: id } : id));
    const results: Array<{ ok: GetSecretValueOutput } | { err: unknown }> = new Array(inputs.length);
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const index = next++;
        results[index] = await this.getSecretValue(inputs[index]!).then(
          (ok) => ({ ok }),
          (err: unknown) => ({ err }),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, inputs.length) }, worker));
    const output: BatchGetOutput = { SecretValues: [], Errors: [] };
    results.forEach((result, index) => {
      if ('ok' in result) {
        output.SecretValues.push(result.ok);
        return;
      }
      const error = result.err instanceof Error ? result.err : new Error(String(result.err));
      output.Errors.push({ SecretId: inputs[index]!.secretId, ErrorCode: error.name, Message: error.message, error });
    });
    return output;
  }

  /**
   * Metadata and the version-to-label map; never cached.
   * @example const { VersionIdsToStages } = await coffer.describe('prod/db/password');
   */
  async describe(secretId: string): Promise<SecretDescription> {
    if (isArn(secretId)) {
      const d = await this.awsJson(AwsDescribeResponse, 'DescribeSecret', { SecretId: secretId });
      return {
        ARN: d.ARN,
        Name: d.Name,
        Description: d.Description ?? '',
        Tags: Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value])),
        Metadata: {},
        CreatedDate: d.CreatedDate,
        LastChangedDate: d.LastChangedDate,
        ...(d.DeletedDate === undefined ? {} : { DeletedDate: d.DeletedDate }),
        VersionIdsToStages: d.VersionIdsToStages,
      };
    }
    const d = await this.http.call(SecretDescribed, 'GET', secretPath('metadata', secretId));
    return {
      ARN: d.arn,
      Name: d.name,
      Description: d.description ?? '',
      Tags: d.tags ?? {},
      Metadata: d.metadata ?? {},
      CreatedDate: epochSeconds(d.createdAt),
      LastChangedDate: epochSeconds(d.updatedAt),
      ...(d.deletedAt === undefined ? {} : { DeletedDate: epochSeconds(d.deletedAt) }),
      ...(d.deletionDate === undefined ? {} : { DeletionDate: epochSeconds(d.deletionDate) }),
      VersionIdsToStages: d.versionIdsToStages,
    };
  }

  /**
   * Writes a new version (creating the secret if the caller may). Retries are safe: they reuse one
   * `clientRequestToken`, which the server treats as idempotent. The secret's cached reads are dropped.
   * @example await coffer.putSecretValue({ secretId: 'prod/api-key', secretString: newKey });
   */
  async putSecretValue(input: PutSecretValueInput): Promise<PutSecretValueOutput> {
    if ((input.secretString === undefined) === (input.secretBinary === undefined)) {
      throw new CofferClientError('give exactly one of secretString or secretBinary', { code: 'validation' });
    }
    const body = {
      ...(input.secretString === undefined ? {} : { value: input.secretString }),
      ...(input.secretBinary === undefined ? {} : { binary: Buffer.from(input.secretBinary).toString('base64') }),
      clientRequestToken: input.clientRequestToken ?? randomUUID(),
      ...(input.versionStages === undefined ? {} : { stages: input.versionStages }),
    };
    try {
      const put = await this.http.call(SecretWritten, 'PUT', secretPath('data', input.secretId), { body });
      return { ARN: put.arn, Name: put.name, VersionId: put.versionId, VersionStages: put.versionStages };
    } finally {
      this.cache?.invalidate(input.secretId);
    }
  }

  /** Counters of the read cache, or undefined when it is off. */
  cacheStats(): SecretCacheStats | undefined {
    return this.cache?.stats();
  }

  private async fetchSecretValue(input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    if (isArn(input.secretId)) {
      // The native paths take names; an ARN (full or partial) goes through the Secrets Manager–compatible API.
      const r = await this.awsJson(AwsValueResponse, 'GetSecretValue', {
        SecretId: input.secretId,
        ...(input.versionId === undefined ? {} : { VersionId: input.versionId }),
        ...(input.versionStage === undefined ? {} : { VersionStage: input.versionStage }),
      });
      return {
        ARN: r.ARN,
        Name: r.Name,
        VersionId: r.VersionId,
        ...(r.SecretString === undefined ? {} : { SecretString: r.SecretString }),
        ...(r.SecretBinary === undefined ? {} : { SecretBinary: r.SecretBinary }),
        VersionStages: r.VersionStages,
        CreatedDate: r.CreatedDate,
      };
    }
    const r = await this.http.call(SecretRead, 'GET', secretPath('data', input.secretId), {
      query: { versionId: input.versionId, stage: input.versionStage },
    });
    return {
      ARN: r.arn,
      Name: r.name,
      VersionId: r.versionId,
      ...(r.value === undefined ? {} : { SecretString: r.value }),
      ...(r.binary === undefined ? {} : { SecretBinary: r.binary }),
      VersionStages: r.versionStages,
      CreatedDate: epochSeconds(r.createdAt),
    };
  }

  /** One operation of the Secrets Manager–compatible API, under the native path space (IAM-guarded on AWS). */
  private awsJson<S extends z.ZodType>(schema: S, operation: string, body: unknown): Promise<z.output<S>> {
    return this.http.call(schema, 'POST', AWS_JSON_PATH, {
      body,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${operation}` },
    });
  }
}
