import type { WriteOp } from '../ports/store.ts';

/**
 * The creation-order index: two small items per secret (`{ name, createdAt }`), one sorting oldest first and one
 * newest first (ties by name, descending in the second), so that ListSecrets reads one page of names in AWS's order
 * with a plain ascending query instead of sorting every secret. The store port only reads forwards, hence a key of
 * its own for each direction.
 *
 * Written in the same transaction as the secret's metadata when it is created and removed with it when it is purged.
 * A store that held secrets before the index existed is indexed once, by the first listing
 * (`SecretService.indexCreationOrder`), which then writes `CREATION_ORDER_COMPLETE`.
 */
export const CREATION_ORDER_PARTITION = 'secrets-by-creation';
/** The marker item (outside both key prefixes): every secret in the store has its index items. */
export const CREATION_ORDER_COMPLETE = 'complete';

export type CreationOrder = 'asc' | 'desc';

export type CreationOrderItem = { name: string; createdAt: number };

const PREFIX: Record<CreationOrder, string> = { asc: 'a/', desc: 'd/' };
/** Epoch milliseconds have 13 digits until the year 2286. */
const WIDTH = 13;
const LATEST = 10 ** WIDTH - 1;
/** Name characters lie in '+' (0x2b) … 'z' (0x7a); mirrored inside that range they sort backwards. */
const LOW = 0x2b;
const HIGH = 0x7a;
/** Sorts after every mirrored character, so that a longer name sorts before its own prefix, as descending wants. */
const END = '~';

/** The prefix of one direction's keys, for a query. */
export function creationOrderPrefix(order: CreationOrder): string {
  return PREFIX[order];
}

/** The key of a secret in one direction. */
export function creationOrderKey(order: CreationOrder, name: string, createdAt: number): string {
  const at = Math.trunc(createdAt);
  if (order === 'asc') return `${PREFIX.asc}${String(at).padStart(WIDTH, '0')}/${name}`;
  const mirrored = [...name].map((c) => String.fromCharCode(HIGH + LOW - c.charCodeAt(0))).join('');
  return `${PREFIX.desc}${String(LATEST - at).padStart(WIDTH, '0')}/${mirrored}${END}`;
}

/** The secret name in a key of either order. */
export function nameInCreationOrderKey(key: string): string {
  const name = key.slice(PREFIX.asc.length + WIDTH + 1);
  if (key.startsWith(PREFIX.asc)) return name;
  return [...name.slice(0, -END.length)].map((c) => String.fromCharCode(HIGH + LOW - c.charCodeAt(0))).join('');
}

/** Whether `key` can be a key of `order` (a listing position from a client must be one). */
export function isCreationOrderKey(order: CreationOrder, key: string): boolean {
  const pattern = order === 'asc' ? /^a\/\d{13}\/[+-z]{1,512}$/ : /^d\/\d{13}\/[+-z]{1,512}~$/;
  return pattern.test(key);
}

/**
 * The index items of a new secret, to add to the transaction that creates it, in `partition` (the region's; see
 * `secret-partitions.ts`).
 */
export function indexCreation(name: string, createdAt: number, partition = CREATION_ORDER_PARTITION): WriteOp[] {
  const data: CreationOrderItem = { name, createdAt };
  return (['asc', 'desc'] as const).map(
    (order): WriteOp => ({
      type: 'put',
      pk: partition,
      sk: creationOrderKey(order, name, createdAt),
      data,
    }),
  );
}

/** The removal of a secret's index items, to add to the transaction that purges it. */
export function unindexCreation(name: string, createdAt: number, partition = CREATION_ORDER_PARTITION): WriteOp[] {
  return (['asc', 'desc'] as const).map(
    (order): WriteOp => ({
      type: 'delete',
      pk: partition,
      sk: creationOrderKey(order, name, createdAt),
    }),
  );
}
