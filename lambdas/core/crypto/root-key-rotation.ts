import { ConflictError } from '../errors.ts';
import type { EncryptionContext, KeyProvider } from '../ports/key-provider.ts';
import { ConditionFailedError, type ItemData, type Store, type StoredItem } from '../ports/store.ts';

/** A keyring whose root (wrapping) key the node rotates itself: the local file keyring. KMS rotates its own. */
export interface RootKeyring {
  describe(): { readonly keyId: string };
  /** Makes a new primary root key and returns its id; older keys still unwrap. */
  rotate(): Promise<string>;
  /** Forgets a root key: data keys still wrapped by it can no longer be unwrapped. */
  retire(keyId: string): Promise<void>;
}

/** A service holding wrapped data keys: re-wraps every one not under the current root key, and counts them. */
export interface DataKeyHolder {
  rewrapAll(): Promise<{ rewrapped: number }>;
}

/** Where an item of a partition keeps its one wrapped data key, for {@link rewrapPartition}. */
export interface WrappedKeyField<T extends ItemData> {
  /** The item's wrapped key and the context it is bound to, or `undefined` when the item holds none. */
  wrappedOf(item: StoredItem<T>): { readonly wrapped: string; readonly context: EncryptionContext } | undefined;
  /** The item's data with `wrapped` in place of its key. */
  withWrapped(data: T, wrapped: string): T;
}

/**
 * `DataKeyHolder.rewrapAll` of a partition whose items each hold one wrapped data key: every key not under the current
 * root key is re-wrapped, item by item, in a put conditional on the revision read (keeping the item's expiry). An item
 * changed or removed meanwhile is skipped: whoever wrote it wrapped its key afresh. Returns how many were re-wrapped.
 */
export async function rewrapPartition<T extends ItemData>(
  store: Store,
  keyProvider: KeyProvider,
  pk: string,
  field: WrappedKeyField<T>,
): Promise<number> {
  let rewrapped = 0;
  let startAfter: string | undefined;
  do {
    const page = await store.query<T>(pk, { limit: 1000, ...(startAfter !== undefined && { startAfter }) });
    for (const item of page.items) {
      const key = field.wrappedOf(item);
      if (key === undefined || keyProvider.isCurrent(key.wrapped)) continue;
      const wrapped = await keyProvider.rewrapDataKey(key.wrapped, key.context);
      try {
        await store.transact([
          {
            type: 'put',
            pk,
            sk: item.sk,
            data: field.withWrapped(item.data, wrapped),
            condition: { kind: 'rev', rev: item.rev },
            ...(item.expiresAt !== undefined && { expiresAt: item.expiresAt }),
          },
        ]);
        rewrapped++;
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    startAfter = page.lastKey;
  } while (startAfter !== undefined);
  return rewrapped;
}

export interface RootKeyRotation {
  readonly keyId: string;
  readonly rewrapped: number;
  readonly retired: string[];
}

/**
 * Rotates the root key, re-wraps every data key the `holders` keep, then retires the previous root key.
 *
 * A write that generated its data key just before the rotation may commit after a pass has gone by its record, so
 * passes repeat until one finds nothing left under the old key; only then is it retired. Should writes keep landing
 * under the old key for `maxPasses`, the old key is kept (everything stays readable) and the caller may retry.
 *
 * @throws ConflictError when no pass came back clean within `maxPasses`; the new key is primary, the old one kept.
 */
export async function rotateRootKey(options: {
  readonly keyring: RootKeyring;
  readonly holders: readonly DataKeyHolder[];
  /** Forgets cached plaintext data keys, unwrapped under the key about to be retired. */
  readonly clearCache: () => void;
  /** @default 5 */
  readonly maxPasses?: number;
}): Promise<RootKeyRotation> {
  const { keyring, holders } = options;
  const maxPasses = options.maxPasses ?? 5;
  const previous = keyring.describe().keyId;
  const keyId = await keyring.rotate();
  let rewrapped = 0;
  let clean = false;
  for (let pass = 0; pass < maxPasses && !clean; pass++) {
    let count = 0;
    for (const holder of holders) count += (await holder.rewrapAll()).rewrapped;
    rewrapped += count;
    // The first pass cannot prove the absence of a late write; a later empty pass can.
    clean = count === 0 && pass > 0;
  }
  if (!clean) {
    throw new ConflictError(
      `root key ${keyId} is primary, but writes kept arriving under ${previous} for ${maxPasses} passes: it was not retired; retry`,
    );
  }
  await keyring.retire(previous);
  options.clearCache();
  return { keyId, rewrapped, retired: [previous] };
}
