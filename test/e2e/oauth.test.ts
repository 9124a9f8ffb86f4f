import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcServer, startOidcProvider } from '../support/oidc-provider.ts';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

/**
 * The OAuth engine end to end: the real server and the `coffer` CLI against a real OAuth 2.0 / OpenID Connect server
 * (`oidc-provider` on a free loopback port). What the server says about a token (RFC 7662 introspection) is the
 * proof: active once issued, inactive once its lease is revoked or has ended.
 */
const current = useServer({ COFFER_LEASE_SWEEP_INTERVAL_MS: '100' });
// A node whose egress allow-list does not name the authorisation server.
const fenced = useServer({ COFFER_EGRESS_ALLOW: '10.0.0.0/8' });
const files = tempDir('coffer-e2e-oauth-');
afterAll(() => files.cleanup());
// The sweeper's work is awaited by polling the authorisation server; the test's own timeout bounds it.
const POLL = { intervalMs: 100, timeoutMs: 30_000 };

/** Everything any command printed, searched at the end for the client secret. */
const printed: string[] = [];
const cli = async (args: string[], options: { token?: string; input?: string; node?: typeof current } = {}) => {
  const node = (options.node ?? current)();
  const out = await runCli(args, {
    env: { COFFER_ADDR: node.address, COFFER_TOKEN: options.token ?? node.rootToken },
    input: options.input,
  });
  printed.push(out.stdout, out.stderr);
  return out;
};

interface Issued {
  leaseId: string;
  access_token: string;
  scope: string;
  expiresAt: string;
  maxExpiresAt: string;
  token_expires_at: string;
  renewable: boolean;
}

async function creds(role: string, args: string[] = [], token?: string): Promise<Issued> {
  const out = await cli(['oauth', 'creds', role, ...args, '-o', 'json'], { ...(token !== undefined && { token }) });
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as Issued;
}

async function tokenWith(name: string, rules: { path: string; capabilities: string[] }[], ttl = '1h'): Promise<string> {
  const put = await api(current().address, current().rootToken, 'PUT', `/v1/sys/policies/${name}`, { rules });
  expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
  const created = await cli(['token', 'create', '--policy', name, '--ttl', ttl, '-o', 'json']);
  expect(created.code, created.stderr).toBe(0);
  return (JSON.parse(created.stdout) as { token: string }).token;
}

let oidc: OidcServer;
let refreshToken: string;
beforeAll(async () => {
  oidc = await startOidcProvider({ accessTokenTtl: 900 });
  refreshToken = await oidc.issueRefreshToken();
  const refreshFile = path.join(files.dir, 'refresh-token');
  writeFileSync(refreshFile, `${refreshToken}\n`, { mode: 0o600 });
  const configured = await cli(
    ['oauth', 'config', '--issuer', oidc.issuer, '--client-id', oidc.clientId, '--refresh-token-file', refreshFile],
    { input: `${oidc.clientSecret}\n` },
  );
  expect(configured.code, configured.stderr).toBe(0);
  expect(configured.stdout).toMatch(/client_secret\s+set \(sealed\)/);
  const reports = await cli([
    'oauth',
    'role',
    'create',
    'reports',
    '--allowed-scopes',
    'reports:read,reports:write',
    '--default-scopes',
    'reports:read',
    '--ttl',
    '5m',
    '--max-ttl',
    '24h',
  ]);
  expect(reports.code, reports.stderr).toBe(0);
  const offline = await cli([
    'oauth',
    'role',
    'create',
    'offline',
    '--grant',
    'refresh_token',
    '--allowed-scopes',
    'offline_access',
  ]);
  expect(offline.code, offline.stderr).toBe(0);
});
afterAll(() => oidc?.close());

describe('coffer oauth creds, against oidc-provider', () => {
  it('issues an access token the server holds active, with the scopes asked for, under a lease', async () => {
    const issued = await creds('reports', ['--scope', 'reports:read', '--scope', 'reports:write']);
    expect(issued.leaseId).toMatch(/^oauth\/creds\/reports\/[a-f0-9]{24}$/);
    expect(issued.scope).toBe('reports:read reports:write');
    expect(await oidc.introspect(issued.access_token)).toMatchObject({
      active: true,
      client_id: 'coffer',
      scope: 'reports:read reports:write',
    });
    const listed = await cli(['lease', 'list', '--prefix', 'oauth/creds/reports/', '-o', 'json']);
    expect(listed.stdout).toContain(issued.leaseId);
  });

  it('revoking the lease revokes the token at the server', async () => {
    const issued = await creds('reports');
    expect((await oidc.introspect(issued.access_token)).active).toBe(true);
    const revoked = await cli(['lease', 'revoke', issued.leaseId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await oidc.introspect(issued.access_token)).active).toBe(false);
  });

  it("renews a lease up to the token's own expiry, never past it", async () => {
    const issued = await creds('reports', ['--ttl', '1m']);
    expect(issued.renewable).toBe(true);
    // The token lives 15 minutes: the role's 24 hours do not stretch the lease past it.
    expect(issued.maxExpiresAt).toBe(issued.token_expires_at);
    const renewed = await cli(['lease', 'renew', issued.leaseId, '--increment', '1h', '-o', 'json']);
    expect(renewed.code, renewed.stderr).toBe(0);
    const lease = JSON.parse(renewed.stdout) as { expiresAt: string; capped: boolean };
    expect(lease).toMatchObject({ expiresAt: issued.token_expires_at, capped: true });
    expect((await oidc.introspect(issued.access_token)).active).toBe(true);
  });

  it('the sweeper revokes the token at the server when its lease ends', async () => {
    const issued = await creds('reports', ['--ttl', '2s']);
    expect((await oidc.introspect(issued.access_token)).active).toBe(true);
    await waitFor(
      'the sweeper to revoke the expired lease at the server',
      async () => (await oidc.introspect(issued.access_token)).active === false,
      POLL,
    );
  });

  it('refuses scopes outside the role with a 403 naming them, and asks the server for nothing', async () => {
    const before = oidc.grants.length;
    const out = await cli(['oauth', 'creds', 'reports', '--scope', 'reports:read,admin']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('role reports does not allow the scope(s) admin');
    const res = await api(current().address, current().rootToken, 'POST', '/v1/oauth/creds/reports', {
      scopes: ['admin'],
    });
    expect(res.status).toBe(403);
    expect(oidc.grants.length).toBe(before);
  });

  it('rotates the held refresh token on every use: each refresh answers a live token, the first refresh token is spent', async () => {
    const one = await creds('offline');
    const two = await creds('offline');
    for (const issued of [one, two]) {
      expect(await oidc.introspect(issued.access_token)).toMatchObject({ active: true, scope: 'offline_access' });
    }
    expect((await oidc.introspect(refreshToken)).active).toBe(false);
    const shown = await cli(['oauth', 'config', '-o', 'json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ refresh_token_set: true, refreshed_at: expect.any(String) });
  });
});

describe('authorisation', () => {
  it('lets a narrow token take tokens of its role only, within the role, and nothing of the config', async () => {
    const token = await tokenWith('oauth-reports', [{ path: 'oauth/creds/reports', capabilities: ['update'] }]);
    expect((await creds('reports', [], token)).scope).toBe('reports:read');
    const other = await cli(['oauth', 'creds', 'offline'], { token });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/permission_denied/);
    const beyond = await cli(['oauth', 'creds', 'reports', '--scope', 'admin'], { token });
    expect(beyond.code).not.toBe(0);
    expect(beyond.stderr).toContain('role reports does not allow the scope(s) admin');
    const config = await cli(['oauth', 'config'], { token });
    expect(config.code).not.toBe(0);
    const widen = await api(current().address, token, 'PUT', '/v1/oauth/roles/reports', {
      allowed_scopes: ['admin'],
    });
    expect(widen.status).toBe(403);
  });
});

describe('lease TTL', () => {
  it("never leases a token past the calling token's expiry", async () => {
    const token = await tokenWith(
      'oauth-reports-short',
      [{ path: 'oauth/creds/reports', capabilities: ['update'] }],
      '2m',
    );
    const lookup = await cli(['token', 'lookup', '-o', 'json'], { token });
    expect(lookup.code, lookup.stderr).toBe(0);
    const tokenExpiry = Date.parse((JSON.parse(lookup.stdout) as { expiresAt: string }).expiresAt);
    const issued = await creds('reports', ['--ttl', '10m'], token);
    expect(Date.parse(issued.expiresAt)).toBeLessThanOrEqual(tokenExpiry);
  });
});

describe('egress', () => {
  it('refuses an authorisation server the allow-list does not name, saying which and why', async () => {
    const out = await cli(['oauth', 'config', '--issuer', oidc.issuer, '--client-id', oidc.clientId], {
      input: oidc.clientSecret,
      node: fenced,
    });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`outbound connection refused: oauth provider 127.0.0.1:${oidc.port}`);
    const shown = await cli(['oauth', 'config'], { node: fenced });
    expect(shown.stderr).toMatch(/no OAuth config/);
  });
});

describe('secrets', () => {
  it('never writes the client secret, the refresh token or an access token to the audit log or any answer', async () => {
    const issued = await creds('reports');
    const audit = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
    expect(audit).toContain('"operation":"oauth.config.write"');
    for (const secret of [oidc.clientSecret, refreshToken, issued.access_token]) {
      expect(audit).not.toContain(secret);
    }
    const fencedAudit = readFileSync(path.join(fenced().dataDir, 'audit', 'audit.log'), 'utf8');
    expect(fencedAudit).not.toContain(oidc.clientSecret);
    expect(printed.join('\n')).not.toContain(oidc.clientSecret);
    expect(printed.join('\n')).not.toContain(refreshToken);
  });
});
