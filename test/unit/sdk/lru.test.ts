import { describe, expect, it } from 'vitest';
import { Lru } from '../../../lambdas/sdk/lru.ts';

describe('Class: Lru', () => {
  it('evicts the least recently read entry beyond maxEntries; peek does not refresh', () => {
    const lru = new Lru<string, number>({ maxEntries: 2 });
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect([...lru.entries()].map(([k]) => k)).toEqual(['a', 'c']);
    expect(lru.peek('a')).toBe(1);
    lru.set('d', 4);
    expect([...lru.entries()].map(([k]) => k)).toEqual(['c', 'd']);
    expect(lru.evictions).toBe(2);
  });

  it('keeps the total weight within maxWeight and refuses an entry heavier than the whole budget', () => {
    const lru = new Lru<string, string>({ maxEntries: 10, maxWeight: 10, weigh: (v) => v.length });
    lru.set('a', 'xxxx');
    lru.set('b', 'yyyy');
    lru.set('c', 'zzzz');
    expect(lru.weight).toBe(8);
    expect(lru.size).toBe(2);
    lru.set('huge', 'x'.repeat(11));
    expect(lru.peek('huge')).toBeUndefined();
    expect(lru.size).toBe(2);
  });

  it('replacing a key adjusts the weight; delete removes it', () => {
    const lru = new Lru<string, string>({ maxEntries: 10, maxWeight: 100, weigh: (v) => v.length });
    lru.set('a', 'xxxx');
    lru.set('a', 'xx');
    expect(lru.weight).toBe(2);
    expect(lru.delete('a')).toBe(true);
    expect(lru.delete('a')).toBe(false);
    expect(lru.weight).toBe(0);
  });

  it('with maxEntries 0 keeps nothing', () => {
    const lru = new Lru<string, number>({ maxEntries: 0 });
    lru.set('a', 1);
    expect(lru.size).toBe(0);
  });

  it('re-reading the most recent key keeps the order; reading another, or deleting it, moves it as before', () => {
    const lru = new Lru<string, number>({ maxEntries: 3 });
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    for (let n = 0; n < 3; n++) expect(lru.get('c')).toBe(3);
    expect([...lru.entries()].map(([k]) => k)).toEqual(['a', 'b', 'c']);
    expect(lru.get('a')).toBe(1);
    expect(lru.get('a')).toBe(1);
    expect([...lru.entries()].map(([k]) => k)).toEqual(['b', 'c', 'a']);
    lru.delete('a');
    lru.set('d', 4);
    expect(lru.get('b')).toBe(2);
    lru.set('a', 1);
    lru.set('e', 5);
    // 'c' was least recently used: 'b' moved behind it when read after 'a' was deleted.
    expect([...lru.entries()].map(([k]) => k)).toEqual(['b', 'a', 'e']);
    expect(lru.get('e')).toBe(5);
    lru.set('f', 6);
    expect([...lru.entries()].map(([k]) => k)).toEqual(['a', 'e', 'f']);
  });
});
