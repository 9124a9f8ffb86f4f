import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { AlreadyExistsError, InternalError, InvalidRequestError, ValidationError } from '../../../core/errors.ts';
import { type Clock, systemClock } from '../../../core/ports/clock.ts';
import { ConditionFailedError, type Store, type WriteOp } from '../../../core/ports/store.ts';
import { retryOnConflict } from '../../../core/retry.ts';
import { SecretNameSchema } from '../../../core/secrets/secret-schema.ts';
import type { IssuedApiKey } from './api-key-provider.ts';

/** What a key may be used for, as the owner names it (`billing:read`); returned by validation. At most 32. */
export const ScopesSchema = z
  .array(
    z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9:._/*-]+$/, 'a scope may only contain letters, digits and :._/*-'),
  )
  .max(32);

/** The store partition of Coffer-managed API keys. */
export const API_KEY_PARTITION = 'api-keys';

/** Every Coffer-managed key starts with this, so scanners (and people) recognise a leaked one. */
export const API_KEY_PREFIX = 'cfk_';

export type ApiKeyState = 'active' | 'revoked';

/**
 * One key as stored: never the key, only its SHA-256. The keys are 256 random bits, so a fast hash is enough: there
 * is nothing to brute-force that a slow hash would protect.
 */
export type ApiKeyItem = {
  readonly keyId: string;
  readonly secretName: string;
  /** Hex SHA-256 of the whole key string. */
  readonly hash: string;
  readonly state: ApiKeyState;
  readonly scopes: string[];
  /** Epoch ms. */
  readonly createdAt: number;
  readonly revokedAt?: number;
  /** The rotation that created the key, so a rollback finds keys a crash left unrecorded. */
  readonly rotationToken?: string;
};

/** A key without its hash, for callers that describe keys. */
export type ApiKeyRecord = Omit<ApiKeyItem, 'hash'>;

export type ApiKeyValidation =
  | { readonly valid: true; readonly keyId: string; readonly secretName: string; readonly scopes: readonly string[] }
  | { readonly valid: false };

export interface RegisterApiKeyInput {
  /** The Coffer secret the key belongs to (its value holds the key). */
  readonly secretName: string;
  /** @default [] */
  readonly scopes?: readonly string[];
  /** The rotation that registers it. */
  readonly rotationToken?: string;
  /** An existing key to register again (idempotently); omitted: a new key is generated. */
  readonly apiKey?: string;
}

export interface ApiKeyRegistryOptions {
  readonly store: Store;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** 8 random bytes are 16 hex characters: ids need only be unique (a collision draws again), not secret. */
const KEY_ID_BYTES = 8;
/** 32 random bytes (256 bits) are 43 base64url characters. */
const KEY_SECRET_BYTES = 32;
const KEY_SHAPE = /^cfk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const KEY_ID_SHAPE = /^[0-9a-f]{16}$/;
/** Revoked keys stay (answering "revoked") this long, then the store may drop them. */
const REVOKED_RETENTION_MS = 30 * 24 * 3600 * 1000;
const MAX_ATTEMPTS = 20;
/** Compared against when the key id is unknown, so a miss costs the same hash-and-compare as a hit. */
const NO_HASH = Buffer.alloc(32);

interface NewKey {
  readonly keyId: string;
  readonly apiKey: string;
  readonly secretName: string;
  readonly scopes: string[];
  readonly rotationToken: string | undefined;
}

const keySk = (keyId: string) => `key#${keyId}`;
const tokenPrefix = (token: string) => `token#${token}#`;

/**
 * Coffer-managed API keys (the `api-key-coffer` rotation type): issues high-entropy keys, keeps their SHA-256 hashes,
 * and answers "is this key valid, and whose is it" for services (`POST /v1/apikeys/validate`).
 *
 * A key reads `cfk_<keyId>_<secret>`: the id is recoverable from the key itself, so validation is one read by id,
 * followed by a constant-time comparison of hashes.
 *
 * Store layout (`api-keys` partition): `key#<keyId>` → {@link ApiKeyItem}; `token#<rotationToken>#<keyId>` → the
 * keys a rotation registered, removed when the key is revoked.
 *
 * @example
 * const registry = new ApiKeyRegistry({ store });
 * const { keyId, apiKey } = await registry.register({ secretName: 'svc/billing/api-key', scopes: ['billing:read'] });
 * await registry.validate(apiKey); // { valid: true, keyId, secretName: 'svc/billing/api-key', scopes: [...] }
 * await registry.revoke(keyId);
 */
export class ApiKeyRegistry {
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(options: ApiKeyRegistryOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Registers a key: a new one, or (with `apiKey`) an existing one again. Registering the same key for the same
   * secret twice is a no-op, so a retried rotation step is safe.
   * @throws ValidationError for a malformed secret name, scope or key (never quoting the key)
   * @throws AlreadyExistsError when `apiKey`'s id belongs to another key or secret
   * @throws InvalidRequestError when `apiKey` was revoked
   */
  async register(input: RegisterApiKeyInput): Promise<IssuedApiKey> {
    const secretName = checkSecretName(input.secretName);
    const key = { secretName, scopes: checkScopes(input.scopes ?? []), rotationToken: input.rotationToken };
    if (input.apiKey !== undefined) {
      const parsed = parseKey(input.apiKey);
      if (parsed === undefined)
        throw new ValidationError(`an API key must have the form ${API_KEY_PREFIX}<id>_<secret>`);
      await this.insertOrConfirm({ ...key, keyId: parsed.keyId, apiKey: input.apiKey });
      return { keyId: parsed.keyId, apiKey: input.apiKey };
    }
    // 64 random bits of id make a collision practically impossible; if one happens, draw again.
    return retryOnConflict(
      async () => {
        const keyId = randomBytes(KEY_ID_BYTES).toString('hex');
        const apiKey = `${API_KEY_PREFIX}${keyId}_${randomBytes(KEY_SECRET_BYTES).toString('base64url')}`;
        await this.insert({ ...key, keyId, apiKey });
        return { keyId, apiKey };
      },
      { maxAttempts: MAX_ATTEMPTS, onExhausted: () => new InternalError('could not allocate a unique API key id') },
    );
  }

  /**
   * Whether `apiKey` is a registered, active key, and whose. Anything else (malformed, unknown, revoked, wrong
   * secret part) is `{ valid: false }`, without saying which.
   */
  async validate(apiKey: string): Promise<ApiKeyValidation> {
    const parsed = typeof apiKey === 'string' ? parseKey(apiKey) : undefined;
    if (parsed === undefined) return { valid: false };
    const item = await this.store.get<ApiKeyItem>(API_KEY_PARTITION, keySk(parsed.keyId));
    const expected = item === undefined ? NO_HASH : Buffer.from(item.data.hash, 'hex');
    const matches = expected.length === 32 && timingSafeEqual(sha256(apiKey), expected);
    if (!matches || item === undefined || item.data.state !== 'active') return { valid: false };
    return { valid: true, keyId: item.data.keyId, secretName: item.data.secretName, scopes: item.data.scopes };
  }

  /**
   * Revokes a key: from now on it validates as invalid. Idempotent.
   * @returns true when this call revoked it; false when it was already revoked or is unknown
   */
  async revoke(keyId: string): Promise<boolean> {
    if (!KEY_ID_SHAPE.test(keyId)) return false;
    // A concurrent revoke (or re-register) moves the item: read it again.
    return retryOnConflict(
      async () => {
        const item = await this.store.get<ApiKeyItem>(API_KEY_PARTITION, keySk(keyId));
        if (item === undefined || item.data.state === 'revoked') return false;
        const now = this.clock.now();
        const ops: WriteOp[] = [
          {
            type: 'put',
            pk: API_KEY_PARTITION,
            sk: keySk(keyId),
            data: { ...item.data, state: 'revoked', revokedAt: now },
            condition: { kind: 'rev', rev: item.rev },
            expiresAt: now + REVOKED_RETENTION_MS,
          },
        ];
        if (item.data.rotationToken !== undefined) {
          ops.push({ type: 'delete', pk: API_KEY_PARTITION, sk: `${tokenPrefix(item.data.rotationToken)}${keyId}` });
        }
        await this.store.transact(ops);
        return true;
      },
      {
        maxAttempts: MAX_ATTEMPTS,
        onExhausted: () => new InternalError('could not revoke the API key: too many concurrent updates'),
      },
    );
  }

  /** Describes one key (never its hash), or undefined. */
  async describe(keyId: string): Promise<ApiKeyRecord | undefined> {
    if (!KEY_ID_SHAPE.test(keyId)) return undefined;
    const item = await this.store.get<ApiKeyItem>(API_KEY_PARTITION, keySk(keyId));
    if (item === undefined) return undefined;
    const { hash: _hash, ...record } = item.data;
    return record;
  }

  /** The active keys `rotationToken` registered for `secretName`: what a rollback of that rotation must revoke. */
  async keysOfRotation(secretName: string, rotationToken: string): Promise<string[]> {
    const keyIds: string[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.store.query<{ keyId: string; secretName: string }>(API_KEY_PARTITION, {
        prefix: tokenPrefix(rotationToken),
        startAfter,
        limit: 1000,
      });
      for (const item of page.items) if (item.data.secretName === secretName) keyIds.push(item.data.keyId);
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return keyIds;
  }

  private async insert({ keyId, apiKey, secretName, scopes, rotationToken }: NewKey): Promise<void> {
    const item: ApiKeyItem = {
      keyId,
      secretName,
      hash: sha256(apiKey).toString('hex'),
      state: 'active',
      scopes,
      createdAt: this.clock.now(),
      ...(rotationToken === undefined ? {} : { rotationToken }),
    };
    const ops: WriteOp[] = [
      { type: 'put', pk: API_KEY_PARTITION, sk: keySk(keyId), data: item, condition: { kind: 'absent' } },
    ];
    if (rotationToken !== undefined) {
      ops.push({
        type: 'put',
        pk: API_KEY_PARTITION,
        sk: `${tokenPrefix(rotationToken)}${keyId}`,
        data: { keyId, secretName },
      });
    }
    await this.store.transact(ops);
  }

  private async insertOrConfirm(key: NewKey): Promise<void> {
    const { keyId, apiKey, secretName } = key;
    try {
      await this.insert(key);
      return;
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
    }
    const existing = await this.store.get<ApiKeyItem>(API_KEY_PARTITION, keySk(keyId));
    if (existing === undefined) throw new InternalError('the API key disappeared while it was being registered');
    const same = timingSafeEqual(sha256(apiKey), Buffer.from(existing.data.hash, 'hex'));
    if (!same || existing.data.secretName !== secretName) {
      throw new AlreadyExistsError(`API key id ${keyId} is registered to another key`);
    }
    if (existing.data.state !== 'active') throw new InvalidRequestError(`API key ${keyId} has been revoked`);
  }
}

/** The key id of a well-formed Coffer API key. */
export function parseKey(apiKey: string): { keyId: string } | undefined {
  const match = apiKey.length === 64 ? KEY_SHAPE.exec(apiKey) : null;
  return match === null ? undefined : { keyId: match[1]! };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function checkSecretName(name: string): string {
  const result = SecretNameSchema.safeParse(name, { reportInput: false });
  if (!result.success) throw new ValidationError(`invalid secretName: ${result.error.issues[0]!.message}`);
  return result.data;
}

function checkScopes(scopes: readonly string[]): string[] {
  const result = ScopesSchema.safeParse(scopes, { reportInput: false });
  if (!result.success) throw new ValidationError(`invalid scopes: ${result.error.issues[0]!.message}`);
  return [...new Set(result.data)];
}
