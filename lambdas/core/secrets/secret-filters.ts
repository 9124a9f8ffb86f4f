import type { SecretDescription } from './secret-types.ts';

/** What a ListSecrets / BatchGetSecretValue filter looks at. */
export type SecretFilterKey =
  | 'description'
  | 'name'
  | 'tag-key'
  | 'tag-value'
  | 'primary-region'
  | 'owning-service'
  | 'all';

export interface SecretFilter {
  readonly key: SecretFilterKey;
  readonly values?: readonly string[] | undefined;
}

/**
 * ListSecrets' filters as AWS documents them: within one filter the values are alternatives, and across filters all
 * must hold; a value matches as a prefix; a leading `!` negates it; `description` and `all` ignore case.
 */
export function matchesFilters(secret: SecretDescription, filters: readonly SecretFilter[]): boolean {
  return filters.every((filter) => matchesFilter(secret, filter));
}

function matchesFilter(secret: SecretDescription, filter: SecretFilter): boolean {
  const values = filter.values ?? [];
  const positive = values.filter((v) => !v.startsWith('!'));
  const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  const fields = fieldsOf(secret, filter.key);
  const ignoreCase = filter.key === 'description' || filter.key === 'all';
  const hit = (value: string) => fields.some((field) => startsWith(field, value, ignoreCase));
  if (negative.some(hit)) return false;
  return positive.length === 0 || positive.some(hit);
}

function fieldsOf(secret: SecretDescription, key: SecretFilterKey): string[] {
  switch (key) {
    case 'name':
      return [secret.name];
    case 'description':
      return [secret.description];
    case 'tag-key':
      return Object.keys(secret.tags);
    case 'tag-value':
      return Object.values(secret.tags);
    case 'primary-region':
      // A replica's primary region; a primary with replicas is its own (moto `filter_primary_region`).
      return primaryRegionOf(secret);
    case 'owning-service':
      // Coffer secrets are not owned by another service.
      return [];
    case 'all':
      return [secret.name, secret.description, ...Object.keys(secret.tags), ...Object.values(secret.tags)];
  }
}

function startsWith(field: string, prefix: string, ignoreCase: boolean): boolean {
  return ignoreCase ? field.toLowerCase().startsWith(prefix.toLowerCase()) : field.startsWith(prefix);
}

/** The region the `primary-region` filter matches: a replica's primary's, a replicated primary's own, else none. */
export function primaryRegionOf(secret: SecretDescription): string[] {
  if (secret.primaryRegion !== undefined) return [secret.primaryRegion];
  return secret.replication !== undefined && secret.replication.length > 0 ? [secret.region] : [];
}
