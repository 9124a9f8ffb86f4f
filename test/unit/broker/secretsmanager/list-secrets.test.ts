import { describe, expect, it } from 'vitest';
import {
  matchesFilters,
  page,
  queryFingerprint,
  sortSecrets,
} from '../../../../lambdas/broker/routes/secretsmanager/list-secrets.ts';
import type { SecretDescription } from '../../../../lambdas/core/secrets/secret-types.ts';

function secret(name: string, createdAt: number, extra: Partial<SecretDescription> = {}): SecretDescription {
  return {
    arn: `arn:aws:secretsmanager:r:1:secret:${name}-abcdef`,
    name,
    description: '',
    tags: {},
    metadata: {},
    createdAt,
    updatedAt: createdAt,
    versionIdsToStages: {},
    ...extra,
  };
}

describe('ListSecrets filters', () => {
  const db = secret('prod/db', 1, { description: 'Payments Database', tags: { team: 'blue', env: 'prod' } });
  const api = secret('prod/api', 2, { tags: { team: 'red' } });

  it('matches name by case-sensitive prefix', () => {
    expect(matchesFilters(db, [{ Key: 'name', Values: ['prod/'] }])).toBe(true);
    expect(matchesFilters(db, [{ Key: 'name', Values: ['PROD/'] }])).toBe(false);
    expect(matchesFilters(db, [{ Key: 'name', Values: ['db'] }])).toBe(false);
  });

  it('ignores case for description and all', () => {
    expect(matchesFilters(db, [{ Key: 'description', Values: ['payments'] }])).toBe(true);
    expect(matchesFilters(db, [{ Key: 'all', Values: ['BLU'] }])).toBe(true);
    expect(matchesFilters(db, [{ Key: 'all', Values: ['PROD/D'] }])).toBe(true);
  });

  it('ORs values within a filter and ANDs filters', () => {
    const filters = [
      { Key: 'name' as const, Values: ['prod/'] },
      { Key: 'tag-value' as const, Values: ['red', 'green'] },
    ];
    expect(matchesFilters(api, filters)).toBe(true);
    expect(matchesFilters(db, filters)).toBe(false);
  });

  it('negates a value with a leading !', () => {
    expect(matchesFilters(db, [{ Key: 'tag-key', Values: ['!env'] }])).toBe(false);
    expect(matchesFilters(api, [{ Key: 'tag-key', Values: ['!env'] }])).toBe(true);
  });

  it('matches nothing for primary-region and owning-service, which Coffer secrets lack', () => {
    expect(matchesFilters(db, [{ Key: 'primary-region', Values: ['us-east-1'] }])).toBe(false);
    expect(matchesFilters(db, [{ Key: 'owning-service', Values: ['!rds'] }])).toBe(true);
  });
});

describe('ListSecrets order and paging', () => {
  const all = [secret('c', 3), secret('a', 1), secret('b', 1), secret('d', 4)];

  it('sorts by creation date, ties by name, either way', () => {
    expect(sortSecrets([...all]).map((s) => s.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(sortSecrets([...all], 'desc').map((s) => s.name)).toEqual(['d', 'c', 'b', 'a']);
  });

  it('pages with keyset tokens that survive inserts and deletes between pages', () => {
    const fingerprint = queryFingerprint(['q']);
    const sorted = sortSecrets([...all]);
    const first = page(sorted, { maxResults: 2, order: 'asc', fingerprint });
    expect(first.items.map((s) => s.name)).toEqual(['a', 'b']);
    // 'b' is deleted and an older secret appears: the next page still starts after 'b'.
    const changed = sortSecrets([secret('0', 0), secret('a', 1), secret('c', 3), secret('d', 4)]);
    const second = page(changed, { maxResults: 2, order: 'asc', fingerprint, nextToken: first.nextToken });
    expect(second.items.map((s) => s.name)).toEqual(['c', 'd']);
    expect(second.nextToken).toBeUndefined();
  });

  it('refuses a token of another query, or garbage, as InvalidNextTokenException', () => {
    const sorted = sortSecrets([...all]);
    const token = page(sorted, { maxResults: 1, order: 'asc', fingerprint: 'a' }).nextToken;
    for (const nextToken of [token, 'garbage', Buffer.from('{"c":"x"}').toString('base64url')]) {
      try {
        page(sorted, { maxResults: 1, order: 'asc', fingerprint: 'b', nextToken });
        expect.unreachable();
      } catch (err) {
        expect((err as { details?: Record<string, unknown> }).details?.awsType).toBe('InvalidNextTokenException');
      }
    }
  });
});
