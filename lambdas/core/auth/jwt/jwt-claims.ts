import { globMatch } from '../methods/globs.ts';
import { JwtLoginError } from './jwt-errors.ts';

/** The most a mapped claim may put into one metadata value (a token's metadata limit). */
const MAX_METADATA_VALUE = 512;

/**
 * A claim by name, or by JSON pointer (RFC 6901) when the path starts with `/`, as Vault reads `bound_claims`,
 * `claim_mappings` and `user_claim`: `/repository_owner` or `/groups/0` or `/kubernetes.io/namespace` (a pointer's
 * `~1` is a `/`, `~0` a `~`). Only own properties are followed, so `__proto__` or `constructor` name nothing.
 *
 * @example getClaim({ a: { b: 1 } }, '/a/b') // 1
 */
export function getClaim(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (!path.startsWith('/')) return Object.hasOwn(claims, path) ? claims[path] : undefined;
  let value: unknown = claims;
  for (const raw of path.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(value)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return undefined;
      value = value[Number(segment)];
    } else if (typeof value === 'object' && value !== null && Object.hasOwn(value, segment)) {
      value = (value as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return value;
}

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/**
 * Checks a role's `bound_claims`: every bound claim must be present, and one of its values (a list claim such as
 * `groups` may hold several) must equal one of the role's values, or match one of its globs with
 * `bound_claims_type: glob`. Values compare as text, so a bound `"42"` matches a numeric claim `42`.
 *
 * @throws JwtLoginError `claim "<name>" is missing` or `claim "<name>" does not match the role`; the name is the
 *   role's own, never a value of the token
 */
export function checkBoundClaims(
  claims: Readonly<Record<string, unknown>>,
  bound: Readonly<Record<string, Scalar | readonly Scalar[]>>,
  type: 'string' | 'glob',
): void {
  for (const [path, expected] of Object.entries(bound)) {
    const actual = getClaim(claims, path);
    if (actual === undefined || actual === null) throw new JwtLoginError('claim', `claim "${path}" is missing`);
    const actualValues = (Array.isArray(actual) ? actual : [actual]).filter(isScalar).map(String);
    const expectedValues = (Array.isArray(expected) ? expected : [expected]).map(String);
    const matches = actualValues.some((value) =>
      expectedValues.some((want) => (type === 'glob' ? globMatch(want, value) : want === value)),
    );
    if (!matches) throw new JwtLoginError('claim', `claim "${path}" does not match the role`);
  }
}

/**
 * The role's `claim_mappings` applied: each present claim's value becomes the named metadata entry (a claim absent
 * from the token is skipped, as in Vault). Metadata feeds templated policies, so a value that is not a string,
 * number or boolean is refused rather than flattened in some made-up way.
 *
 * @throws JwtLoginError when a mapped claim is a list or object, or too long for token metadata
 */
export function mapClaims(
  claims: Readonly<Record<string, unknown>>,
  mappings: Readonly<Record<string, string>>,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [path, key] of Object.entries(mappings)) {
    const value = getClaim(claims, path);
    if (value === undefined || value === null) continue;
    if (!isScalar(value)) {
      throw new JwtLoginError('claim', `claim "${path}" (mapped to metadata "${key}") is not a string`);
    }
    const text = String(value);
    if (text.length > MAX_METADATA_VALUE) {
      throw new JwtLoginError('claim', `claim "${path}" (mapped to metadata "${key}") is too long`);
    }
    metadata[key] = text;
  }
  return metadata;
}

/**
 * The token's identity under the role's `user_claim` (default `sub`), which names the Coffer token it gets.
 * @throws JwtLoginError when the claim is missing or not a string or number
 */
export function userClaim(claims: Readonly<Record<string, unknown>>, path: string): string {
  const value = getClaim(claims, path);
  if (value === undefined || value === null || value === '') {
    throw new JwtLoginError('claim', `claim "${path}" (user_claim) is missing`);
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new JwtLoginError('claim', `claim "${path}" (user_claim) is not a string`);
  }
  const text = String(value);
  if (text.length > MAX_METADATA_VALUE) throw new JwtLoginError('claim', `claim "${path}" (user_claim) is too long`);
  return text;
}
