import { randomBytes } from 'node:crypto';
import { type Binding, open, seal } from '../../crypto/envelope.ts';
import { rewrapPartition } from '../../crypto/root-key-rotation.ts';
import {
  AlreadyExistsError,
  InternalError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../errors.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import type { Clock } from '../../ports/clock.ts';
import type { EncryptionContext, KeyProvider } from '../../ports/key-provider.ts';
import { ConditionFailedError, type Store, type StoredItem } from '../../ports/store.ts';
import type { Principal, PrincipalCeiling } from '../../principal.ts';
import { retryOnConflict } from '../../retry.ts';
import { assertGrantable, ceilingsFrom, holdsRoot } from '../derived-credentials.ts';
import {
  ACCESS_KEY_ID_PREFIX,
  ACCESS_KEY_PARTITION,
  ACCESS_KEY_PURPOSE,
  type AccessKeyItem,
  type AccessKeyRecord,
  type AccessKeySecret,
  type AccessKeyStatus,
  type CreateAccessKeyRequest,
  type CreatedAccessKey,
  type ImportAccessKeyRequest,
} from './access-key-types.ts';

export interface AccessKeyServiceOptions {
  readonly store: Store;
  readonly keyProvider: KeyProvider;
  readonly clock: Clock;
  /** How long a decrypted secret stays in memory for the verifier. 0 disables the cache. @default 60_000 */
  readonly cacheTtlMs?: number;
  /** At most this many decrypted secrets are held; the least recently used goes first. @default 1000 */
  readonly cacheMaxEntries?: number;
}

/** Upper bounds on what one access key may carry; a key is read on every signed request, so it stays small. */
export const ACCESS_KEY_LIMITS = {
  policies: 64,
  principalLength: 64,
  accessKeyIdLength: 128,
  secretLength: 128,
} as const;

const DEFAULT_CACHE_TTL_MS = 60_000;
const DEFAULT_CACHE_MAX_ENTRIES = 1000;
const MAX_WRITE_ATTEMPTS = 100;
/** AWS access key ids are alphanumeric; keeping ours (and imported ones) so makes them safe as sort keys and in logs. */
const ACCESS_KEY_ID_SHAPE = /^[A-Za-z0-9]+$/;
const SECRET_SHAPE = /^[\x20-\x7e]+$/;
/** IAM user-name characters, so the holder's name reads naturally in an ARN-like display. */
const PRINCIPAL_SHAPE = /^[A-Za-z0-9+=,.@_-]+$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** 10 random bytes are exactly 16 base32 characters (80 bits). */
const ID_RANDOM_BYTES = 10;
/** 30 random bytes are exactly 40 base64 characters (240 bits), the length of an AWS secret access key. */
const SECRET_RANDOM_BYTES = 30;

/** Who a new key acts as and what bounds it, decided from its creator. */
interface KeyIdentity {
  readonly principal: string;
  readonly policies: string[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly ceilings?: readonly PrincipalCeiling[];
}

interface CacheEntry {
  readonly secret: string;
  readonly record: AccessKeyRecord;
  readonly expiresAt: number;
}

/**
 * The access-key auth method: issues, imports and manages AWS-style access key pairs, and hands their secrets to the
 * SigV4 verifier.
 *
 * Store layout: `access-keys` / accessKeyId → `AccessKeyItem`. The secret access key is sealed with AES-256-GCM under
 * a fresh data key wrapped by the key provider with the context `{ purpose: 'access-key', accessKeyId }`, so a sealed
 * secret moved to another key's item fails to open.
 *
 * Every signed request needs the plaintext secret, so `secretFor` keeps decrypted secrets in a small in-memory cache.
 * `setStatus` and `delete` invalidate it on this node; other nodes see the change within `cacheTtlMs`.
 *
 * @example
 * const keys = new AccessKeyService({ store, keyProvider, clock: systemClock });
 * const { accessKeyId, secretAccessKey } = await keys.create({ principal: 'ci-pipeline', policies: ['app'] });
 * await keys.import({ accessKeyId: 'test', secretAccessKey: 'test', principal: 'localstack', policies: ['dev'] });
 */
export class AccessKeyService {
  private readonly store: Store;
  private readonly keyProvider: KeyProvider;
  private readonly clock: Clock;
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  /** Map iteration order is insertion order: re-inserting on a hit makes the first entry the least recently used. */
  private readonly cache = new Map<string, CacheEntry>();
  /** Bumped by every invalidation, so a lookup that was in flight during one does not refill the cache. */
  private generation = 0;

  constructor(options: AccessKeyServiceOptions) {
    this.store = options.store;
    this.keyProvider = options.keyProvider;
    this.clock = options.clock;
    this.cacheTtlMs = nonNegative(options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, 'cacheTtlMs');
    this.cacheMaxEntries = nonNegative(options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES, 'cacheMaxEntries');
  }

  /**
   * Issues a new key pair: `AKCF` + 16 base32 characters, and a 40-character secret. The secret is returned here and
   * never again.
   *
   * `creator` is who asks (the API always passes its caller). A creator without the `root` policy may only give the key
   * policies it holds and its own identity (name and metadata), and the key carries it as a ceiling, so the key never
   * does more than its creator. Only in-process callers that are themselves trusted (bootstrap, tests) omit it.
   * @throws ValidationError for a malformed principal or policy name.
   * @throws PermissionDeniedError when a non-root creator grants policies it lacks or names another principal.
   * @example const { accessKeyId, secretAccessKey } = await keys.create({ principal: 'ci-pipeline', policies: ['app'] }, caller);
   */
  async create(request: CreateAccessKeyRequest, creator?: Principal): Promise<CreatedAccessKey> {
    const identity = keyIdentity(request, creator);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const accessKeyId = ACCESS_KEY_ID_PREFIX + base32(randomBytes(ID_RANDOM_BYTES));
      const secretAccessKey = randomBytes(SECRET_RANDOM_BYTES).toString('base64');
      try {
        return await this.insert(accessKeyId, secretAccessKey, identity);
      } catch (err) {
        // 80 random bits make a collision practically impossible; if one happens, draw again rather than fail.
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
    }
    throw new InternalError('could not allocate a unique access key id');
  }

  /**
   * Registers an existing key pair, e.g. LocalStack's `test`/`test`, so tools configured with it work unchanged.
   * `creator` is bound by the same rules as in `create`.
   * @throws ValidationError for a malformed id, secret, principal or policy name (the message never shows the secret).
   * @throws PermissionDeniedError when a non-root creator grants policies it lacks or names another principal.
   * @throws AlreadyExistsError if the access key id is taken.
   * @example await keys.import({ accessKeyId: 'test', secretAccessKey: 'test', principal: 'localstack' }, caller);
   */
  async import(request: ImportAccessKeyRequest, creator?: Principal): Promise<CreatedAccessKey> {
    const accessKeyId = checkAccessKeyId(request.accessKeyId);
    const secretAccessKey = checkSecret(request.secretAccessKey);
    return this.insert(accessKeyId, secretAccessKey, keyIdentity(request, creator));
  }

  /**
   * Every access key, in access-key-id order. Never includes a secret.
   * @example for (const key of await keys.list()) console.log(key.accessKeyId, key.status);
   */
  async list(): Promise<AccessKeyRecord[]> {
    const records: AccessKeyRecord[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.store.query<AccessKeyItem>(ACCESS_KEY_PARTITION, { limit: 1000, startAfter });
      records.push(...page.items.map((item) => toRecord(item.data)));
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return records;
  }

  /**
   * Describes one access key, without its secret.
   * @throws NotFoundError if there is no such key.
   * @example const { status } = await keys.get('AKCF…');
   */
  async get(accessKeyId: string): Promise<AccessKeyRecord> {
    const item = await this.find(accessKeyId);
    if (item === undefined) throw new NotFoundError('access key not found');
    return toRecord(item.data);
  }

  /**
   * Activates or deactivates a key. An inactive key stays stored (it can be re-activated) but authenticates nothing.
   * @throws NotFoundError if there is no such key.
   * @example await keys.setStatus('AKCF…', 'inactive');
   */
  async setStatus(accessKeyId: string, status: AccessKeyStatus): Promise<AccessKeyRecord> {
    if (status !== 'active' && status !== 'inactive') throw new ValidationError('status must be active or inactive');
    return retryOnConflict(
      async () => {
        const item = await this.find(accessKeyId);
        if (item === undefined) throw new NotFoundError('access key not found');
        const data: AccessKeyItem = { ...item.data, status };
        await this.store.transact([
          {
            type: 'put',
            pk: ACCESS_KEY_PARTITION,
            sk: accessKeyId,
            data: { ...data },
            condition: { kind: 'rev', rev: item.rev },
          },
        ]);
        this.invalidate(accessKeyId);
        return toRecord(data);
      },
      {
        maxAttempts: MAX_WRITE_ATTEMPTS,
        onExhausted: () => new InternalError('could not change the access key status: too many concurrent writers'),
      },
    );
  }

  /**
   * Deletes a key for good: its sealed secret goes with it.
   * @throws NotFoundError if there is no such key.
   * @example await keys.delete('AKCF…');
   */
  async delete(accessKeyId: string): Promise<void> {
    if (!isAccessKeyId(accessKeyId)) throw new NotFoundError('access key not found');
    try {
      await this.store.transact([
        { type: 'delete', pk: ACCESS_KEY_PARTITION, sk: accessKeyId, condition: { kind: 'exists' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError('access key not found', { cause: err });
      throw err;
    } finally {
      this.invalidate(accessKeyId);
    }
  }

  /**
   * The plaintext secret of an ACTIVE key, for the SigV4 verifier only: never expose it to callers. Resolves to
   * `undefined` for an unknown or inactive key (or a malformed id), so the verifier can refuse both alike.
   * @example const found = await keys.secretFor(accessKeyIdFromCredentialScope);
   */
  async secretFor(accessKeyId: string): Promise<AccessKeySecret | undefined> {
    if (!isAccessKeyId(accessKeyId)) return undefined;
    const now = this.clock.now();
    const cached = this.cache.get(accessKeyId);
    if (cached !== undefined) {
      this.cache.delete(accessKeyId);
      if (now < cached.expiresAt) {
        this.cache.set(accessKeyId, cached);
        return { secret: cached.secret, record: cached.record };
      }
    }
    const generation = this.generation;
    const item = await this.find(accessKeyId);
    if (item === undefined || item.data.status !== 'active') return undefined;
    const record = toRecord(item.data);
    const secret = await this.openSecret(item.data);
    if (generation === this.generation)
      this.remember(accessKeyId, { secret, record, expiresAt: now + this.cacheTtlMs });
    return { secret, record };
  }

  /**
   * The principal a key acts as. The access key id (not a secret: AWS logs it in CloudTrail) identifies it in
   * policies and audit.
   * @example keys.toPrincipal(record) // { type: 'access-key', id: 'AKCF…', displayName: 'ci-pipeline', … }
   */
  /**
   * Re-wraps every access key's data key under the key provider's current root key, after a root-key rotation, so
   * the old root key can be retired. A key changed concurrently is skipped; callers repeat until nothing is left.
   */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    const rewrapped = await rewrapPartition<AccessKeyItem>(this.store, this.keyProvider, ACCESS_KEY_PARTITION, {
      wrappedOf: ({ data }) => ({ wrapped: data.wrappedKey, context: keyContext(data.accessKeyId) }),
      withWrapped: (data, wrapped) => ({ ...data, wrappedKey: wrapped }),
    });
    return { rewrapped };
  }

  toPrincipal(record: AccessKeyRecord): Principal {
    return accessKeyPrincipal(record);
  }

  private async insert(accessKeyId: string, secretAccessKey: string, identity: KeyIdentity): Promise<CreatedAccessKey> {
    const { principal, policies, metadata, ceilings } = identity;
    const record: AccessKeyRecord = {
      accessKeyId,
      principal,
      policies,
      ...(metadata === undefined || Object.keys(metadata).length === 0 ? {} : { metadata }),
      ...(ceilings === undefined || ceilings.length === 0 ? {} : { ceilings }),
      createdAt: this.clock.now(),
      status: 'active',
    };
    const item: AccessKeyItem = { ...record, ...(await this.sealSecret(accessKeyId, secretAccessKey)) };
    try {
      await this.store.transact([
        { type: 'put', pk: ACCESS_KEY_PARTITION, sk: accessKeyId, data: { ...item }, condition: { kind: 'absent' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        throw new AlreadyExistsError(`access key ${accessKeyId} already exists`, { cause: err });
      }
      throw err;
    }
    this.invalidate(accessKeyId);
    return { accessKeyId, secretAccessKey, record };
  }

  private async find(accessKeyId: string): Promise<StoredItem<AccessKeyItem> | undefined> {
    if (!isAccessKeyId(accessKeyId)) return undefined;
    return this.store.get<AccessKeyItem>(ACCESS_KEY_PARTITION, accessKeyId);
  }

  private async sealSecret(accessKeyId: string, secret: string): Promise<Pick<AccessKeyItem, 'sealed' | 'wrappedKey'>> {
    const dataKey = await this.keyProvider.generateDataKey(keyContext(accessKeyId));
    const plaintext = Buffer.from(secret, 'utf8');
    try {
      return { sealed: seal(dataKey.plaintext, plaintext, binding(accessKeyId)).blob, wrappedKey: dataKey.wrapped };
    } finally {
      plaintext.fill(0);
      dataKey.plaintext.fill(0);
    }
  }

  private async openSecret(item: AccessKeyItem): Promise<string> {
    // The unwrapped key may be a caching provider's own buffer: use it synchronously and never zero it.
    const dataKey = await this.keyProvider.unwrapDataKey(item.wrappedKey, keyContext(item.accessKeyId));
    const plaintext = open(dataKey, { blob: item.sealed }, binding(item.accessKeyId));
    const secret = plaintext.toString('utf8');
    plaintext.fill(0);
    return secret;
  }

  private remember(accessKeyId: string, entry: CacheEntry): void {
    if (this.cacheTtlMs === 0 || this.cacheMaxEntries === 0) return;
    this.cache.set(accessKeyId, entry);
    while (this.cache.size > this.cacheMaxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  private invalidate(accessKeyId: string): void {
    this.generation++;
    this.cache.delete(accessKeyId);
  }
}

/**
 * The principal an access key acts as; `AccessKeyService.toPrincipal` without needing the service.
 * @example accessKeyPrincipal(record).id // 'AKCF…'
 */
export function accessKeyPrincipal(record: AccessKeyRecord): Principal {
  return {
    type: 'access-key',
    id: record.accessKeyId,
    displayName: record.principal,
    policies: [...record.policies],
    // The key's own id last: a creator's metadata must not stand in for it.
    metadata: { ...record.metadata, accessKeyId: record.accessKeyId },
    ...(record.ceilings === undefined || record.ceilings.length === 0 ? {} : { ceilings: record.ceilings }),
  };
}

/**
 * Who a new key acts as. A creator holding root names any principal (with no metadata); any other creator only
 * itself, with its metadata, and only policies it holds. Either way the key inherits the creator's ceilings.
 */
function keyIdentity(request: CreateAccessKeyRequest, creator: Principal | undefined): KeyIdentity {
  const policies = checkPolicies(request.policies);
  if (creator === undefined) return { principal: checkPrincipal(request.principal), policies };
  assertGrantable(creator, policies, 'an access key');
  if (holdsRoot(creator)) {
    return {
      principal: checkPrincipal(request.principal ?? creator.displayName),
      policies,
      ceilings: ceilingsFrom(creator),
    };
  }
  if (request.principal !== undefined && request.principal !== creator.displayName) {
    throw new PermissionDeniedError(
      'only a root token may create an access key for another principal than its own identity',
    );
  }
  return {
    principal: checkPrincipal(creator.displayName),
    policies,
    metadata: { ...creator.metadata },
    ceilings: ceilingsFrom(creator),
  };
}

function keyContext(accessKeyId: string): EncryptionContext {
  return { purpose: ACCESS_KEY_PURPOSE, accessKeyId };
}

/** Associated data of the sealed secret. Secret ids are ARNs (`arn:…`), so this prefix can never name a secret. */
function binding(accessKeyId: string): Binding {
  return { secretId: `${ACCESS_KEY_PURPOSE}:${accessKeyId}`, versionId: 'secret-access-key' };
}

function toRecord(item: AccessKeyItem): AccessKeyRecord {
  return {
    accessKeyId: item.accessKeyId,
    principal: item.principal,
    policies: [...item.policies],
    ...(item.metadata === undefined ? {} : { metadata: { ...item.metadata } }),
    ...(item.ceilings === undefined ? {} : { ceilings: item.ceilings }),
    createdAt: item.createdAt,
    status: item.status,
  };
}

function isAccessKeyId(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length <= ACCESS_KEY_LIMITS.accessKeyIdLength && ACCESS_KEY_ID_SHAPE.test(value)
  );
}

function checkAccessKeyId(value: unknown): string {
  if (!isAccessKeyId(value)) {
    throw new ValidationError(
      `accessKeyId must be 1-${ACCESS_KEY_LIMITS.accessKeyIdLength} characters of A-Z, a-z, 0-9`,
    );
  }
  return value;
}

function checkSecret(value: unknown): string {
  // Never echo the value: it is the secret.
  if (typeof value !== 'string' || value.length > ACCESS_KEY_LIMITS.secretLength || !SECRET_SHAPE.test(value)) {
    throw new ValidationError(`secretAccessKey must be 1-${ACCESS_KEY_LIMITS.secretLength} printable ASCII characters`);
  }
  return value;
}

function checkPrincipal(value: unknown): string {
  if (typeof value !== 'string' || value.length > ACCESS_KEY_LIMITS.principalLength || !PRINCIPAL_SHAPE.test(value)) {
    throw new ValidationError(
      `principal must be 1-${ACCESS_KEY_LIMITS.principalLength} characters of A-Z, a-z, 0-9 and + = , . @ _ -`,
    );
  }
  return value;
}

function checkPolicies(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > ACCESS_KEY_LIMITS.policies) {
    throw new ValidationError(`policies must be an array of at most ${ACCESS_KEY_LIMITS.policies} policy names`);
  }
  for (const [index, name] of value.entries()) {
    const result = PolicyNameSchema.safeParse(name);
    if (!result.success) {
      throw new ValidationError(`policies.${index}: ${result.error.issues[0]?.message ?? 'invalid policy name'}`, {
        cause: result.error,
      });
    }
  }
  return [...new Set(value as string[])].sort();
}

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    // Fewer than 5 bits are ever left over, so 13 bits hold everything still to be emitted.
    value = ((value << 8) | byte) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function nonNegative(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${field} must be a whole number ≥ 0`);
  return value;
}
