import { open, seal } from '../crypto/envelope.ts';
import { DecryptionFailureError, InvalidRequestError, NotFoundError } from '../errors.ts';
import type { KeyProvider } from '../ports/key-provider.ts';
import type { KeyRing } from '../ports/key-ring.ts';
import { valueBytes } from './secret-fns.ts';
import type { SecretValue, VersionRecord } from './secret-types.ts';

/** The keys versions are sealed under: the node's default envelope key, and the customer keys secrets may name. */
export interface VersionKeys {
  readonly defaultKey: KeyProvider;
  /** @default none: a secret naming a key is refused */
  readonly keyRing?: KeyRing | undefined;
}

/**
 * The provider of the key `kmsKeyId` (a key ARN), or the default key when it is absent.
 *
 * @throws InvalidRequestError when a key is named but this node has no customer keys
 * @throws NotFoundError when the key ring has no such key
 */
export function providerFor(keys: VersionKeys, kmsKeyId: string | undefined): KeyProvider {
  if (kmsKeyId === undefined) return keys.defaultKey;
  if (keys.keyRing === undefined) throw new InvalidRequestError('this node has no customer keys: KmsKeyId is refused');
  return keys.keyRing.provider(kmsKeyId);
}

/**
 * Seals `value` as version `versionId` of the secret `arn` under a fresh data key from `kmsKeyId` (a key ARN; absent:
 * the default key). The version records the key, so it opens under it whatever key the secret names later. The
 * replicator seals a replica's versions with it, under the replica region's keys.
 *
 * @throws InvalidRequestError when the key is no longer available
 * @example
 * ```ts
 * const record = await sealVersion({ defaultKey, keyRing }, { arn, versionId, value, now: clock.now(), kmsKeyId });
 * ```
 */
export async function sealVersion(
  keys: VersionKeys,
  input: {
    readonly arn: string;
    readonly versionId: string;
    readonly value: SecretValue;
    readonly now: number;
    readonly kmsKeyId?: string | undefined;
  },
): Promise<VersionRecord> {
  const binding = { secretId: input.arn, versionId: input.versionId };
  let provider: KeyProvider;
  try {
    provider = providerFor(keys, input.kmsKeyId);
  } catch (cause) {
    // Not the secret that is missing: the key it names (deleted since). Saying "not found" would name the wrong thing.
    if (!(cause instanceof NotFoundError)) throw cause;
    throw new InvalidRequestError(`the key ${input.kmsKeyId} is not available: name another key`, { cause });
  }
  const dataKey = await provider.generateDataKey(binding);
  const plaintext = valueBytes(input.value);
  try {
    const { blob } = seal(dataKey.plaintext, plaintext, binding);
    return {
      versionId: input.versionId,
      createdAt: input.now,
      kind: input.value.kind,
      sealed: blob,
      wrappedKey: dataKey.wrapped,
      ...(input.kmsKeyId === undefined ? {} : { kmsKeyId: input.kmsKeyId }),
    };
  } finally {
    dataKey.plaintext.fill(0);
    // A string's bytes are our copy; a binary value's buffer belongs to the caller.
    if (input.value.kind === 'string') plaintext.fill(0);
  }
}

/**
 * Opens a version of the secret `arn` under the key it records.
 *
 * @throws DecryptionFailureError when the ciphertext or wrapped key fails authentication, or the key is gone
 */
export async function openVersion(keys: VersionKeys, arn: string, version: VersionRecord): Promise<SecretValue> {
  const binding = { secretId: arn, versionId: version.versionId };
  let provider: KeyProvider;
  try {
    provider = providerFor(keys, version.kmsKeyId);
  } catch (cause) {
    // The version exists; the key that sealed it is gone (deleted, or the node lost its customer keys).
    if (!(cause instanceof NotFoundError || cause instanceof InvalidRequestError)) throw cause;
    throw new DecryptionFailureError(`the key that sealed version ${version.versionId} is not available`, { cause });
  }
  const dataKey = await provider.unwrapDataKey(version.wrappedKey, binding);
  const plaintext = open(dataKey, { blob: version.sealed }, binding);
  if (version.kind === 'binary') return { kind: 'binary', binary: plaintext };
  const string = plaintext.toString('utf8');
  plaintext.fill(0);
  return { kind: 'string', string };
}

/**
 * The version re-sealed under `kmsKeyId` (absent: the default key): same id, kind, creation time and value, a fresh
 * data key. The caller writes it over the old record in one conditional put, so the version opens at every point:
 * under the old key before the write, under the new one after.
 */
export async function resealVersion(
  keys: VersionKeys,
  arn: string,
  version: VersionRecord,
  kmsKeyId: string | undefined,
): Promise<VersionRecord> {
  const value = await openVersion(keys, arn, version);
  try {
    return await sealVersion(keys, { arn, versionId: version.versionId, value, now: version.createdAt, kmsKeyId });
  } finally {
    if (value.kind === 'binary') value.binary.fill(0);
  }
}
