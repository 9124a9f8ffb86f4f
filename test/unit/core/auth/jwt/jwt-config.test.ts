import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_JWT_ALGORITHMS,
  isKeyFetchUrl,
  JwtMountConfigSchema,
  JwtRoleSchema,
} from '../../../../../lambdas/core/auth/jwt/jwt-config.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const messages = (result: { success: boolean; error?: { issues: { message: string }[] } }) =>
  result.error?.issues.map((i) => i.message).join('; ') ?? '';

describe('Schema: JwtMountConfigSchema', () => {
  it('takes exactly one key source', () => {
    expect(JwtMountConfigSchema.parse({ jwks_url: 'https://issuer.example.com/jwks' })).toEqual({
      jwks_url: 'https://issuer.example.com/jwks',
    });
    expect(JwtMountConfigSchema.safeParse({ jwt_validation_pubkeys: [PUBLIC_PEM] }).success).toBe(true);
    expect(
      JwtMountConfigSchema.safeParse({ oidc_discovery_url: 'https://token.actions.githubusercontent.com' }).success,
    ).toBe(true);
    expect(messages(JwtMountConfigSchema.safeParse({}))).toContain('give exactly one of');
    expect(
      messages(
        JwtMountConfigSchema.safeParse({
          jwks_url: 'https://a.example.com/k',
          oidc_discovery_url: 'https://a.example.com',
        }),
      ),
    ).toContain('give exactly one of');
  });

  it('never accepts none or a symmetric algorithm, and defaults to the RS256 and ES256 families', () => {
    const withAlgs = (algs: string[]) =>
      JwtMountConfigSchema.safeParse({ jwks_url: 'https://a.example.com/k', jwt_supported_algs: algs });
    expect(messages(withAlgs(['none']))).toContain('algorithm none is never accepted');
    expect(messages(withAlgs(['HS256']))).toContain('symmetric algorithms (HS*) are never accepted');
    expect(messages(withAlgs(['XS1']))).toContain('unsupported algorithm');
    expect(withAlgs(['ES256', 'ES256', 'EdDSA']).data?.jwt_supported_algs).toEqual(['ES256', 'EdDSA']);
    expect(DEFAULT_JWT_ALGORITHMS).toEqual(['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512']);
  });

  it('refuses a private key, or text that is no key, as a validation key', () => {
    expect(JwtMountConfigSchema.safeParse({ jwt_validation_pubkeys: [PRIVATE_PEM] }).success).toBe(false);
    expect(JwtMountConfigSchema.safeParse({ jwt_validation_pubkeys: ['hello'] }).success).toBe(false);
  });

  it('fetches keys over https only, or http on loopback, and never with credentials in the URL', () => {
    expect(isKeyFetchUrl('https://issuer.example.com/jwks')).toBe(true);
    expect(isKeyFetchUrl('http://127.0.0.1:8080/jwks')).toBe(true);
    expect(isKeyFetchUrl('http://[::1]:8080/jwks')).toBe(true);
    expect(isKeyFetchUrl('http://issuer.example.com/jwks')).toBe(false);
    expect(isKeyFetchUrl('https://user:pw@issuer.example.com/jwks')).toBe(false);
    expect(isKeyFetchUrl('file:///etc/passwd')).toBe(false);
    expect(JwtMountConfigSchema.safeParse({ jwks_url: 'http://issuer.example.com/jwks' }).success).toBe(false);
  });
});

describe('Schema: JwtRoleSchema', () => {
  it('fills the defaults', () => {
    expect(JwtRoleSchema.parse({ bound_audiences: ['sts.amazonaws.com'] })).toMatchObject({
      bound_claims_type: 'string',
      user_claim: 'sub',
      token_policies: [],
      clock_skew_leeway: 60,
      expiration_leeway: 0,
      not_before_leeway: 0,
    });
  });

  it('requires a binding beyond the issuer: an issuer alone signs for strangers', () => {
    expect(messages(JwtRoleSchema.safeParse({ token_policies: ['ci'] }))).toContain('a role must bind at least one');
    expect(messages(JwtRoleSchema.safeParse({ bound_audiences: [], bound_claims: {} }))).toContain(
      'a role must bind at least one',
    );
    expect(JwtRoleSchema.safeParse({ bound_subject: 'repo:octo-org/api:ref:refs/heads/main' }).success).toBe(true);
  });

  it('refuses non-string globs, reserved or duplicate metadata keys, and huge leeways', () => {
    const base = { bound_audiences: ['a'] };
    expect(JwtRoleSchema.safeParse({ ...base, bound_claims: { run: 42 }, bound_claims_type: 'glob' }).success).toBe(
      false,
    );
    expect(JwtRoleSchema.safeParse({ ...base, claim_mappings: { repository: 'role' } }).success).toBe(false);
    expect(JwtRoleSchema.safeParse({ ...base, claim_mappings: { a: 'x', b: 'x' } }).success).toBe(false);
    expect(JwtRoleSchema.safeParse({ ...base, clock_skew_leeway: '2h' }).success).toBe(false);
    expect(JwtRoleSchema.safeParse({ ...base, token_ttl: '2h', token_max_ttl: '1h' }).success).toBe(false);
  });
});
