import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsEgressGuard, guardedFetch } from '../../../../../lambdas/adapters/egress/dns-egress-guard.ts';
import {
  type JwtMountConfigInput,
  JwtMountConfigSchema,
  type JwtRoleInput,
  JwtRoleSchema,
} from '../../../../../lambdas/core/auth/jwt/jwt-config.ts';
import { JwtLoginError } from '../../../../../lambdas/core/auth/jwt/jwt-errors.ts';
import type { JwtKeySource } from '../../../../../lambdas/core/auth/jwt/jwt-keys.ts';
import { keySourceFor, verifyLoginJwt } from '../../../../../lambdas/core/auth/jwt/jwt-verifier.ts';
import { EgressPolicy } from '../../../../../lambdas/core/egress/egress-policy.ts';
import { InternalError } from '../../../../../lambdas/core/errors.ts';
import { githubClaims, makeKey, startIssuer, type TestIssuer } from './jwt-test-issuer.ts';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);
const GITHUB = 'https://token.actions.githubusercontent.com';

const issuers: TestIssuer[] = [];
afterEach(async () => {
  await Promise.all(issuers.splice(0).map((i) => i.close()));
});

const role = (input: Partial<JwtRoleInput> = {}) =>
  JwtRoleSchema.parse({
    bound_audiences: ['https://coffer.example.com'],
    bound_claims: { repository: 'octo-org/api' },
    token_policies: ['deploy'],
    ...input,
  });

/** The error a login refuses with, checked to be a JwtLoginError whose message holds no part of the token. */
async function refusal(jwt: string, login: Promise<unknown>): Promise<JwtLoginError> {
  const err = await login.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JwtLoginError);
  const message = (err as Error).message;
  for (const part of jwt.split('.').filter((p) => p.length > 8)) expect(message).not.toContain(part.slice(0, 16));
  return err as JwtLoginError;
}

async function staticMount(alg: 'RS256' | 'ES256' = 'RS256', config: Partial<JwtMountConfigInput> = {}) {
  const key = await makeKey(alg);
  const parsed = JwtMountConfigSchema.parse({ jwt_validation_pubkeys: [key.pem], bound_issuer: GITHUB, ...config });
  const keys = keySourceFor(parsed, { fetch: () => Promise.reject(new Error('no fetch')), now: () => NOW });
  return { key, config: parsed, keys };
}

function jwksOptions(issuer: TestIssuer, clock: { now: number }) {
  const guard = new DnsEgressGuard(EgressPolicy.parse(`127.0.0.1:${issuer.port}`));
  return { fetch: guardedFetch(guard, 'jwt auth'), now: () => clock.now };
}

describe('Function: verifyLoginJwt', () => {
  it('accepts a GitHub Actions token signed with a static RS256 key and returns its identity', async () => {
    const { key, config, keys } = await staticMount('RS256');
    const jwt = await key.sign(githubClaims(NOW));
    const identity = await verifyLoginJwt(
      jwt,
      config,
      role({
        claim_mappings: { repository: 'repository', ref: 'ref', '/environment': 'environment' },
      }),
      keys,
      NOW,
    );
    expect(identity).toEqual({
      alias: 'repo:octo-org/api:environment:production',
      metadata: { repository: 'octo-org/api', ref: 'refs/heads/main', environment: 'production' },
      expiresAt: Math.floor(NOW / 1000) + 300,
    });
  });

  it('accepts an ES256 token and names the identity by user_claim', async () => {
    const { key, config, keys } = await staticMount('ES256');
    const jwt = await key.sign(githubClaims(NOW));
    const identity = await verifyLoginJwt(jwt, config, role({ user_claim: 'repository' }), keys, NOW);
    expect(identity.alias).toBe('octo-org/api');
  });

  it('refuses an expired token, and accepts it within clock_skew_leeway plus expiration_leeway', async () => {
    const { key, config, keys } = await staticMount();
    const seconds = Math.floor(NOW / 1000);
    const jwt = await key.sign(githubClaims(NOW, { iat: seconds - 600, nbf: seconds - 600, exp: seconds - 90 }));
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW))).message).toBe('token expired');
    // 90 s late: the default 60 s skew is not enough, 60 + 60 is.
    await expect(verifyLoginJwt(jwt, config, role({ expiration_leeway: 60 }), keys, NOW)).resolves.toBeDefined();
    const err = await refusal(
      jwt,
      verifyLoginJwt(jwt, config, role({ clock_skew_leeway: 0, not_before_leeway: 100 }), keys, NOW),
    );
    expect(err.reason).toBe('expired');
  });

  it('refuses a token that is not yet valid, and accepts it within not_before_leeway', async () => {
    const { key, config, keys } = await staticMount();
    const seconds = Math.floor(NOW / 1000);
    const jwt = await key.sign(githubClaims(NOW, { iat: seconds, nbf: seconds + 120, exp: seconds + 600 }));
    const err = await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW));
    expect(err.message).toBe('token not yet valid');
    expect(err.reason).toBe('not_yet_valid');
    await expect(verifyLoginJwt(jwt, config, role({ not_before_leeway: 60 }), keys, NOW)).resolves.toBeDefined();
  });

  it('refuses a token issued in the future beyond the clock skew', async () => {
    const { key, config, keys } = await staticMount();
    const seconds = Math.floor(NOW / 1000);
    const jwt = await key.sign(githubClaims(NOW, { iat: seconds + 600, nbf: undefined, exp: seconds + 900 }));
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW))).message).toBe(
      'token issued in the future',
    );
  });

  it('refuses a token without exp: it would never expire', async () => {
    const { key, config, keys } = await staticMount();
    const jwt = await key.sign(githubClaims(NOW, { exp: undefined }));
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW))).reason).toBe('expired');
  });

  it('refuses a wrong audience, and any audience when the role binds none', async () => {
    const { key, config, keys } = await staticMount();
    const jwt = await key.sign(githubClaims(NOW, { aud: 'https://other.example.com' }));
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW))).message).toBe('audience not allowed');
    const unbound = role({ bound_audiences: [] });
    const err = await refusal(jwt, verifyLoginJwt(jwt, config, unbound, keys, NOW));
    expect(err.reason).toBe('audience');
    // A list audience passes when one of its entries is bound.
    const list = await key.sign(githubClaims(NOW, { aud: ['x', 'https://coffer.example.com'] }));
    await expect(verifyLoginJwt(list, config, role(), keys, NOW)).resolves.toBeDefined();
  });

  it('refuses a wrong issuer', async () => {
    const { key, config, keys } = await staticMount();
    const jwt = await key.sign(githubClaims(NOW, { iss: 'https://evil.example.com' }));
    const err = await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW));
    expect(err.message).toBe('issuer not allowed');
    expect(err.reason).toBe('issuer');
  });

  it('refuses alg none, crafted by hand, before any key is used', async () => {
    const { config } = await staticMount();
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const keys: JwtKeySource = {
      verify: () => Promise.reject(new Error('a key was consulted')),
      issuer: async () => undefined,
    };
    for (const alg of ['none', 'None', 'NONE']) {
      const jwt = `${encode({ alg, typ: 'JWT' })}.${encode(githubClaims(NOW))}.`;
      const err = await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW));
      expect(err.message).toBe('algorithm none not allowed');
      expect(err.reason).toBe('algorithm');
    }
  });

  it('refuses HS256 signed with the public key as its secret (algorithm confusion)', async () => {
    const { key, config, keys } = await staticMount();
    const secret = new TextEncoder().encode(key.pem);
    const jwt = await new SignJWT(githubClaims(NOW)).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW))).message).toBe(
      'algorithm HS256 not allowed',
    );
    // Even the key source on its own, asked to allow HS256, finds no key for it.
    await expect(keys.verify(jwt, { algorithms: ['HS256'] })).rejects.toThrow();
  });

  it('refuses an algorithm off the mount list, and a tampered or foreign signature', async () => {
    const { key, config, keys } = await staticMount('ES256', { jwt_supported_algs: ['RS256'] });
    const jwt = await key.sign(githubClaims(NOW));
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, NOW))).message).toBe(
      'algorithm ES256 not allowed',
    );
    const rs = await staticMount('RS256');
    const good = await rs.key.sign(githubClaims(NOW));
    const [header, , signature] = good.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify(githubClaims(NOW, { repository: 'octo-org/api' }))).toString('base64url')}x.${signature}`;
    expect((await refusal(forged, verifyLoginJwt(forged, rs.config, role(), rs.keys, NOW))).reason).toMatch(
      /signature|malformed/,
    );
    const stranger = await makeKey('RS256');
    const foreign = await stranger.sign(githubClaims(NOW));
    expect((await refusal(foreign, verifyLoginJwt(foreign, rs.config, role(), rs.keys, NOW))).message).toBe(
      'token signature is invalid',
    );
    expect((await refusal('abc', verifyLoginJwt('abc', rs.config, role(), rs.keys, NOW))).reason).toBe('malformed');
  });

  it('tries every static key, so a key rotation with both keys listed accepts either', async () => {
    const older = await makeKey('RS256');
    const newer = await makeKey('RS256');
    const config = JwtMountConfigSchema.parse({ jwt_validation_pubkeys: [older.pem, newer.pem], bound_issuer: GITHUB });
    const keys = keySourceFor(config, { fetch: () => Promise.reject(new Error('no fetch')), now: () => NOW });
    for (const key of [older, newer]) {
      await expect(verifyLoginJwt(await key.sign(githubClaims(NOW)), config, role(), keys, NOW)).resolves.toBeDefined();
    }
  });

  it('checks bound_subject', async () => {
    const { key, config, keys } = await staticMount();
    const jwt = await key.sign(githubClaims(NOW));
    const bound = role({ bound_subject: 'repo:octo-org/api:environment:production' });
    await expect(verifyLoginJwt(jwt, config, bound, keys, NOW)).resolves.toBeDefined();
    const other = role({ bound_subject: 'repo:octo-org/api:ref:refs/heads/main' });
    expect((await refusal(jwt, verifyLoginJwt(jwt, config, other, keys, NOW))).message).toBe('subject not allowed');
  });

  it('binds GitHub claims with globs: repository, ref, environment and job_workflow_ref', async () => {
    const { key, config, keys } = await staticMount();
    const globs = role({
      bound_claims_type: 'glob',
      bound_claims: {
        repository: 'octo-org/*',
        ref: ['refs/heads/main', 'refs/tags/v*'],
        environment: 'prod*',
        job_workflow_ref: 'octo-org/api/.github/workflows/*@refs/heads/main',
      },
    });
    await expect(verifyLoginJwt(await key.sign(githubClaims(NOW)), config, globs, keys, NOW)).resolves.toBeDefined();
    const tag = await key.sign(githubClaims(NOW, { ref: 'refs/tags/v1.2.0' }));
    await expect(verifyLoginJwt(tag, config, globs, keys, NOW)).resolves.toBeDefined();
    const fork = await key.sign(githubClaims(NOW, { repository: 'evil-org/api' }));
    expect((await refusal(fork, verifyLoginJwt(fork, config, globs, keys, NOW))).message).toBe(
      'claim "repository" does not match the role',
    );
    const branch = await key.sign(githubClaims(NOW, { ref: 'refs/heads/feature' }));
    expect((await refusal(branch, verifyLoginJwt(branch, config, globs, keys, NOW))).message).toBe(
      'claim "ref" does not match the role',
    );
    const noEnv = await key.sign(githubClaims(NOW, { environment: undefined }));
    expect((await refusal(noEnv, verifyLoginJwt(noEnv, config, globs, keys, NOW))).message).toBe(
      'claim "environment" is missing',
    );
    // Without glob, `*` is an ordinary character.
    const literal = role({ bound_claims: { repository: 'octo-org/*' } });
    const own = await key.sign(githubClaims(NOW));
    const err = await refusal(own, verifyLoginJwt(own, config, literal, keys, NOW));
    expect(err.reason).toBe('claim');
  });
});

describe('Function: verifyLoginJwt (JWKS and OIDC discovery through the egress guard)', () => {
  it('fetches a JWKS URL through the guard, caches it, and refetches once for an unknown kid', async () => {
    const first = await makeKey('ES256');
    const issuer = await startIssuer([first.jwk]);
    issuers.push(issuer);
    const clock = { now: NOW };
    const config = JwtMountConfigSchema.parse({ jwks_url: `${issuer.url}/jwks.json`, bound_issuer: GITHUB });
    const keys = keySourceFor(config, jwksOptions(issuer, clock));
    await expect(verifyLoginJwt(await first.sign(githubClaims(NOW)), config, role(), keys, NOW)).resolves.toBeDefined();
    await expect(verifyLoginJwt(await first.sign(githubClaims(NOW)), config, role(), keys, NOW)).resolves.toBeDefined();
    expect(issuer.hits.get('/jwks.json')).toBe(1);

    // The issuer rotates: a token under the new kid makes Coffer fetch the set again, once.
    const second = await makeKey('RS256');
    issuer.keys = [first.jwk, second.jwk];
    clock.now = NOW + 31_000;
    const rotated = await second.sign(githubClaims(clock.now));
    await expect(verifyLoginJwt(rotated, config, role(), keys, clock.now)).resolves.toBeDefined();
    expect(issuer.hits.get('/jwks.json')).toBe(2);

    // Made-up kids within the cool-down fetch nothing more.
    const stranger = await makeKey('RS256');
    for (let i = 0; i < 3; i++) {
      const jwt = await stranger.sign(githubClaims(clock.now));
      expect((await refusal(jwt, verifyLoginJwt(jwt, config, role(), keys, clock.now))).message).toBe(
        'no key of the issuer matches the token',
      );
    }
    expect(issuer.hits.get('/jwks.json')).toBe(2);

    // After the TTL the set is fetched again.
    clock.now = NOW + 31_000 + 600_000;
    await expect(
      verifyLoginJwt(await first.sign(githubClaims(clock.now)), config, role(), keys, clock.now),
    ).resolves.toBeDefined();
    expect(issuer.hits.get('/jwks.json')).toBe(3);
  });

  it('refuses to fetch keys from a host the egress allow-list does not name', async () => {
    const key = await makeKey('RS256');
    const issuer = await startIssuer([key.jwk]);
    issuers.push(issuer);
    const config = JwtMountConfigSchema.parse({ jwks_url: `${issuer.url}/jwks.json` });
    const guard = new DnsEgressGuard(EgressPolicy.parse('*.example.com'));
    const keys = keySourceFor(config, { fetch: guardedFetch(guard, 'jwt auth'), now: () => NOW });
    await expect(verifyLoginJwt(await key.sign(githubClaims(NOW)), config, role(), keys, NOW)).rejects.toBeInstanceOf(
      InternalError,
    );
    expect(issuer.hits.size).toBe(0);
  });

  it('discovers the issuer and its jwks_uri from the OIDC discovery document', async () => {
    const key = await makeKey('RS256');
    const issuer = await startIssuer([key.jwk]);
    issuers.push(issuer);
    const clock = { now: NOW };
    const config = JwtMountConfigSchema.parse({ oidc_discovery_url: issuer.url });
    const keys = keySourceFor(config, jwksOptions(issuer, clock));
    const jwt = await key.sign(githubClaims(NOW, { iss: issuer.url }));
    await expect(verifyLoginJwt(jwt, config, role(), keys, NOW)).resolves.toBeDefined();
    // The discovered issuer is enforced.
    const github = await key.sign(githubClaims(NOW));
    expect((await refusal(github, verifyLoginJwt(github, config, role(), keys, NOW))).message).toBe(
      'issuer not allowed',
    );
    expect(issuer.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(issuer.hits.get('/jwks.json')).toBe(1);
  });

  it('refuses a discovery document that claims another issuer or points its keys at plain http elsewhere', async () => {
    const key = await makeKey('RS256');
    const issuer = await startIssuer([key.jwk]);
    issuers.push(issuer);
    const jwt = await key.sign(githubClaims(NOW, { iss: GITHUB }));
    const config = JwtMountConfigSchema.parse({ oidc_discovery_url: issuer.url });
    issuer.discovery = { issuer: GITHUB, jwks_uri: `${issuer.url}/jwks.json` };
    const claimsOther = keySourceFor(config, jwksOptions(issuer, { now: NOW }));
    await expect(verifyLoginJwt(jwt, config, role(), claimsOther, NOW)).rejects.toThrow(/names an issuer other than/);
    issuer.discovery = { issuer: issuer.url, jwks_uri: 'http://keys.example.com/jwks.json' };
    const plain = keySourceFor(config, jwksOptions(issuer, { now: NOW }));
    await expect(verifyLoginJwt(jwt, config, role(), plain, NOW)).rejects.toThrow(/jwks_uri that is not https/);
    expect(issuer.hits.get('/jwks.json')).toBeUndefined();
  });
});
