import { createHash } from 'node:crypto';
import { type CreationOrder, isCreationOrderKey } from '../../../core/secrets/secret-creation-order.ts';
import type { SecretFilter } from '../../../core/secrets/secret-filters.ts';
import { SECRETS_MANAGER_ERRORS } from './errors.ts';
import { awsError, type Filter, smError } from './shapes.ts';

/**
 * ListSecrets' and BatchGetSecretValue's NextToken: the position in creation order where the next page starts, and
 * the query it belongs to. A token is refused with other filters or another order, and one whose position is not a
 * position of that order. Altering a position only moves where a listing resumes: every secret it then meets is
 * decided by the caller's policy as on any page.
 */
interface PageToken {
  /** `SecretService.listInCreationOrder`'s position. */
  readonly p: string;
  /** The query's fingerprint. */
  readonly q: string;
}

export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodePageToken(position: string, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ p: position, q: fingerprint } satisfies PageToken)).toString('base64url');
}

/** The position in `token`, or `undefined` for the first page. @throws InvalidNextTokenException (a 400) */
export function decodePageToken(
  token: string | undefined,
  query: { order: CreationOrder; fingerprint: string },
): string | undefined {
  if (token === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    // any undecodable token is the same client error as a malformed one
  }
  const candidate = parsed as Partial<PageToken> | null | undefined;
  if (typeof candidate?.p !== 'string' || typeof candidate.q !== 'string') {
    throw awsError('InvalidNextTokenException', 'The NextToken value is not valid.');
  }
  if (candidate.q !== query.fingerprint) {
    throw awsError('InvalidNextTokenException', 'The NextToken does not belong to this query.');
  }
  if (!isCreationOrderKey(query.order, candidate.p)) {
    throw awsError('InvalidNextTokenException', 'The NextToken value is not valid.');
  }
  return candidate.p;
}

/**
 * Wire filters as the core takes them. The model makes `Values` optional, but AWS refuses a filter without them
 * (`SECRETS_MANAGER_ERRORS.filterWithoutValues`); the routes check it before authorising, this keeps the type honest.
 * @throws InvalidParameterException (a 400)
 */
export function filtersIn(filters: readonly Filter[]): SecretFilter[] {
  return filters.map((f) => {
    if (f.Values === undefined) throw smError(SECRETS_MANAGER_ERRORS.filterWithoutValues(f.Key));
    return { key: f.Key, values: f.Values };
  });
}
