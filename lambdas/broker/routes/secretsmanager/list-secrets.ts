import { createHash } from 'node:crypto';
import type { SecretDescription } from '../../../core/secrets/secret-types.ts';
import { awsError, type Filter } from './shapes.ts';

/**
 * ListSecrets' filters, order and paging, as AWS documents them: within one filter the values are alternatives, and
 * across filters all must hold; a value matches as a prefix; a leading `!` negates it; `description` and `all`
 * ignore case. Pure, so every rule is tested on its own.
 */
export function matchesFilters(secret: SecretDescription, filters: readonly Filter[]): boolean {
  return filters.every((filter) => matchesFilter(secret, filter));
}

function matchesFilter(secret: SecretDescription, filter: Filter): boolean {
  const values = filter.Values ?? [];
  const positive = values.filter((v) => !v.startsWith('!'));
  const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  const fields = fieldsOf(secret, filter.Key);
  const ignoreCase = filter.Key === 'description' || filter.Key === 'all';
  const hit = (value: string) => fields.some((field) => startsWith(field, value, ignoreCase));
  if (negative.some(hit)) return false;
  return positive.length === 0 || positive.some(hit);
}

function fieldsOf(secret: SecretDescription, key: Filter['Key']): string[] {
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
    case 'owning-service':
      // Coffer secrets are neither replicated nor owned by another service.
      return [];
    case 'all':
      return [secret.name, secret.description, ...Object.keys(secret.tags), ...Object.values(secret.tags)];
  }
}

function startsWith(field: string, prefix: string, ignoreCase: boolean): boolean {
  return ignoreCase ? field.toLowerCase().startsWith(prefix.toLowerCase()) : field.startsWith(prefix);
}

/** Ascending (default) or descending by creation date, ties by name, so pages are stable. */
export function sortSecrets(secrets: SecretDescription[], order: 'asc' | 'desc' = 'asc'): SecretDescription[] {
  const sign = order === 'desc' ? -1 : 1;
  return secrets.sort((a, b) => sign * (a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
}

interface Cursor {
  /** Position: the last returned secret's creation date and name. */
  readonly c: number;
  readonly n: string;
  /** The query the token belongs to: a token is refused with other filters or another order. */
  readonly q: string;
}

export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

/**
 * One page after the position in `nextToken`. Keyset paging: secrets created or deleted between pages neither repeat
 * nor shift the rest.
 */
export function page<T extends SecretDescription>(
  sorted: readonly T[],
  options: { maxResults: number; nextToken?: string | undefined; order: 'asc' | 'desc'; fingerprint: string },
): { items: T[]; nextToken?: string } {
  let start = 0;
  if (options.nextToken !== undefined) {
    const cursor = decode(options.nextToken);
    if (cursor.q !== options.fingerprint) {
      throw awsError('InvalidNextTokenException', 'The NextToken does not belong to this query.');
    }
    const sign = options.order === 'desc' ? -1 : 1;
    const after = (s: SecretDescription) => {
      const cmp = s.createdAt - cursor.c || (s.name < cursor.n ? -1 : s.name > cursor.n ? 1 : 0);
      return sign * cmp > 0;
    };
    start = sorted.findIndex(after);
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + options.maxResults);
  const last = items.at(-1);
  if (last === undefined || start + items.length >= sorted.length) return { items };
  return { items, nextToken: encode({ c: last.createdAt, n: last.name, q: options.fingerprint }) };
}

function encode(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decode(token: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as Cursor).c === 'number' &&
      typeof (parsed as Cursor).n === 'string' &&
      typeof (parsed as Cursor).q === 'string'
    ) {
      return parsed as Cursor;
    }
  } catch {
    // fall through: any undecodable token is the same client error
  }
  throw awsError('InvalidNextTokenException', 'The NextToken value is not valid.');
}
