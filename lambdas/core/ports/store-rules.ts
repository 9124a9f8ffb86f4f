import { type Condition, MAX_TRANSACTION_OPS, type StoredItem, type WriteOp } from './store.ts';

/**
 * Rules of the `Store` port that every adapter must apply identically (memory, SQLite, DynamoDB): they are part of
 * the contract, so they live beside it rather than in one adapter the others would have to import.
 */

/** Byte-wise ordering of sort keys, as DynamoDB and SQLite's BINARY collation order UTF-8 strings. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Whether a write's `condition` is met by the item as it is now (`undefined`: there is none). */
export function holds(condition: Condition, current: StoredItem | undefined): boolean {
  switch (condition.kind) {
    case 'absent':
      return current === undefined;
    case 'exists':
      return current !== undefined;
    case 'rev':
      return current !== undefined && current.rev === condition.rev;
  }
}

/**
 * Refuses a transaction DynamoDB would refuse (empty, too many operations, one item twice), so a caller that works
 * against a local store does not fail on AWS.
 * @throws RangeError naming the broken rule
 */
export function validateOps(ops: readonly WriteOp[]): void {
  if (ops.length === 0) throw new RangeError('a transaction needs at least one operation');
  if (ops.length > MAX_TRANSACTION_OPS)
    throw new RangeError(`a transaction holds at most ${MAX_TRANSACTION_OPS} operations`);
  const seen = new Set<string>();
  for (const op of ops) {
    const key = JSON.stringify([op.pk, op.sk]);
    if (seen.has(key)) throw new RangeError('a transaction may touch each item only once');
    seen.add(key);
  }
}

/**
 * The smallest string above every string that starts with `prefix` (undefined if none exists), so a prefix becomes
 * an index range (in SQLite and PostgreSQL alike). UTF-8 byte order equals code point order, so bumping the last code
 * point is enough; unlike LIKE or GLOB this needs no escaping of `%`, `_`, `*` or `?`.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  // Lone surrogates reach the database as U+FFFD (UTF-8 encoding replaces them), so compute the bound on what is actually stored.
  const codePoints = Array.from(prefix, (char) => {
    const codePoint = char.codePointAt(0)!;
    return codePoint >= 0xd800 && codePoint <= 0xdfff ? 0xfffd : codePoint;
  });
  while (codePoints.length > 0) {
    const last = codePoints.pop()!;
    if (last < 0x10ffff) return String.fromCodePoint(...codePoints, last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}
