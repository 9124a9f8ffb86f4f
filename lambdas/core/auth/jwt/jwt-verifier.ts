import { decodeProtectedHeader, errors, type JWTPayload } from 'jose';

import { InternalError } from '../../errors.ts';
import { checkBoundClaims, mapClaims, userClaim } from './jwt-claims.ts';
import {
  DEFAULT_JWT_ALGORITHMS,
  isKeyFetchUrl,
  JWT_ALGORITHMS,
  JWT_LIMITS,
  type JwtMountConfig,
  type JwtRole,
} from './jwt-config.ts';
import { JwtLoginError } from './jwt-errors.ts';
import {
  type JwksFetchOptions,
  JwksKeySource,
  type JwtKeySource,
  OidcDiscoveryKeySource,
  StaticKeySource,
} from './jwt-keys.ts';

/** For the Kubernetes method's TokenReview mode, which reads a token's claims before the cluster checks it. */
export { decodeJwt } from 'jose';

/** What a verified JWT says about its bearer, for the login to turn into a Coffer token. */
export interface JwtIdentity {
  /** The `user_claim`'s value: the name of the Coffer token and of the identity templated policies see. */
  readonly alias: string;
  /** The role's `claim_mappings` applied to the token's claims. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The JWT's own expiry (epoch seconds). */
  readonly expiresAt: number;
}

/**
 * The key source a mount's configuration names. The fetching ones get the egress-guarded fetch from the caller.
 * @example const keys = keySourceFor(config, { fetch: guardedFetch(guard, 'jwt auth'), now: Date.now });
 */
export function keySourceFor(config: JwtMountConfig, options: JwksFetchOptions): JwtKeySource {
  if (config.jwt_validation_pubkeys !== undefined) return new StaticKeySource(config.jwt_validation_pubkeys);
  if (config.jwks_url !== undefined) return new JwksKeySource(config.jwks_url, options);
  if (config.oidc_discovery_url !== undefined) {
    return new OidcDiscoveryKeySource(config.oidc_discovery_url, options, isKeyFetchUrl);
  }
  throw new InternalError('a JWT mount configuration without a key source passed its schema');
}

/**
 * Verifies a login JWT for a role of a mount, in the order that reveals least to a caller with a bad token: form and
 * `alg` first (without touching a key), then the signature, then issuer, audience and times, then the role's bound
 * subject and claims. jose's `jwtVerify` checks the signature, the `alg` allow-list, `iss` and `aud`; the times are
 * checked here as well because a role has separate leeways for `exp` and `nbf` (each on top of
 * `clock_skew_leeway`), which jose's one symmetric tolerance cannot express. `exp` is required: a token that never
 * expires would be a permanent credential.
 *
 * @param now epoch milliseconds
 * @throws JwtLoginError naming the failed check (never the token); InternalError when the keys cannot be fetched
 */
export async function verifyLoginJwt(
  jwt: string,
  config: JwtMountConfig,
  role: JwtRole,
  keys: JwtKeySource,
  now: number,
): Promise<JwtIdentity> {
  const algorithms = [...(config.jwt_supported_algs ?? DEFAULT_JWT_ALGORITHMS)];
  checkForm(jwt, algorithms);

  const issuer = config.bound_issuer ?? (await keys.issuer());
  const nowSeconds = Math.floor(now / 1000);
  const expLeeway = role.clock_skew_leeway + role.expiration_leeway;
  const nbfLeeway = role.clock_skew_leeway + role.not_before_leeway;
  let payload: JWTPayload;
  try {
    ({ payload } = await keys.verify(jwt, {
      algorithms,
      ...(issuer !== undefined && { issuer }),
      ...(role.bound_audiences !== undefined && role.bound_audiences.length > 0 && { audience: role.bound_audiences }),
      currentDate: new Date(now),
      // The widest of the two windows; the exact ones are checked below.
      clockTolerance: Math.max(expLeeway, nbfLeeway),
      requiredClaims: ['exp'],
    }));
  } catch (err) {
    throw toLoginError(err);
  }

  const exp = payload.exp as number;
  // As jose and RFC 7519: a token is valid only before its exp.
  if (nowSeconds >= exp + expLeeway) throw new JwtLoginError('expired', 'token expired');
  if (payload.nbf !== undefined && nowSeconds < payload.nbf - nbfLeeway) {
    throw new JwtLoginError('not_yet_valid', 'token not yet valid');
  }
  if (payload.iat !== undefined && payload.iat > nowSeconds + role.clock_skew_leeway) {
    throw new JwtLoginError('not_yet_valid', 'token issued in the future');
  }
  // As Vault: a token meant for some audience must not be accepted by a role that names none.
  if ((role.bound_audiences ?? []).length === 0 && payload.aud !== undefined) {
    throw new JwtLoginError('audience', 'audience not allowed: the token has one and the role binds none');
  }
  if (role.bound_subject !== undefined && payload.sub !== role.bound_subject) {
    throw new JwtLoginError('subject', 'subject not allowed');
  }
  checkBoundClaims(payload, role.bound_claims ?? {}, role.bound_claims_type);
  return {
    alias: userClaim(payload, role.user_claim),
    metadata: mapClaims(payload, role.claim_mappings ?? {}),
    expiresAt: exp,
  };
}

/** The checks that need no key: size, shape, and an `alg` on the mount's list (`none` named as such). */
export function checkForm(jwt: string, algorithms: readonly string[]): void {
  if (jwt.length > JWT_LIMITS.tokenLength || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(jwt)) {
    throw new JwtLoginError('malformed', 'token is not a compact JWT');
  }
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(jwt).alg;
  } catch {
    throw new JwtLoginError('malformed', 'token is not a compact JWT');
  }
  if (typeof alg !== 'string') throw new JwtLoginError('malformed', 'token header has no alg');
  if (alg.toLowerCase() === 'none') throw new JwtLoginError('algorithm', 'algorithm none not allowed');
  if (!algorithms.includes(alg)) {
    // Name the algorithm only when it is a real one: the header is the caller's text.
    const known = (JWT_ALGORITHMS as readonly string[]).includes(alg) || /^HS(256|384|512)$/.test(alg);
    throw new JwtLoginError('algorithm', known ? `algorithm ${alg} not allowed` : 'algorithm not allowed');
  }
  if (jwt.endsWith('.')) throw new JwtLoginError('signature', 'token signature is invalid');
}

/** jose's refusals in the login's words. */
export function toLoginError(err: unknown): Error {
  if (err instanceof JwtLoginError || !(err instanceof errors.JOSEError)) return err as Error;
  if (err instanceof errors.JWTExpired) return new JwtLoginError('expired', 'token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return new JwtLoginError('issuer', 'issuer not allowed');
      case 'aud':
        return new JwtLoginError('audience', 'audience not allowed');
      case 'nbf':
        return new JwtLoginError('not_yet_valid', 'token not yet valid');
      case 'exp':
        return new JwtLoginError('expired', 'token has no expiry (exp)');
      default:
        return new JwtLoginError('malformed', `claim "${err.claim}" is invalid`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new JwtLoginError('algorithm', 'algorithm not allowed');
  if (err instanceof errors.JWKSNoMatchingKey) {
    return new JwtLoginError('signature', 'no key of the issuer matches the token');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new JwtLoginError('signature', 'token signature is invalid');
  }
  return new JwtLoginError('malformed', 'token is not a valid JWT');
}
