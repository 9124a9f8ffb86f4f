import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseDuration } from '../../duration.ts';
import {
  InternalError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  ValidationError,
} from '../../errors.ts';
import { ROOT_POLICY_NAME } from '../../policy/policy-types.ts';
import type { Clock } from '../../ports/clock.ts';
import { ConditionFailedError, MAX_TRANSACTION_OPS, type Store, type WriteOp } from '../../ports/store.ts';
import type { Principal, PrincipalIdentity } from '../../principal.ts';
import { retryOnConflict } from '../../retry.ts';
import { assertGrantable, ceilingsFrom, holdsRoot } from '../derived-credentials.ts';
import { sourceAllowed } from '../methods/cidrs.ts';
import { PresentedTokens } from './presented-tokens.ts';
import { parseCreateTokenRequest } from './token-schema.ts';
import {
  ACCESSOR_PREFIX,
  type AccessorItem,
  type CreatedToken,
  type CreateTokenRequest,
  type LoginTokenGrant,
  TOKEN_PARTITIONS,
  TOKEN_PREFIX,
  type TokenRecord,
  type TokenTarget,
} from './token-types.ts';

export interface TokenServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** TTL of a child token that does not ask for one. @default 2_764_800 (768h, as Vault) */
  readonly defaultTtlSeconds?: number;
  /** The longest TTL and explicit max TTL any child token may have. @default 2_764_800 (768h) */
  readonly maxTtlSeconds?: number;
  /**
   * How long a presented token's record may be served from memory (see `PresentedTokens`). Writes by this service
   * are seen at once; writes by another process only after this long, so only a runtime whose store has no other
   * writer should turn it on. @default 0 (off)
   */
  readonly presentedTokenCacheMs?: number;
}

/** One message for every authentication failure, so callers cannot tell unknown, expired and revoked tokens apart. */
const INVALID_TOKEN = 'invalid or expired token';
const TOKEN_NOT_FOUND = 'token not found';
const DEFAULT_TTL_SECONDS = 2_764_800;
/** 32 random bytes are 43 base64url characters. */
const TOKEN_SHAPE = /^cft_[A-Za-z0-9_-]{43}$/;
/** Bound on optimistic-concurrency retries: each round lets at least one writer through, so this is never reached
 * unless the store keeps failing conditions for another reason. */
const MAX_WRITE_ATTEMPTS = 100;
/** Ops per revoked token: its record, its accessor index item and its edge under its parent. */
const OPS_PER_REVOKED_TOKEN = 3;

/** Stored form of a record: a plain object type, so it satisfies the store's `ItemData`. */
type TokenItem = { [K in keyof TokenRecord]: TokenRecord[K] };

/** A token found in the store, with what is needed to rewrite it conditionally. */
interface FoundToken {
  readonly hash: string;
  readonly rev: number;
  readonly record: TokenRecord;
}

/** A token in a revocation walk. `hash` is absent when only a dangling edge is left of it. */
interface RevocationNode {
  readonly accessor: string;
  readonly hash?: string | undefined;
  readonly parentAccessor?: string | undefined;
}

/**
 * The token auth method: Vault-style service tokens.
 *
 * Store layout:
 * - `tokens` / sha256(token) hex → `TokenRecord` (the token itself is never stored);
 * - `token-accessors` / accessor → `{ tokenHash }`, so a token can be looked up or revoked by its accessor;
 * - `token-children#<parentAccessor>` / child accessor → `{}`, the edges walked by recursive revocation.
 *
 * Every item carries the token's `maxExpiresAt` as the store TTL, so a durable store eventually drops tokens that
 * nobody revoked; expiry itself is enforced here, lazily, when a token is presented.
 *
 * @example
 * const tokens = new TokenService({ store, clock: systemClock });
 * const { token: rootToken, record: root } = await tokens.createRoot();
 * const { token } = await tokens.create(root, { policies: ['app'], ttl: '1h' });
 * const principal = tokens.toPrincipal(await tokens.authenticate(token));
 */
export class TokenService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly defaultTtlSeconds: number;
  private readonly maxTtlSeconds: number;
  private readonly presented: PresentedTokens<FoundToken>;

  constructor(options: TokenServiceOptions) {
    this.store = options.store;
    this.presented = new PresentedTokens({ ttlMs: options.presentedTokenCacheMs ?? 0 });
    this.clock = options.clock;
    this.maxTtlSeconds = positiveSeconds(options.maxTtlSeconds ?? DEFAULT_TTL_SECONDS, 'maxTtlSeconds');
    // A default above the max would make every plain `create` fail; cap it instead.
    this.defaultTtlSeconds = Math.min(
      positiveSeconds(options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS, 'defaultTtlSeconds'),
      this.maxTtlSeconds,
    );
  }

  /**
   * Creates a root token: the `root` policy, no expiry, unlimited uses, no parent, and the identity `displayName`.
   * Used by `coffer init`.
   * @example const { token } = await tokens.createRoot();
   */
  async createRoot(displayName = 'root'): Promise<CreatedToken> {
    const record: TokenRecord = {
      accessor: newAccessor(),
      displayName,
      identity: { name: displayName, metadata: {} },
      policies: [ROOT_POLICY_NAME],
      createdAt: this.clock.now(),
      expiresAt: null,
      maxExpiresAt: null,
      ttlSeconds: 0,
      renewable: false,
      numUses: 0,
      usesRemaining: 0,
      orphan: true,
      meta: {},
    };
    return this.insert(record, undefined);
  }

  /**
   * Creates a child of `parent` (an authenticated token). Returns the token string: this is the only time it exists
   * outside the caller's hands, since only its hash is stored.
   *
   * The child acts as its parent's identity: `displayName` and `meta` are labels only, since templated policies and the
   * audit log must not see a name the caller picked. A root-policy parent may give the child another `identity`.
   * The child also carries its parent as a ceiling (see `Principal.ceilings`), so it can never do more than the parent.
   * Its expiry and max expiry are capped at the parent's.
   *
   * @throws ValidationError for a malformed request or a TTL beyond the max TTL.
   * @throws PermissionDeniedError when a non-root parent asks for policies it lacks, another identity or an orphan,
   *   or when the parent is use-limited (as in Vault, use-limited tokens cannot create children).
   * @throws UnauthenticatedError when the parent expired or was revoked meanwhile.
   * @example await tokens.create(parent, { policies: ['app'], ttl: '1h', numUses: 3 })
   */
  async create(parent: TokenRecord, request: CreateTokenRequest = {}): Promise<CreatedToken> {
    const options = parseCreateTokenRequest(request);
    const now = this.clock.now();
    if (isExpired(parent, now)) throw new UnauthenticatedError(INVALID_TOKEN);
    const creator = this.toPrincipal(parent);
    const parentIsRoot = holdsRoot(creator);
    if (parent.numUses > 0) throw new PermissionDeniedError('a use-limited token cannot create child tokens');
    const orphan = options.noParent === true;
    if (orphan && !parentIsRoot) throw new PermissionDeniedError('only a root token may create orphan tokens');

    const policies = [...new Set(options.policies ?? parent.policies)].sort();
    assertGrantable(creator, policies, 'a child token');
    const identity = childIdentity(tokenIdentity(parent), options.identity, parentIsRoot);
    const ceilings = ceilingsFrom(creator);

    const maxTtl =
      options.explicitMaxTtl === undefined
        ? this.maxTtlSeconds
        : positiveSeconds(parseDuration(options.explicitMaxTtl), 'explicitMaxTtl');
    if (maxTtl > this.maxTtlSeconds) {
      throw new ValidationError(`explicitMaxTtl (${maxTtl}s) exceeds the max TTL (${this.maxTtlSeconds}s)`);
    }
    const ttl =
      options.ttl === undefined
        ? Math.min(this.defaultTtlSeconds, maxTtl)
        : positiveSeconds(parseDuration(options.ttl), 'ttl');
    if (ttl > maxTtl) throw new ValidationError(`ttl (${ttl}s) exceeds the max TTL (${maxTtl}s)`);

    let expiresAt = now + ttl * 1000;
    let maxExpiresAt = now + maxTtl * 1000;
    // A child must not outlive its parent: revoking the parent would revoke it anyway, and expiry is the same promise.
    if (!orphan) {
      expiresAt = earliest(expiresAt, parent.expiresAt);
      maxExpiresAt = earliest(maxExpiresAt, parent.maxExpiresAt ?? parent.expiresAt);
    }
    const numUses = options.numUses ?? 0;
    const record: TokenRecord = {
      accessor: newAccessor(),
      displayName: options.displayName ?? 'token',
      policies,
      createdAt: now,
      expiresAt,
      maxExpiresAt,
      ttlSeconds: ttl,
      renewable: options.renewable ?? true,
      numUses,
      usesRemaining: numUses,
      ...(orphan ? {} : { parentAccessor: parent.accessor }),
      orphan,
      meta: { ...options.meta },
      identity,
      ...(ceilings.length === 0 ? {} : { ceilings }),
    };
    return this.insert(record, orphan ? undefined : parent.accessor);
  }

  /**
   * Mints the orphan token of a successful auth-method login (AppRole, JWT, …). It has no parent: the method's role
   * decided its policies, and their writer was checked when the role was written (`ceilings` carries that writer, so
   * the token never does more than it). Its TTLs default to the service's and are capped by its max TTL.
   * @throws ValidationError when the TTL exceeds the max TTL.
   * @example await tokens.createForLogin({ policies: ['app'], numUses: 0, displayName: 'approle-ci', identity, meta: { mount: 'approle.1f2e' } })
   */
  async createForLogin(grant: LoginTokenGrant): Promise<CreatedToken> {
    const now = this.clock.now();
    const maxTtl = Math.min(grant.maxTtlSeconds ?? this.maxTtlSeconds, this.maxTtlSeconds);
    const ttl = Math.min(grant.ttlSeconds ?? this.defaultTtlSeconds, maxTtl);
    positiveSeconds(ttl, 'ttl');
    const record: TokenRecord = {
      accessor: newAccessor(),
      displayName: grant.displayName,
      policies: [...new Set(grant.policies)].sort(),
      createdAt: now,
      expiresAt: now + ttl * 1000,
      maxExpiresAt: now + maxTtl * 1000,
      ttlSeconds: ttl,
      renewable: true,
      numUses: grant.numUses,
      usesRemaining: grant.numUses,
      orphan: true,
      meta: { ...grant.meta },
      identity: { name: grant.identity.name, metadata: { ...grant.identity.metadata } },
      ...(grant.ceilings === undefined || grant.ceilings.length === 0 ? {} : { ceilings: [...grant.ceilings] }),
      ...(grant.boundCidrs === undefined || grant.boundCidrs.length === 0 ? {} : { boundCidrs: [...grant.boundCidrs] }),
    };
    return this.insert(record, undefined);
  }

  /**
   * Revokes every token whose labels hold `key: value` (with its children): how disabling an auth mount revokes the
   * tokens its logins issued (their `meta.authMount`). A full scan of the tokens partition, page by page: disabling a
   * mount is rare, and an index would cost a write on every login.
   * @returns how many tokens were revoked.
   */
  async revokeWhereMeta(key: string, value: string): Promise<number> {
    let revoked = 0;
    let startAfter: string | undefined;
    do {
      const page = await this.store.query<TokenItem>(TOKEN_PARTITIONS.tokens, {
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const item of page.items) {
        if (item.data.meta?.[key] !== value) continue;
        await this.revokeTree({ hash: item.sk, rev: item.rev, record: item.data });
        revoked += 1;
      }
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return revoked;
  }

  /**
   * Resolves a presented token to its record: the hot path of every request, one `store.get` (plus one conditional
   * write for use-limited tokens).
   *
   * Expired tokens are revoked on the spot. A use-limited token spends one use per call; the call that spends the
   * last use succeeds and leaves the token unusable, and the next presentation deletes it. (Deleting it at once would
   * break the request that spends the last use, e.g. `lookup-self` with a one-time token.)
   *
   * `sourceIp` is the request's source address, which a token with `boundCidrs` must come from.
   *
   * @throws UnauthenticatedError `invalid or expired token`, whatever the reason.
   * @example const record = await tokens.authenticate(request.headers['x-coffer-token'], request.sourceIp);
   */
  async authenticate(token: string, sourceIp?: string): Promise<TokenRecord> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) throw new UnauthenticatedError(INVALID_TOKEN);
    const hash = hashToken(token);
    return retryOnConflict(
      async () => {
        const found = await this.findPresented(hash);
        if (found === undefined) throw new UnauthenticatedError(INVALID_TOKEN);
        const { record } = found;
        // A bound token presented from elsewhere (or where the source is unknown) is refused like an invalid one,
        // before it spends a use.
        const bound = record.boundCidrs ?? [];
        if (bound.length > 0 && (sourceIp === undefined || !sourceAllowed(bound, sourceIp))) {
          throw new UnauthenticatedError(INVALID_TOKEN);
        }
        if (isExpired(record, this.clock.now()) || isExhausted(record)) {
          await this.revokeQuietly(found);
          throw new UnauthenticatedError(INVALID_TOKEN);
        }
        if (record.numUses === 0) return record;
        const spent: TokenRecord = { ...record, usesRemaining: record.usesRemaining - 1 };
        await this.rewrite(found, spent);
        return spent;
      },
      {
        maxAttempts: MAX_WRITE_ATTEMPTS,
        onExhausted: () => new InternalError('could not record a token use: too many concurrent writers'),
      },
    );
  }

  /**
   * The principal a token acts as. The accessor, not the token, identifies it in policies and audit; its name and
   * metadata are its identity, never its caller-chosen labels.
   * @example tokens.toPrincipal(record).id // 'acc_…'
   */
  toPrincipal(record: TokenRecord): Principal {
    const identity = tokenIdentity(record);
    return {
      type: 'token',
      id: record.accessor,
      displayName: identity.name,
      policies: [...record.policies],
      metadata: { ...identity.metadata },
      ...(record.ceilings === undefined || record.ceilings.length === 0 ? {} : { ceilings: record.ceilings }),
    };
  }

  /**
   * Every live token's record (neither expired nor out of uses), for the compliance report. Read-only: expired
   * records are skipped here and revoked when presented, as ever. Neither a token nor its hash is in a record.
   */
  async *liveRecords(): AsyncGenerator<TokenRecord> {
    const now = this.clock.now();
    let startAfter: string | undefined;
    do {
      const page = await this.store.query<TokenItem>(TOKEN_PARTITIONS.tokens, {
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const { data } of page.items) if (!isExpired(data, now) && !isExhausted(data)) yield data;
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
  }

  /**
   * Describes a live token, by token or accessor. The result never holds the token or its hash.
   * @throws NotFoundError if there is no such live token (an expired one is revoked on the way).
   * @example await tokens.lookup({ accessor: 'acc_…' })
   */
  async lookup(target: TokenTarget): Promise<TokenRecord> {
    const found = await this.findLive(target);
    if (found === undefined) throw new NotFoundError(TOKEN_NOT_FOUND);
    return found.record;
  }

  /**
   * Extends a token to `now + increment` (default: its own TTL), capped by its max TTL and, for a child, by its
   * parent's current expiry. Like Vault, renewal counts from now, so a small increment can also shorten a token.
   * Tokens without expiry (root) are returned unchanged.
   *
   * @throws NotFoundError if there is no such live token; InvalidRequestError if it is not renewable;
   *   ValidationError for a malformed or zero increment.
   * @example await tokens.renew({ accessor }, '1h')
   */
  async renew(target: TokenTarget, increment?: string | number): Promise<TokenRecord> {
    const incrementSeconds =
      increment === undefined ? undefined : positiveSeconds(parseDuration(increment), 'increment');
    return retryOnConflict(
      async () => {
        const found = await this.findLive(target);
        if (found === undefined) throw new NotFoundError(TOKEN_NOT_FOUND);
        const { record } = found;
        if (record.expiresAt === null) return record;
        if (!record.renewable) throw new InvalidRequestError('token is not renewable');
        const now = this.clock.now();
        let expiresAt = earliest(now + (incrementSeconds ?? record.ttlSeconds) * 1000, record.maxExpiresAt);
        if (record.parentAccessor !== undefined) {
          const parent = await this.findLive({ accessor: record.parentAccessor });
          // A non-orphan whose parent is gone is the remnant of an interrupted revocation: finish the job.
          if (parent === undefined) {
            await this.revokeTree(found);
            throw new NotFoundError(TOKEN_NOT_FOUND);
          }
          expiresAt = earliest(expiresAt, parent.record.expiresAt);
        }
        const renewed: TokenRecord = { ...record, expiresAt };
        await this.rewrite(found, renewed);
        return renewed;
      },
      {
        maxAttempts: MAX_WRITE_ATTEMPTS,
        onExhausted: () => new InternalError('could not renew the token: too many concurrent writers'),
      },
    );
  }

  /**
   * Revokes a token and every non-orphan descendant. Descendants already revoked are skipped, so an interrupted
   * revocation can simply be repeated.
   * @throws NotFoundError if there is no such token.
   * @example await tokens.revoke({ accessor: 'acc_…' })
   */
  async revoke(target: TokenTarget): Promise<void> {
    const found = await this.find(target);
    if (found === undefined) throw new NotFoundError(TOKEN_NOT_FOUND);
    await this.revokeTree(found);
  }

  /**
   * Revokes only this token; its children become orphans and outlive it.
   * @throws NotFoundError if there is no such token.
   * @example await tokens.revokeOrphan({ accessor: 'acc_…' })
   */
  async revokeOrphan(target: TokenTarget): Promise<void> {
    const found = await this.find(target);
    if (found === undefined) throw new NotFoundError(TOKEN_NOT_FOUND);
    const { accessor } = found.record;
    await this.orphanChildren(accessor);
    await this.transact(deleteOps(nodeOf(found)));
    // A child created between the first pass and the deletion is still attached; none can be created after it.
    await this.orphanChildren(accessor);
  }

  private async insert(record: TokenRecord, parentAccessor: string | undefined): Promise<CreatedToken> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const hash = hashToken(token);
    const ttl = storeTtl(record);
    const ops: WriteOp[] = [
      recordPut(hash, record, { kind: 'absent' }),
      {
        type: 'put',
        pk: TOKEN_PARTITIONS.accessors,
        sk: record.accessor,
        data: { tokenHash: hash } satisfies AccessorItem,
        condition: { kind: 'absent' },
        expiresAt: ttl,
      },
    ];
    if (parentAccessor !== undefined) {
      ops.push(
        {
          type: 'put',
          pk: childrenPartition(parentAccessor),
          sk: record.accessor,
          data: {},
          condition: { kind: 'absent' },
          expiresAt: ttl,
        },
        // The parent must still exist when the child commits; see `revokeTree` for why this closes the race.
        { type: 'check', pk: TOKEN_PARTITIONS.accessors, sk: parentAccessor, condition: { kind: 'exists' } },
      );
    }
    try {
      await this.transact(ops);
    } catch (err) {
      const parentGone =
        err instanceof ConditionFailedError && err.pk === TOKEN_PARTITIONS.accessors && err.sk === parentAccessor;
      if (parentGone) {
        throw new UnauthenticatedError(INVALID_TOKEN, { cause: err });
      }
      // Random 256-bit tokens and 144-bit accessors do not collide; a failure here is a store fault.
      throw new InternalError('could not store the new token', { cause: err });
    }
    return { token, record };
  }

  private async find(target: TokenTarget): Promise<FoundToken | undefined> {
    if ('token' in target) {
      if (typeof target.token !== 'string' || !TOKEN_SHAPE.test(target.token)) return undefined;
      return this.findByHash(hashToken(target.token));
    }
    const index = await this.store.get<AccessorItem>(TOKEN_PARTITIONS.accessors, target.accessor);
    if (index === undefined) return undefined;
    return this.findByHash(index.data.tokenHash);
  }

  private async findByHash(hash: string): Promise<FoundToken | undefined> {
    const item = await this.store.get<TokenItem>(TOKEN_PARTITIONS.tokens, hash);
    // Belt and braces against a store whose key lookup is not exact: compare the hashes in constant time.
    if (item === undefined || !sameHash(item.sk, hash)) return undefined;
    return { hash, rev: item.rev, record: item.data };
  }

  /** `findByHash` for a token presented to authenticate: unlimited-use records are served from memory when fresh. */
  private async findPresented(hash: string): Promise<FoundToken | undefined> {
    if (!this.presented.enabled) return this.findByHash(hash);
    const now = this.clock.now();
    const remembered = this.presented.lookup(hash, now);
    if (remembered !== undefined) return remembered;
    const readAt = this.presented.generation;
    const found = await this.findByHash(hash);
    if (found !== undefined && found.record.numUses === 0) this.presented.remember(hash, found, readAt, now);
    return found;
  }

  /**
   * Every write of this service: the records it touches are forgotten by `presented` before it starts (a presentation
   * meanwhile reads the store) and after it ends (a read that overlapped it is not kept).
   */
  private async transact(ops: readonly WriteOp[]): Promise<void> {
    const touched = ops.filter((op) => op.pk === TOKEN_PARTITIONS.tokens).map((op) => op.sk);
    if (touched.length > 0) this.presented.forget(touched);
    try {
      await this.store.transact(ops);
    } finally {
      if (touched.length > 0) this.presented.forget(touched);
    }
  }

  /** Like `find`, but an expired token counts as absent and is revoked on the way. */
  private async findLive(target: TokenTarget): Promise<FoundToken | undefined> {
    const found = await this.find(target);
    if (found === undefined) return undefined;
    if (isExpired(found.record, this.clock.now())) {
      await this.revokeTree(found);
      return undefined;
    }
    return found;
  }

  /**
   * Conditional rewrite of a record: `ConditionFailedError` when another writer got there first (or it was revoked
   * meanwhile).
   */
  private async rewrite(found: FoundToken, record: TokenRecord): Promise<void> {
    await this.transact([recordPut(found.hash, record, { kind: 'rev', rev: found.rev })]);
  }

  /**
   * Lazy revocation on the authentication path. The token is rejected either way, so a store failure here must not
   * turn the uniform "invalid or expired token" into a different error; the next presentation retries.
   */
  private async revokeQuietly(found: FoundToken): Promise<void> {
    try {
      await this.revokeTree(found);
    } catch {
      // Deliberately ignored: see above.
    }
  }

  /**
   * Deletes a token and its non-orphan subtree.
   *
   * The subtree is read breadth-first, then deleted leaves first in transactions of at most 100 operations, so a
   * crash leaves a smaller tree whose root still exists and the revocation can be repeated. A child committed while
   * the walk runs is caught by re-reading the child lists after the deletion: `create` checks that the parent's
   * accessor still exists, so once a token is deleted no child can be added under it, and every child added before
   * that is in the list.
   */
  private async revokeTree(top: FoundToken): Promise<void> {
    const visited = new Set<string>();
    let frontier: RevocationNode[] = [nodeOf(top)];
    while (frontier.length > 0) {
      const order = frontier.filter((node) => !visited.has(node.accessor));
      for (const node of order) visited.add(node.accessor);
      // Breadth-first: `order` grows while it is walked.
      for (let index = 0; index < order.length; index++) {
        for (const child of await this.childrenOf(order[index]!.accessor)) {
          if (visited.has(child.accessor)) continue;
          visited.add(child.accessor);
          order.push(child);
        }
      }
      const leavesFirst = [...order].reverse();
      for (const batch of chunk(leavesFirst, Math.floor(MAX_TRANSACTION_OPS / OPS_PER_REVOKED_TOKEN))) {
        await this.transact(batch.flatMap(deleteOps));
      }
      frontier = [];
      for (const node of order) {
        for (const child of await this.childrenOf(node.accessor)) {
          if (!visited.has(child.accessor)) frontier.push(child);
        }
      }
    }
  }

  /** The children of a token, read from its edge partition, each resolved to its record's hash if it still exists. */
  private async childrenOf(accessor: string): Promise<RevocationNode[]> {
    const nodes: RevocationNode[] = [];
    for (const childAccessor of await this.childAccessors(accessor)) {
      const index = await this.store.get<AccessorItem>(TOKEN_PARTITIONS.accessors, childAccessor);
      nodes.push({ accessor: childAccessor, hash: index?.data.tokenHash, parentAccessor: accessor });
    }
    return nodes;
  }

  private async childAccessors(accessor: string): Promise<string[]> {
    const accessors: string[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.store.query(childrenPartition(accessor), { limit: 1000, startAfter });
      accessors.push(...page.items.map((item) => item.sk));
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return accessors;
  }

  /** Detaches every current child of `accessor`: each becomes an orphan and its edge is removed, atomically. */
  private async orphanChildren(accessor: string): Promise<void> {
    for (const childAccessor of await this.childAccessors(accessor)) {
      const edge = { type: 'delete', pk: childrenPartition(accessor), sk: childAccessor } as const;
      await retryOnConflict(
        async () => {
          const child = await this.find({ accessor: childAccessor });
          if (child === undefined) {
            await this.transact([edge]);
            return;
          }
          const { parentAccessor: _detached, ...rest } = child.record;
          const orphaned: TokenRecord = { ...rest, orphan: true };
          await this.transact([recordPut(child.hash, orphaned, { kind: 'rev', rev: child.rev }), edge]);
        },
        {
          maxAttempts: MAX_WRITE_ATTEMPTS,
          onExhausted: () => new InternalError('could not orphan a child token'),
        },
      );
    }
  }
}

/**
 * The identity a token acts as. A record written before identities existed has only the labels its creator chose,
 * which are trusted only on a root-policy token (whose creator held root and could have named anyone). Any other
 * such token gets a name no policy template accepts (':' is not a template value character) and no metadata, so its
 * templated grants fail closed until it is re-issued.
 */
export function tokenIdentity(record: TokenRecord): PrincipalIdentity {
  if (record.identity !== undefined) return record.identity;
  if (record.policies.includes(ROOT_POLICY_NAME)) return { name: record.displayName, metadata: { ...record.meta } };
  return { name: `legacy:${record.displayName}`, metadata: {} };
}

/** The child's identity: the parent's, unless a root-policy parent names another. */
function childIdentity(
  parent: PrincipalIdentity,
  requested: CreateTokenRequest['identity'],
  parentIsRoot: boolean,
): PrincipalIdentity {
  if (requested === undefined) return { name: parent.name, metadata: { ...parent.metadata } };
  const identity = { name: requested.name, metadata: { ...requested.metadata } };
  if (!parentIsRoot && !sameIdentity(identity, parent)) {
    throw new PermissionDeniedError('only a root token may give a child token another identity than its own');
  }
  return identity;
}

function sameIdentity(a: PrincipalIdentity, b: PrincipalIdentity): boolean {
  const keys = Object.keys(a.metadata);
  return (
    a.name === b.name &&
    keys.length === Object.keys(b.metadata).length &&
    keys.every((key) => Object.hasOwn(b.metadata, key) && b.metadata[key] === a.metadata[key])
  );
}

/** sha256 of the token, hex: the only form in which a token is ever stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newAccessor(): string {
  return ACCESSOR_PREFIX + randomBytes(18).toString('base64url');
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function isExpired(record: TokenRecord, now: number): boolean {
  return record.expiresAt !== null && now >= record.expiresAt;
}

function isExhausted(record: TokenRecord): boolean {
  return record.numUses > 0 && record.usesRemaining <= 0;
}

function earliest(time: number, limit: number | null): number {
  return limit === null ? time : Math.min(time, limit);
}

function positiveSeconds(seconds: number, field: string): number {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new ValidationError(`${field} must be a whole number of seconds greater than 0`);
  }
  return seconds;
}

function childrenPartition(parentAccessor: string): string {
  return TOKEN_PARTITIONS.childrenPrefix + parentAccessor;
}

/** Store TTL of all of a token's items: renewal can never take it past `maxExpiresAt`. */
function storeTtl(record: TokenRecord): number | undefined {
  return record.maxExpiresAt ?? undefined;
}

function recordPut(hash: string, record: TokenRecord, condition: WriteOp['condition']): WriteOp {
  const data: TokenItem = { ...record };
  return { type: 'put', pk: TOKEN_PARTITIONS.tokens, sk: hash, data, condition, expiresAt: storeTtl(record) };
}

function nodeOf(found: FoundToken): RevocationNode {
  return { accessor: found.record.accessor, hash: found.hash, parentAccessor: found.record.parentAccessor };
}

/** Deleting absent items is a no-op, which makes repeating an interrupted revocation safe. */
function deleteOps(node: RevocationNode): WriteOp[] {
  const ops: WriteOp[] = [{ type: 'delete', pk: TOKEN_PARTITIONS.accessors, sk: node.accessor }];
  if (node.hash !== undefined) ops.push({ type: 'delete', pk: TOKEN_PARTITIONS.tokens, sk: node.hash });
  if (node.parentAccessor !== undefined) {
    ops.push({ type: 'delete', pk: childrenPartition(node.parentAccessor), sk: node.accessor });
  }
  return ops;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
