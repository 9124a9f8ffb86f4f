/**
 * Response wrapping, as Vault's: instead of a response, the caller gets a single-use wrapping token with a short TTL,
 * and whoever presents it once (`sys/wrapping/unwrap`) gets the response. A secret id can then travel through a CI
 * log, a ticket or an orchestrator without the courier ever holding it: an unwrap that fails because the token was
 * already used is the alarm that someone else read it.
 *
 * The response is sealed under its own data key (bound to the token's hash), the store keeps only the token's hash,
 * and the item carries the store's TTL so an unread response goes away on its own.
 */

import { createHash, randomBytes } from 'node:crypto';
import { open as openSealed, seal } from '../crypto/envelope.ts';
import { rewrapPartition } from '../crypto/root-key-rotation.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { KeyProvider } from '../ports/key-provider.ts';
import { ConditionFailedError, type Store } from '../ports/store.ts';

/** Store partition: sk = SHA-256 (hex) of the wrapping token → `WrappedResponseRecord`. */
export const WRAPPING_PARTITION = 'wrapped-responses';

/** Wrapping tokens start with this, so a leaked one is recognisable (and told apart from a Coffer token). */
export const WRAPPING_TOKEN_PREFIX = 'cwr.';

/** Bounds of a wrap TTL: long enough to hand over, short enough to be worth little when it leaks. */
export const WRAP_TTL_LIMITS = { minSeconds: 1, maxSeconds: 24 * 3600 } as const;

interface WrappedResponseRecord {
  readonly [key: string]: unknown;
  readonly wrapped: string;
  readonly blob: string;
  /** The policy path of the operation whose response this is (e.g. `auth/approle/role/ci/secret-id`). */
  readonly creationPath: string;
  readonly accessor: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What a wrapping response carries instead of the response (Vault's `wrap_info`). */
export interface WrapInfo {
  readonly token: string;
  readonly accessor: string;
  readonly ttl: number;
  readonly creation_time: string;
  readonly creation_path: string;
}

/** What anyone holding the token may learn without using it up (`sys/wrapping/lookup`). */
export interface WrapLookup {
  readonly creation_time: string;
  readonly creation_ttl: number;
  readonly creation_path: string;
}

export class ResponseWrapping {
  readonly #store: Store;
  readonly #keyProvider: KeyProvider;
  readonly #clock: Clock;

  constructor(options: { readonly store: Store; readonly keyProvider: KeyProvider; readonly clock: Clock }) {
    this.#store = options.store;
    this.#keyProvider = options.keyProvider;
    this.#clock = options.clock;
  }

  /** Seals `response` (the JSON body that would have been sent) and answers the wrapping token. */
  async wrap(response: string, ttlSeconds: number, creationPath: string): Promise<WrapInfo> {
    if (
      !Number.isInteger(ttlSeconds) ||
      ttlSeconds < WRAP_TTL_LIMITS.minSeconds ||
      ttlSeconds > WRAP_TTL_LIMITS.maxSeconds
    ) {
      throw new ValidationError(
        `wrap TTL must be between ${WRAP_TTL_LIMITS.minSeconds}s and ${WRAP_TTL_LIMITS.maxSeconds}s`,
      );
    }
    const token = WRAPPING_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const hash = hashOf(token);
    const accessor = randomBytes(18).toString('base64url');
    const createdAt = this.#clock.now();
    const expiresAt = createdAt + ttlSeconds * 1000;
    const { plaintext, wrapped } = await this.#keyProvider.generateDataKey(keyContext(hash));
    let blob: string;
    try {
      blob = seal(plaintext, Buffer.from(response, 'utf8'), binding(hash)).blob;
    } finally {
      plaintext.fill(0);
    }
    const record: WrappedResponseRecord = { wrapped, blob, creationPath, accessor, createdAt, expiresAt };
    await this.#store.transact([
      {
        type: 'put',
        pk: WRAPPING_PARTITION,
        sk: hash,
        data: record,
        condition: { kind: 'absent' },
        expiresAt,
      },
    ]);
    return {
      token,
      accessor,
      ttl: ttlSeconds,
      creation_time: new Date(createdAt).toISOString(),
      creation_path: creationPath,
    };
  }

  /**
   * The wrapped response, once: the record is deleted (conditionally, so two racing unwraps cannot both succeed)
   * before it is opened.
   * @throws NotFoundError for an unknown, used or expired token, alike (which one is not the caller's to learn).
   */
  async unwrap(token: string): Promise<unknown> {
    const hash = hashOf(token);
    const item = await this.#live(hash);
    try {
      await this.#store.transact([
        { type: 'delete', pk: WRAPPING_PARTITION, sk: hash, condition: { kind: 'rev', rev: item.rev } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw invalidToken();
      throw err;
    }
    const dataKey = await this.#keyProvider.unwrapDataKey(item.data.wrapped, keyContext(hash));
    const plaintext = openSealed(dataKey, { blob: item.data.blob }, binding(hash));
    try {
      return JSON.parse(plaintext.toString('utf8'));
    } finally {
      plaintext.fill(0);
    }
  }

  /** When and where the token was made, without using it up. */
  async lookup(token: string): Promise<WrapLookup> {
    const item = await this.#live(hashOf(token));
    return {
      creation_time: new Date(item.data.createdAt).toISOString(),
      creation_ttl: Math.round((item.data.expiresAt - item.data.createdAt) / 1000),
      creation_path: item.data.creationPath,
    };
  }

  /** Re-wraps the data keys of unread responses under the current root key (after a keyring rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    const rewrapped = await rewrapPartition<WrappedResponseRecord>(this.#store, this.#keyProvider, WRAPPING_PARTITION, {
      wrappedOf: (item) => ({ wrapped: item.data.wrapped, context: keyContext(item.sk) }),
      withWrapped: (data, wrapped) => ({ ...data, wrapped }),
    });
    return { rewrapped };
  }

  async #live(hash: string) {
    const item = await this.#store.get<WrappedResponseRecord>(WRAPPING_PARTITION, hash);
    // The store's TTL removes expired items only eventually: expiry is decided here.
    if (item === undefined || item.data.expiresAt <= this.#clock.now()) throw invalidToken();
    return item;
  }
}

function invalidToken(): NotFoundError {
  return new NotFoundError('wrapping token is not valid: unknown, already unwrapped, or expired');
}

function hashOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function keyContext(hash: string) {
  return { purpose: 'wrapped-response', token: hash };
}

function binding(hash: string) {
  return { secretId: `sys/wrapping/${hash}`, versionId: 'response' };
}
