import { describe, expect, it } from 'vitest';
import {
  creationOrderKey,
  isCreationOrderKey,
  nameInCreationOrderKey,
} from '../../../../lambdas/core/secrets/secret-creation-order.ts';

const secrets: [string, number][] = [
  ['c', 3],
  ['a', 1],
  ['b', 1],
  ['ab', 1],
  ['a+b/Z_z', 1],
  ['d', 1_700_000_000_000],
];

/** The order ListSecrets promises: by creation date, ties by name, either way. */
function expected(order: 'asc' | 'desc'): string[] {
  const sign = order === 'desc' ? -1 : 1;
  return [...secrets]
    .sort(([an, ac], [bn, bc]) => sign * (ac - bc || (an < bn ? -1 : an > bn ? 1 : 0)))
    .map(([name]) => name);
}

describe('Module: secret-creation-order', () => {
  it.each(['asc', 'desc'] as const)('sorts keys %s by creation date, ties by name', (order) => {
    const byKey = secrets
      .map(([name, createdAt]) => ({ name, key: creationOrderKey(order, name, createdAt) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((s) => s.name);
    expect(byKey).toEqual(expected(order));
  });

  it('gives back the name in a key of either order', () => {
    for (const [name, createdAt] of secrets) {
      expect(nameInCreationOrderKey(creationOrderKey('asc', name, createdAt))).toBe(name);
      expect(nameInCreationOrderKey(creationOrderKey('desc', name, createdAt))).toBe(name);
    }
  });

  it('recognises only keys of the order asked', () => {
    const asc = creationOrderKey('asc', 'prod/db', 5);
    const desc = creationOrderKey('desc', 'prod/db', 5);
    expect(isCreationOrderKey('asc', asc)).toBe(true);
    expect(isCreationOrderKey('desc', desc)).toBe(true);
    expect(isCreationOrderKey('asc', desc)).toBe(false);
    expect(isCreationOrderKey('desc', asc)).toBe(false);
    expect(isCreationOrderKey('asc', 'complete')).toBe(false);
    expect(isCreationOrderKey('asc', 'a/12/x')).toBe(false);
  });
});
