import { describe, expect, it } from 'vitest';
import { matchesFilters } from '../../../../lambdas/core/secrets/secret-filters.ts';
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
    region: 'r',
    ...extra,
  };
}

describe('ListSecrets filters', () => {
  const db = secret('prod/db', 1, { description: 'Payments Database', tags: { team: 'blue', env: 'prod' } });
  const api = secret('prod/api', 2, { tags: { team: 'red' } });

  it('matches name by case-sensitive prefix', () => {
    expect(matchesFilters(db, [{ key: 'name', values: ['prod/'] }])).toBe(true);
    expect(matchesFilters(db, [{ key: 'name', values: ['PROD/'] }])).toBe(false);
    expect(matchesFilters(db, [{ key: 'name', values: ['db'] }])).toBe(false);
  });

  it('ignores case for description and all', () => {
    expect(matchesFilters(db, [{ key: 'description', values: ['payments'] }])).toBe(true);
    expect(matchesFilters(db, [{ key: 'all', values: ['BLU'] }])).toBe(true);
    expect(matchesFilters(db, [{ key: 'all', values: ['PROD/D'] }])).toBe(true);
  });

  it('ORs values within a filter and ANDs filters', () => {
    const filters = [
      { key: 'name' as const, values: ['prod/'] },
      { key: 'tag-value' as const, values: ['red', 'green'] },
    ];
    expect(matchesFilters(api, filters)).toBe(true);
    expect(matchesFilters(db, filters)).toBe(false);
  });

  it('negates a value with a leading !', () => {
    expect(matchesFilters(db, [{ key: 'tag-key', values: ['!env'] }])).toBe(false);
    expect(matchesFilters(api, [{ key: 'tag-key', values: ['!env'] }])).toBe(true);
  });

  it('matches nothing for primary-region and owning-service, which Coffer secrets lack', () => {
    expect(matchesFilters(db, [{ key: 'primary-region', values: ['us-east-1'] }])).toBe(false);
    expect(matchesFilters(db, [{ key: 'owning-service', values: ['!rds'] }])).toBe(true);
  });
});
