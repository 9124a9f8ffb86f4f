import { afterEach, describe, expect, it } from 'vitest';
import { DnsEgressGuard, guardedFetch } from '../../../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { type JwtRole, JwtRoleSchema } from '../../../../../lambdas/core/auth/jwt/jwt-config.ts';
import { JwtLoginError } from '../../../../../lambdas/core/auth/jwt/jwt-errors.ts';
import { JWT_METHOD, JwtMethod } from '../../../../../lambdas/core/auth/jwt/jwt-method.ts';
import type { AuthMountRef, LoginContext } from '../../../../../lambdas/core/auth/methods/auth-method.ts';
import { LoginFailedError } from '../../../../../lambdas/core/auth/methods/login-error.ts';
import { EgressPolicy } from '../../../../../lambdas/core/egress/egress-policy.ts';
import { InternalError } from '../../../../../lambdas/core/errors.ts';
import { githubClaims, makeKey, startIssuer, type TestIssuer } from './jwt-test-issuer.ts';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);
const clock = { now: () => NOW };
const context: LoginContext = { sourceIp: '10.0.0.5', now: NOW, requestId: 'r-1' };

const issuers: TestIssuer[] = [];
afterEach(async () => {
  await Promise.all(issuers.splice(0).map((i) => i.close()));
});

function roles(entries: Record<string, Partial<JwtRole>>) {
  const parsed = new Map(
    Object.entries(entries).map(([name, role]) => [
      name,
      JwtRoleSchema.parse({ bound_audiences: ['https://coffer.example.com'], ...role }),
    ]),
  );
  return { get: async (name: string) => parsed.get(name) };
}

const deploy = {
  bound_claims_type: 'glob' as const,
  bound_claims: { repository: 'octo-org/*', ref: 'refs/heads/main' },
  claim_mappings: { repository: 'repository', environment: 'environment' },
  token_policies: ['deploy'],
  token_ttl: 600,
  token_max_ttl: 3600,
  token_num_uses: 5,
  token_bound_cidrs: ['10.0.0.0/8'],
};

describe('Class: JwtMethod', () => {
  it('logs a GitHub Actions job in with the role: policies, TTLs, metadata and the sub as alias', async () => {
    const key = await makeKey('RS256');
    const method = JWT_METHOD.create({ store: undefined as never, clock });
    const mount: AuthMountRef<never> = {
      path: 'github',
      id: 'm-1',
      config: method.configSchema.parse({ jwt_validation_pubkeys: [key.pem] }) as never,
    };
    const outcome = await method.login(
      mount,
      { role: 'deploy', jwt: await key.sign(githubClaims(NOW)) },
      roles({ deploy }),
      context,
    );
    expect(outcome).toEqual({
      role: 'deploy',
      policies: ['deploy'],
      ttlSeconds: 600,
      maxTtlSeconds: 3600,
      numUses: 5,
      metadata: { repository: 'octo-org/api', environment: 'production', role: 'deploy' },
      alias: 'repo:octo-org/api:environment:production',
      boundCidrs: ['10.0.0.0/8'],
    });
  });

  it('refuses an unknown role, a source outside bound_cidrs and a bad token as LoginFailedError with an audit reason', async () => {
    const key = await makeKey('ES256');
    const method = new JwtMethod({ clock });
    const mount = {
      path: 'github',
      id: 'm-1',
      config: method.configSchema.parse({ jwt_validation_pubkeys: [key.pem] }),
    };
    const jwt = await key.sign(githubClaims(NOW));
    await expect(method.login(mount, { role: 'nope', jwt }, roles({ deploy }), context)).rejects.toThrow(
      new LoginFailedError('role not found', 'unknown role'),
    );
    const fenced = roles({ deploy: { ...deploy, bound_cidrs: ['192.168.0.0/16'] } });
    await expect(method.login(mount, { role: 'deploy', jwt }, fenced, context)).rejects.toThrow(
      'source address not allowed by the role',
    );
    const fork = await key.sign(githubClaims(NOW, { repository: 'evil-org/api' }));
    const err = await method.login(mount, { role: 'deploy', jwt: fork }, roles({ deploy }), context).catch((e) => e);
    expect(err).toBeInstanceOf(JwtLoginError);
    expect(err).toBeInstanceOf(LoginFailedError);
    expect(err.message).toBe('claim "repository" does not match the role');
    expect(err.auditReason).toBe('jwt claim: claim "repository" does not match the role');
    expect(err.role).toBe('deploy');
    expect(err.at({ type: 'jwt', path: 'github' }).denial.reason).toBe(
      'jwt login at auth/github (role deploy) refused: jwt claim: claim "repository" does not match the role',
    );
  });

  it('fetches a mount JWKS once for many logins, and again when the mount is reconfigured', async () => {
    const key = await makeKey('ES256');
    const issuer = await startIssuer([key.jwk]);
    issuers.push(issuer);
    const guard = new DnsEgressGuard(EgressPolicy.parse(`127.0.0.1:${issuer.port}`));
    const method = new JwtMethod({ clock, egressFetch: guardedFetch(guard, 'jwt auth') });
    const config = method.configSchema.parse({ jwks_url: `${issuer.url}/jwks.json` });
    const jwt = await key.sign(githubClaims(NOW));
    for (let i = 0; i < 3; i++) {
      await method.login({ path: 'github', id: 'm-1', config }, { role: 'deploy', jwt }, roles({ deploy }), context);
    }
    expect(issuer.hits.get('/jwks.json')).toBe(1);
    const reconfigured = method.configSchema.parse({
      ...config,
      bound_issuer: 'https://token.actions.githubusercontent.com',
    });
    await method.login(
      { path: 'github', id: 'm-1', config: reconfigured },
      { role: 'deploy', jwt },
      roles({ deploy }),
      context,
    );
    expect(issuer.hits.get('/jwks.json')).toBe(2);
  });

  it('fails closed when a URL source is configured on a runtime without an egress guard', async () => {
    const key = await makeKey('RS256');
    const method = new JwtMethod({ clock });
    const config = method.configSchema.parse({ jwks_url: 'https://issuer.example.com/jwks.json' });
    const jwt = await key.sign(githubClaims(NOW));
    await expect(
      method.login({ path: 'github', id: 'm-1', config }, { role: 'deploy', jwt }, roles({ deploy }), context),
    ).rejects.toBeInstanceOf(InternalError);
  });

  it('never echoes the token in a login body parse error', () => {
    const jwt = `${'x'.repeat(20_000)}`;
    const result = new JwtMethod({ clock }).loginSchema.safeParse({ role: 'deploy', jwt });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).not.toContain('xxxxxxxxxx');
  });
});
