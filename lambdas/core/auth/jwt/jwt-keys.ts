import {
  type CryptoKey,
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  importSPKI,
  importX509,
  type JWTVerifyOptions,
  type JWTVerifyResult,
  jwtVerify,
  type LocalJWKSet,
} from 'jose';
import * as z from 'zod';
import { InternalError } from '../../errors.ts';

/**
 * Where a JWT mount's verifying keys come from. `verify` is jose's `jwtVerify` over the source's keys (signature,
 * `alg` allow-list, issuer, audience, times); `issuer` is the issuer the source vouches for (an OIDC discovery
 * document's), if any.
 */
export interface JwtKeySource {
  verify(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult>;
  issuer(): Promise<string | undefined>;
}

/** Settings of the sources that fetch. */
export interface JwksFetchOptions {
  /** An egress-guarded fetch (the composition root passes `guardedFetch(guard, 'jwt …')`): core never dials itself. */
  readonly fetch: typeof fetch;
  /** Epoch milliseconds, so tests move time. */
  readonly now: () => number;
  /** How long a fetched key set (or discovery document) is used before it is fetched again. @default 600_000 (10 min) */
  readonly cacheTtlMs?: number;
  /**
   * The least time between two fetches caused by a token whose `kid` the cached set lacks. Without it, tokens with
   * made-up `kid`s would make Coffer fetch the issuer's keys once per login. @default 30_000 (as jose's own)
   */
  readonly cooldownMs?: number;
}

/**
 * Static keys (`jwt_validation_pubkeys`, PEM public keys or certificates). A token carries no hint of which one signed
 * it, so each key whose type fits the token's `alg` is tried in turn, as Vault does.
 */
export class StaticKeySource implements JwtKeySource {
  readonly #pems: readonly string[];
  /** Imported keys per `alg`, then per PEM; `null` where a key's type does not fit the algorithm. */
  readonly #imported = new Map<string, Promise<(CryptoKey | null)[]>>();

  constructor(pems: readonly string[]) {
    this.#pems = pems;
  }

  async issuer(): Promise<undefined> {
    return undefined;
  }

  async verify(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
    const alg = headerAlg(token);
    // Refuse before importing anything: an unknown alg string must not reach the key import.
    if (alg === undefined || !(options.algorithms ?? []).includes(alg)) throw new errors.JOSEAlgNotAllowed('alg');
    const keys = (await this.#keysFor(alg)).filter((key): key is CryptoKey => key !== null);
    if (keys.length === 0) throw new errors.JWKSNoMatchingKey();
    for (const key of keys) {
      try {
        return await jwtVerify(token, key, options);
      } catch (err) {
        // Another key may have signed it; any other failure was reached after the signature checked out.
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }

  #keysFor(alg: string): Promise<(CryptoKey | null)[]> {
    let keys = this.#imported.get(alg);
    if (keys === undefined) {
      keys = Promise.all(
        this.#pems.map((pem) =>
          (pem.trim().startsWith('-----BEGIN CERTIFICATE') ? importX509(pem, alg) : importSPKI(pem, alg)).catch(
            () => null,
          ),
        ),
      );
      this.#imported.set(alg, keys);
    }
    return keys;
  }
}

const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())).max(100) });

interface CachedSet {
  readonly keys: LocalJWKSet;
  readonly fetchedAt: number;
}

/**
 * A JWKS URL's keys, fetched through the egress-guarded fetch and cached for `cacheTtlMs`. A token whose `kid` is not
 * in the cached set causes one fresh fetch (the issuer may have rotated its keys), at most once per `cooldownMs`.
 * Concurrent logins share one fetch. A set that cannot be fetched fails the login: stale keys are never used past
 * their TTL, since an issuer drops a key because it should no longer be trusted.
 */
export class JwksKeySource implements JwtKeySource {
  readonly #url: string;
  readonly #options: Required<JwksFetchOptions>;
  #cached: CachedSet | undefined;
  #inflight: Promise<CachedSet> | undefined;

  constructor(url: string, options: JwksFetchOptions) {
    this.#url = url;
    this.#options = { cacheTtlMs: 600_000, cooldownMs: 30_000, ...options };
  }

  async issuer(): Promise<undefined> {
    return undefined;
  }

  async verify(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
    const current = await this.#current();
    try {
      return await jwtVerify(token, current.keys, options);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      if (this.#options.now() - current.fetchedAt < this.#options.cooldownMs) throw err;
      const fresh = current === this.#cached ? await this.#fetch() : await this.#current();
      return await jwtVerify(token, fresh.keys, options);
    }
  }

  async #current(): Promise<CachedSet> {
    const cached = this.#cached;
    if (cached !== undefined && this.#options.now() - cached.fetchedAt < this.#options.cacheTtlMs) return cached;
    return this.#fetch();
  }

  #fetch(): Promise<CachedSet> {
    this.#inflight ??= (async () => {
      try {
        const body = await fetchJson(this.#options.fetch, this.#url, 'JWKS');
        const parsed = JwksSchema.safeParse(body);
        if (!parsed.success) throw new InternalError('the JWKS document is not a JSON Web Key Set');
        let keys: LocalJWKSet;
        try {
          keys = createLocalJWKSet(parsed.data as Parameters<typeof createLocalJWKSet>[0]);
        } catch (err) {
          throw new InternalError('the JWKS document is not a JSON Web Key Set', { cause: err });
        }
        this.#cached = { keys, fetchedAt: this.#options.now() };
        return this.#cached;
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }
}

const DiscoverySchema = z.object({ issuer: z.string().min(1).max(1024), jwks_uri: z.string().min(1).max(1024) });

/**
 * OIDC discovery (`oidc_discovery_url`): `<url>/.well-known/openid-configuration` gives the issuer and `jwks_uri`.
 * As OpenID Connect Discovery requires (and Vault's go-oidc checks), the document's issuer must be the URL it was
 * fetched for, or a document served elsewhere could claim any issuer. The document is cached like a key set; the
 * `jwks_uri` must pass the same URL rules as a configured `jwks_url` and the egress guard.
 */
export class OidcDiscoveryKeySource implements JwtKeySource {
  readonly #url: string;
  readonly #options: JwksFetchOptions;
  readonly #isAllowedUrl: (url: string) => boolean;
  #document: { issuer: string; jwks: JwksKeySource; fetchedAt: number } | undefined;
  #inflight: Promise<{ issuer: string; jwks: JwksKeySource }> | undefined;
  /** The key set of the last `jwks_uri`, kept across re-discoveries that name the same one. */
  #jwks: { uri: string; source: JwksKeySource } | undefined;

  /** @param isAllowedUrl the rule a `jwks_url` must pass (https, or http on loopback), applied to `jwks_uri` */
  constructor(discoveryUrl: string, options: JwksFetchOptions, isAllowedUrl: (url: string) => boolean) {
    this.#url = discoveryUrl;
    this.#options = options;
    this.#isAllowedUrl = isAllowedUrl;
  }

  async issuer(): Promise<string> {
    return (await this.#discover()).issuer;
  }

  async verify(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
    return (await this.#discover()).jwks.verify(token, options);
  }

  async #discover(): Promise<{ issuer: string; jwks: JwksKeySource }> {
    const doc = this.#document;
    if (doc !== undefined && this.#options.now() - doc.fetchedAt < (this.#options.cacheTtlMs ?? 600_000)) return doc;
    this.#inflight ??= (async () => {
      try {
        const url = `${withoutSlash(this.#url)}/.well-known/openid-configuration`;
        const parsed = DiscoverySchema.safeParse(await fetchJson(this.#options.fetch, url, 'OIDC discovery'));
        if (!parsed.success) throw new InternalError('the OIDC discovery document has no issuer or jwks_uri');
        const { issuer, jwks_uri } = parsed.data;
        if (withoutSlash(issuer) !== withoutSlash(this.#url)) {
          throw new InternalError('the OIDC discovery document names an issuer other than oidc_discovery_url');
        }
        if (!this.#isAllowedUrl(jwks_uri)) {
          throw new InternalError('the OIDC discovery document names a jwks_uri that is not https');
        }
        if (this.#jwks?.uri !== jwks_uri) {
          this.#jwks = { uri: jwks_uri, source: new JwksKeySource(jwks_uri, this.#options) };
        }
        this.#document = { issuer, jwks: this.#jwks.source, fetchedAt: this.#options.now() };
        return this.#document;
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }
}

const withoutSlash = (url: string) => url.replace(/\/+$/, '');

async function fetchJson(fetchImpl: typeof fetch, url: string, what: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { accept: 'application/json' } });
  } catch (err) {
    throw new InternalError(`the ${what} document could not be fetched`, { cause: err });
  }
  if (response.status !== 200) {
    throw new InternalError(`the ${what} document could not be fetched: HTTP ${response.status}`);
  }
  try {
    return await response.json();
  } catch (err) {
    throw new InternalError(`the ${what} document is not JSON`, { cause: err });
  }
}

/** The `alg` of a compact JWS header, or undefined when there is none to read. */
function headerAlg(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}
