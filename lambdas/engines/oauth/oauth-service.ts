/**
 * The OAuth engine: holds one client credential for an authorisation server and hands out short-lived access tokens
 * under leases (client-credentials grant, or the refresh-token grant with the refresh token rotated on every use).
 * A lease's end revokes its token at the server (RFC 7009). oauth4webapi is loaded at the first exchange
 * (`oauth-protocol.ts`), not at start.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Claims } from '../../core/coordination/claims.ts';
import { open as openSealed, seal } from '../../core/crypto/envelope.ts';
import { rewrapPartition } from '../../core/crypto/root-key-rotation.ts';
import {
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../core/errors.ts';
import { lazyImport } from '../../core/lazy-import.ts';
import type { DynamicProvider, HandleOf, RoleLimits } from '../../core/leases/lease-types.ts';
import { Mutex } from '../../core/mutex.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import { ConditionFailedError, type Store, type StoredItem } from '../../core/ports/store.ts';
import { EngineRoles } from '../shared/engine-roles.ts';
import type { OAuthClient, TokenAnswer, TokenParameters, Transport } from './oauth-protocol.ts';
import {
  type ClientCredentials,
  CONFIG_SK,
  OAUTH_CONFIG_PK,
  OAUTH_ROLE_PK,
  OAUTH_TOKEN_PK,
  type OAuthConfigRecord,
  type OAuthTokenRecord,
  type SealedBlob,
} from './oauth-records.ts';
import {
  type OAuthConfigInput,
  OAuthConfigSchema,
  type OAuthRole,
  type OAuthRoleInput,
  OAuthRoleSchema,
  TokenRequestSchema,
} from './oauth-role.ts';

const loadProtocol = lazyImport(() => import('./oauth-protocol.ts'));

export interface OAuthServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** Seals the client secret, the refresh token and live access tokens. */
  readonly keyProvider: KeyProvider;
  /** Every request to the authorisation server goes through it: the egress-guarded fetch of the composition. */
  readonly fetch: typeof fetch;
  /** How long one exchange with the server may take. @default 10_000 */
  readonly timeoutMs?: number | undefined;
  /**
   * Where several nodes (or Lambda instances) share the store: the claim that keeps refreshes to one node at a time.
   * @default none: the node's own lock only
   */
  readonly claims?: Claims | undefined;
}

/** The claim a node holds while it spends the refresh token: across nodes, one refresh at a time. */
export const OAUTH_REFRESH_CLAIM = 'oauth/refresh';

/** The config as callers see it: never a secret, only whether each is set. */
export interface OAuthConfigView {
  readonly issuer: string;
  readonly client_id: string;
  readonly client_auth_method: string;
  readonly client_secret_set: true;
  readonly refresh_token_set: boolean;
  readonly token_endpoint: string;
  readonly revocation_endpoint?: string | undefined;
  readonly updated_at: number;
  readonly refreshed_at?: number | undefined;
}

export type OAuthCredential = Awaited<ReturnType<OAuthService['issue']>>['credential'];

/**
 * @example
 * ```ts
 * const oauth = new OAuthService({ store, clock, keyProvider, fetch: guardedFetch(egress, 'oauth provider') });
 * await oauth.putConfig({ issuer: 'https://login.example.com', client_id: 'coffer', client_secret: '…' });
 * await oauth.putRole('reports', { allowed_scopes: ['reports:read'], default_scopes: ['reports:read'] });
 * // then, under a lease: leases.issue({ kind: 'oauth', role: 'reports', principalId, request: { scopes } })
 * ```
 */
export class OAuthService implements DynamicProvider<'oauth'> {
  readonly kind = 'oauth' as const;
  readonly #options: OAuthServiceOptions;
  readonly #roles: EngineRoles<OAuthRole, OAuthRoleInput>;
  /**
   * Refreshes run one at a time on a node: a rotated refresh token is valid once, and a server that sees a used one
   * again may revoke the whole grant (reuse detection, RFC 9700 §4.14.2).
   */
  readonly #refreshing = new Mutex();

  readonly #transport: Transport;

  constructor(options: OAuthServiceOptions) {
    this.#options = options;
    this.#transport = { fetch: options.fetch, timeoutMs: options.timeoutMs ?? 10_000 };
    this.#roles = new EngineRoles({
      store: options.store,
      pk: OAUTH_ROLE_PK,
      schema: OAuthRoleSchema,
      noun: 'OAuth role',
    });
  }

  // ---- the config --------------------------------------------------------------------------------------------

  /**
   * Discovers the server's metadata (through the egress guard, so a server the allow-list does not name fails here,
   * at configuration) and stores the config with its credentials sealed. Replaces any earlier config.
   */
  async putConfig(input: OAuthConfigInput): Promise<OAuthConfigView> {
    const parsed = OAuthConfigSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`invalid OAuth config: ${issue.path.join('.') || 'config'}: ${issue.message}`);
    }
    const config = parsed.data;
    const server = await (await loadProtocol()).discover(config.issuer, this.#transport);
    const id = randomUUID();
    const record: OAuthConfigRecord = {
      id,
      issuer: config.issuer,
      client_id: config.client_id,
      client_auth_method: config.client_auth_method,
      server: { ...server },
      sealed: await this.#sealCredentials(id, {
        client_secret: config.client_secret,
        ...(config.refresh_token !== undefined && { refresh_token: config.refresh_token }),
      }),
      refreshTokenSet: config.refresh_token !== undefined,
      updatedAt: this.#options.clock.now(),
    };
    await this.#options.store.transact([{ type: 'put', pk: OAUTH_CONFIG_PK, sk: CONFIG_SK, data: record }]);
    return viewOf(record);
  }

  /** @throws NotFoundError when no config was written */
  async config(): Promise<OAuthConfigView> {
    return viewOf((await this.#configItem()).data);
  }

  /**
   * Deletes the config: nothing is issued until a new one is written. Tokens under live leases can no longer be
   * revoked at the server (their revocations fail and are retried) until a config is written again.
   */
  async deleteConfig(): Promise<void> {
    try {
      await this.#options.store.transact([
        { type: 'delete', pk: OAUTH_CONFIG_PK, sk: CONFIG_SK, condition: { kind: 'exists' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError('no OAuth config');
      throw err;
    }
  }

  /** Re-wraps the data keys of the config's credentials and of live tokens under the current root key. */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    const { store, keyProvider } = this.#options;
    const config = await rewrapPartition<OAuthConfigRecord>(store, keyProvider, OAUTH_CONFIG_PK, {
      wrappedOf: ({ data }) => ({ wrapped: data.sealed.wrapped, context: credentialsContext(data.id) }),
      withWrapped: (data, wrapped) => ({ ...data, sealed: { ...data.sealed, wrapped } }),
    });
    const tokens = await rewrapPartition<OAuthTokenRecord>(store, keyProvider, OAUTH_TOKEN_PK, {
      wrappedOf: ({ sk, data }) => ({ wrapped: data.sealed.wrapped, context: tokenContext(sk) }),
      withWrapped: (data, wrapped) => ({ ...data, sealed: { ...data.sealed, wrapped } }),
    });
    return { rewrapped: config + tokens };
  }

  // ---- roles -------------------------------------------------------------------------------------------------

  putRole(name: string, input: OAuthRoleInput): Promise<OAuthRole> {
    return this.#roles.put(name, input);
  }

  getRole(name: string): Promise<OAuthRole> {
    return this.#roles.get(name);
  }

  /** Deletes a role. Its live leases stay listed and revocable; nothing new is issued for it. */
  deleteRole(name: string): Promise<void> {
    return this.#roles.delete(name);
  }

  listRoles(): Promise<string[]> {
    return this.#roles.list();
  }

  // ---- the lease provider ------------------------------------------------------------------------------------

  async roleLimits(role: string): Promise<RoleLimits> {
    const r = await this.getRole(role);
    return { defaultTtlSeconds: r.ttl, maxTtlSeconds: r.max_ttl, maxLeases: r.max_leases };
  }

  /**
   * An access token for `role` (`request` a {@link TokenRequestSchema}: the scopes asked for, each allowed by the
   * role). The token is kept sealed until its lease ends, for revocation; the lease ends no later than the token.
   *
   * @throws PermissionDeniedError when a scope asked for (or one the server granted) is outside the role
   */
  async issue(role: string, _ttlSeconds: number, _expiresAt: number, request?: unknown) {
    const r = await this.getRole(role);
    const parsed = TokenRequestSchema.safeParse(request ?? {});
    if (!parsed.success) throw new ValidationError(`invalid token request: ${parsed.error.issues[0]!.message}`);
    const asked = parsed.data.scopes ?? r.default_scopes;
    const refused = asked.filter((scope) => !r.allowed_scopes.includes(scope));
    if (refused.length > 0) {
      throw new PermissionDeniedError(`role ${role} does not allow the scope(s) ${[...new Set(refused)].join(', ')}`);
    }
    const parameters: TokenParameters = {
      scopes: [...new Set(asked)],
      ...(r.resource !== undefined && { resource: r.resource }),
      ...(r.audience !== undefined && { audience: r.audience }),
    };
    const issuedAt = this.#options.clock.now();
    const { answer, config } =
      r.grant === 'refresh_token'
        ? await this.#refreshGrant(role, parameters)
        : await this.#clientCredentialsGrant(role, parameters);
    const granted = answer.scope === undefined ? parameters.scopes : answer.scope.split(' ').filter(Boolean);
    const beyond = granted.filter((scope) => !r.allowed_scopes.includes(scope));
    if (beyond.length > 0) {
      // A server may grant a client's every scope when none is named: such a token is more than the role allows.
      await this.#revokeAtServer(config, answer.accessToken).catch(() => {});
      await this.#options.store.transact([{ type: 'delete', pk: OAUTH_TOKEN_PK, sk: tokenHash(answer.accessToken) }]);
      throw new PermissionDeniedError(
        `the authorisation server granted scope(s) outside role ${role} (${beyond.join(', ')}); the token was revoked: name the role's scopes in default_scopes`,
      );
    }
    const endsAt = answer.expiresIn === undefined ? undefined : issuedAt + answer.expiresIn * 1000;
    return {
      credential: {
        accessToken: answer.accessToken,
        tokenType: answer.tokenType,
        scope: granted.join(' '),
        expiresAt: endsAt,
      },
      revokeHandle: { role, tokenHash: tokenHash(answer.accessToken), expiresAt: endsAt } satisfies HandleOf<'oauth'>,
      endsAt,
    };
  }

  /**
   * Revokes the token at the server (RFC 7009) and forgets it. Idempotent: a token already forgotten needs nothing;
   * one past its expiry is dead at the server already; a server without a revocation endpoint ends tokens at their
   * expiry only, so there is nothing to call.
   */
  async revoke(handle: HandleOf<'oauth'>): Promise<void> {
    const { store, clock } = this.#options;
    const item = await store.get<OAuthTokenRecord>(OAUTH_TOKEN_PK, handle.tokenHash);
    if (item === undefined) return;
    const expired = item.data.expiresAt !== undefined && item.data.expiresAt <= clock.now();
    if (!expired) {
      const config = await this.#configItem().catch((err: unknown) => {
        if (err instanceof NotFoundError) {
          throw new InvalidRequestError(
            'no OAuth config: the token cannot be revoked at the server until one is written',
          );
        }
        throw err;
      });
      const token = await this.#open(item.data.sealed, tokenContext(handle.tokenHash), tokenBinding(handle.tokenHash));
      await this.#revokeAtServer(config.data, token);
    }
    await store.transact([{ type: 'delete', pk: OAUTH_TOKEN_PK, sk: handle.tokenHash }]);
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  async #clientCredentialsGrant(role: string, parameters: TokenParameters) {
    const { data: config } = await this.#configItem();
    const credentials = await this.#credentials(config);
    const protocol = await loadProtocol();
    const answer = await protocol.clientCredentials(
      serverOf(config),
      clientOf(config, credentials),
      parameters,
      this.#transport,
    );
    await this.#keepToken(role, answer);
    return { answer, config };
  }

  /**
   * The refresh-token grant. The rotated refresh token replaces the old one in the same transaction that keeps the
   * access token, before anything is answered: the old one is spent at the server, so the new one must not be lost.
   */
  async #refreshGrant(role: string, parameters: TokenParameters) {
    return this.#refreshing.run(() => this.#acrossNodes(() => this.#refreshOnce(role, parameters)));
  }

  /**
   * Runs `spend` holding the refresh claim. A second node waits for the first to write the rotated token rather than
   * present the spent one, which a server with reuse detection would answer by revoking the whole grant.
   */
  async #acrossNodes<T>(spend: () => Promise<T>): Promise<T> {
    const claims = this.#options.claims;
    if (claims === undefined) return spend();
    // Held past the exchange's own timeout and the write after it, so a claim never lapses while its holder spends.
    const ttlMs = this.#transport.timeoutMs * 3;
    for (let waited = 0, pause = 25; !(await claims.claim(OAUTH_REFRESH_CLAIM, ttlMs)); waited += pause) {
      if (waited >= ttlMs) throw new ConflictError('another node is refreshing the OAuth grant; retry');
      pause = Math.min(pause * 2, 1000);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    try {
      return await spend();
    } finally {
      await claims.release(OAUTH_REFRESH_CLAIM).catch(() => {});
    }
  }

  async #refreshOnce(role: string, parameters: TokenParameters) {
    const item = await this.#configItem();
    const config = item.data;
    const credentials = await this.#credentials(config);
    if (credentials.refresh_token === undefined) {
      throw new InvalidRequestError(
        `role ${role} uses the refresh_token grant, but the OAuth config holds no refresh token: write one with the config`,
      );
    }
    const protocol = await loadProtocol();
    const answer = await protocol.refresh(
      serverOf(config),
      clientOf(config, credentials),
      credentials.refresh_token,
      parameters,
      this.#transport,
    );
    const rotated =
      answer.refreshToken === undefined || answer.refreshToken === credentials.refresh_token
        ? undefined
        : {
            ...config,
            sealed: await this.#sealCredentials(config.id, { ...credentials, refresh_token: answer.refreshToken }),
            refreshedAt: this.#options.clock.now(),
          };
    try {
      await this.#keepToken(role, answer, rotated === undefined ? undefined : { record: rotated, rev: item.rev });
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
      // The config was replaced meanwhile (a new credential written, or another node refreshed): the one written
      // last stands; this token is given back rather than handed out on a grant no longer on record.
      await this.#revokeAtServer(config, answer.accessToken).catch(() => {});
      throw new ConflictError('the OAuth config changed while its refresh token was used; retry');
    }
    return { answer, config };
  }

  /** Seals the access token under its hash (and, for a refresh, writes the rotated config) in one transaction. */
  async #keepToken(
    role: string,
    answer: TokenAnswer,
    rotated?: { record: OAuthConfigRecord; rev: number },
  ): Promise<void> {
    const hash = tokenHash(answer.accessToken);
    const expiresAt = answer.expiresIn === undefined ? undefined : this.#options.clock.now() + answer.expiresIn * 1000;
    const record: OAuthTokenRecord = {
      role,
      sealed: await this.#seal(Buffer.from(answer.accessToken, 'utf8'), tokenContext(hash), tokenBinding(hash)),
      ...(expiresAt !== undefined && { expiresAt }),
    };
    await this.#options.store.transact([
      { type: 'put', pk: OAUTH_TOKEN_PK, sk: hash, data: record, ...(expiresAt !== undefined && { expiresAt }) },
      ...(rotated === undefined
        ? []
        : [
            {
              type: 'put' as const,
              pk: OAUTH_CONFIG_PK,
              sk: CONFIG_SK,
              data: rotated.record,
              condition: { kind: 'rev' as const, rev: rotated.rev },
            },
          ]),
    ]);
  }

  async #revokeAtServer(config: OAuthConfigRecord, token: string): Promise<void> {
    const server = serverOf(config);
    if (typeof server.revocation_endpoint !== 'string') return;
    const credentials = await this.#credentials(config);
    await (await loadProtocol()).revoke(server, clientOf(config, credentials), token, this.#transport);
  }

  async #configItem(): Promise<StoredItem<OAuthConfigRecord>> {
    const item = await this.#options.store.get<OAuthConfigRecord>(OAUTH_CONFIG_PK, CONFIG_SK);
    if (item === undefined) throw new NotFoundError('no OAuth config: write one with `coffer oauth config`');
    return item;
  }

  async #credentials(config: OAuthConfigRecord): Promise<ClientCredentials> {
    const opened = await this.#open(config.sealed, credentialsContext(config.id), credentialsBinding(config.id));
    return JSON.parse(opened) as ClientCredentials;
  }

  #sealCredentials(id: string, credentials: ClientCredentials): Promise<SealedBlob> {
    return this.#seal(Buffer.from(JSON.stringify(credentials), 'utf8'), credentialsContext(id), credentialsBinding(id));
  }

  async #seal(
    plaintext: Buffer,
    context: Record<string, string>,
    binding: { secretId: string; versionId: string },
  ): Promise<SealedBlob> {
    const dataKey = await this.#options.keyProvider.generateDataKey(context);
    try {
      return { wrapped: dataKey.wrapped, blob: seal(dataKey.plaintext, plaintext, binding).blob };
    } finally {
      dataKey.plaintext.fill(0);
      plaintext.fill(0);
    }
  }

  async #open(
    sealed: SealedBlob,
    context: Record<string, string>,
    binding: { secretId: string; versionId: string },
  ): Promise<string> {
    // The unwrapped key may be the data-key cache's own copy: it is not ours to zero.
    const dataKey = await this.#options.keyProvider.unwrapDataKey(sealed.wrapped, context);
    const opened = openSealed(dataKey, { blob: sealed.blob }, binding);
    try {
      return opened.toString('utf8');
    } finally {
      opened.fill(0);
    }
  }
}

function viewOf(record: OAuthConfigRecord): OAuthConfigView {
  const revocation = record.server.revocation_endpoint;
  return {
    issuer: record.issuer,
    client_id: record.client_id,
    client_auth_method: record.client_auth_method,
    client_secret_set: true,
    refresh_token_set: record.refreshTokenSet,
    token_endpoint: String(record.server.token_endpoint),
    ...(typeof revocation === 'string' && { revocation_endpoint: revocation }),
    updated_at: record.updatedAt,
    ...(record.refreshedAt !== undefined && { refreshed_at: record.refreshedAt }),
  };
}

function serverOf(config: OAuthConfigRecord) {
  return config.server as { issuer: string; token_endpoint?: string; revocation_endpoint?: string };
}

function clientOf(config: OAuthConfigRecord, credentials: ClientCredentials): OAuthClient {
  return {
    clientId: config.client_id,
    clientSecret: credentials.client_secret,
    authMethod: config.client_auth_method,
  };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function credentialsContext(id: string) {
  return { engine: 'oauth', config: id };
}

function credentialsBinding(id: string) {
  return { secretId: `oauth/config/${id}`, versionId: 'client-credentials' };
}

function tokenContext(hash: string) {
  return { engine: 'oauth', token: hash };
}

function tokenBinding(hash: string) {
  return { secretId: `oauth/token/${hash}`, versionId: 'access-token' };
}
