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
 * ListSecrets' and BatchGetSecretValue's filters, as AWS matches them. Sources: the API reference's `Filter` type, the
 * user guide's "Find secrets in AWS Secrets Manager" page, and the tests moto (5.2.1,
 * `moto/secretsmanager/list_secrets/filters.py`) and LocalStack ran against real AWS; each rule's test in
 * `test/unit/core/secrets/secret-filters.test.ts` names the example it comes from.
 *
 * - Every filter must hold (two filters with the same key both must: `description: one` and `description: two`
 *   select only a description with both words). Within one filter, the values are alternatives.
 * - `name`, `tag-key`, `tag-value` and `primary-region` match the beginning of the whole field, case-sensitive:
 *   `name: Data` selects `DatabaseSecret`, neither `databaseSecret` nor `MyData`; `name: testing1 one` selects
 *   nothing, not `testing1/one`.
 * - `description` and `all` match words, ignoring case: the value and the field are both split into words (see
 *   `splitWords`), and every word of the value must begin some word of one field (`a secret` selects `a secret` and
 *   `an secret`, not `asecret`). `all` tries the name, the description, every tag key and every tag value, each on
 *   its own.
 * - A value with a leading `!` holds when the rest of it matches no field (`tag-key: !x` selects untagged secrets
 *   too: it is the well-known "catch-all" filter).
 * - `owning-service` matches nothing: no Coffer secret is managed by another service.
 */
export function matchesFilters(secret: SecretDescription, filters: readonly SecretFilter[]): boolean {
  return filters.every((filter) => matchesFilter(secret, filter));
}

function matchesFilter(secret: SecretDescription, filter: SecretFilter): boolean {
  const values = fieldsOf(secret, filter.key);
  const match = MATCHERS[filter.key];
  return (filter.values ?? []).some((value) => {
    const negated = value.startsWith('!');
    const pattern = negated ? value.slice(1) : value;
    const hit = values.some((field) => match(pattern, field));
    return negated ? !hit : hit;
  });
}

type Matcher = (pattern: string, field: string) => boolean;

const prefix: Matcher = (pattern, field) => field.startsWith(pattern);

/** Every word of the pattern begins some word of the field, ignoring case; a pattern without words matches nothing. */
const words: Matcher = (pattern, field) => {
  const wanted = splitWords(pattern).map((w) => w.toLowerCase());
  if (wanted.length === 0) return false;
  const have = splitWords(field).map((w) => w.toLowerCase());
  return wanted.every((w) => have.some((h) => h.startsWith(w)));
};

const MATCHERS: Record<SecretFilterKey, Matcher> = {
  name: prefix,
  'tag-key': prefix,
  'tag-value': prefix,
  'primary-region': prefix,
  'owning-service': prefix,
  description: words,
  all: words,
};

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

/** The characters AWS splits names and descriptions at (the ones a secret name may hold besides letters and digits). */
const SEPARATORS = ['/', '-', '_', '+', '=', '.', '@'] as const;

/**
 * The words AWS's word filters (`description`, `all`) see in a value or a field, as moto's `split_words` found them
 * against real AWS:
 * - a lone separator is no word at all (`all: +` selects nothing);
 * - a string with one kind of separator is split at it (`prod/AppBeta/x` → `prod`, `App`, `Beta`, `x`), but one with
 *   two kinds is one single word (`prod-AppBeta/x` is found by no word filter, not even by `x`);
 * - each piece is split where a lowercase run begins after any other character (a capital, a digit):
 *   `MyTestPhrase` → `My`, `Test`, `Phrase`; `COMPANYthings` → `COMPAN`, `Ythings` (so neither `things` nor `N`
 *   finds it).
 *
 * Whitespace always separates words, before the rules above: the user guide says the search ignores spaces, and
 * a value with spaces requires each of its words. (moto splits at a space only when a lowercase letter follows it, so
 * it would take `A SECRET` for one word; nothing recorded from AWS shows that, and it would make the words of a
 * description depend on their case, which the search ignores.)
 */
export function splitWords(value: string): string[] {
  return value.split(/\s+/).flatMap(splitChunk);
}

function splitChunk(chunk: string): string[] {
  if ((SEPARATORS as readonly string[]).includes(chunk)) return [];
  const present = SEPARATORS.filter((c) => chunk.includes(c));
  if (present.length > 1) return [chunk];
  const pieces = present.length === 1 ? chunk.split(present[0]!) : [chunk];
  return pieces.flatMap(splitAtCase);
}

function splitAtCase(piece: string): string[] {
  // With a capturing group, split keeps each lowercase run together with the character before it, as Python's
  // `re.split(r'([^a-z][a-z]+)', …)` does in moto.
  return piece.split(/([^a-z][a-z]+)/).filter((w) => w !== '');
}

/** The region the `primary-region` filter matches: a replica's primary's, a replicated primary's own, else none. */
export function primaryRegionOf(secret: SecretDescription): string[] {
  if (secret.primaryRegion !== undefined) return [secret.primaryRegion];
  return secret.replication !== undefined && secret.replication.length > 0 ? [secret.region] : [];
}
