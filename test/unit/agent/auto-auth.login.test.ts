import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AutoAuth } from '../../../lambdas/agent/auto-auth.ts';
import { parseAgentConfig } from '../../../lambdas/agent/config.ts';
import { CliError, ExitCode } from '../../../lambdas/agent/exit-codes.ts';
import { type AgentLogin, agentLogin } from '../../../lambdas/agent/login-credentials.ts';
import type { ApiCall } from '../../../lambdas/agent/secret-source.ts';
import { tempDir } from '../../support/server-process.ts';

/**
 * Issue 12: auto_auth with a login method. A stub of the login and token routes stands in for the server: each login
 * issues a new token whose expiry moves by `ttlMs` on renewal, capped at `maxTtlMs` after its login.
 */
interface Token {
  expiresAt: number;
  maxExpiresAt: number;
  renewable: boolean;
  revoked: boolean;
}

const refused = () => new CliError('invalid or expired token (unauthenticated)', ExitCode.denied);

function stubServer(options: { ttlMs: number; maxTtlMs: number; renewable?: boolean }) {
  const tokens = new Map<string, Token>();
  const bodies: Array<Record<string, unknown>> = [];
  const calls: string[] = [];
  let failLogins = 0;
  const describe = (t: Token) => ({
    expiresAt: new Date(t.expiresAt).toISOString(),
    maxExpiresAt: new Date(t.maxExpiresAt).toISOString(),
    renewable: t.renewable,
  });
  const api =
    (token: string | undefined): ApiCall =>
    async <T>(method: string, urlPath: string, request?: { body?: unknown }) => {
      calls.push(`${method} ${urlPath}`);
      if (urlPath.endsWith('/login')) {
        if (token !== undefined) throw new Error('a login must be anonymous');
        bodies.push(request?.body as Record<string, unknown>);
        if (failLogins > 0) {
          failLogins--;
          throw new CliError('approle login at auth/approle (role web) refused: unknown secret id', ExitCode.denied);
        }
        const issued = `cft_${tokens.size + 1}`;
        const now = Date.now();
        const renewable = options.renewable ?? true;
        tokens.set(issued, {
          expiresAt: now + options.ttlMs,
          maxExpiresAt: now + options.maxTtlMs,
          renewable,
          revoked: false,
        });
        return {
          auth: {
            client_token: issued,
            accessor: `acc_${issued}`,
            policies: ['web'],
            token_policies: ['web'],
            metadata: {},
            lease_duration: options.ttlMs / 1000,
            renewable,
            num_uses: 0,
            mount_type: 'approle',
            mount_path: 'approle',
            role_name: 'web',
          },
        } as T;
      }
      const record = token === undefined ? undefined : tokens.get(token);
      if (record === undefined || record.revoked || Date.now() >= record.expiresAt) throw refused();
      if (urlPath.endsWith('/renew-self')) {
        if (!record.renewable) throw new CliError('token is not renewable (invalid_request)', ExitCode.usage);
        record.expiresAt = Math.min(Date.now() + options.ttlMs, record.maxExpiresAt);
      }
      return describe(record) as T;
    };
  return {
    api,
    bodies,
    calls,
    tokens,
    failNextLogins: (n: number) => {
      failLogins = n;
    },
  };
}

const stubLogin = (overrides: Partial<AgentLogin> = {}): AgentLogin => ({
  method: 'approle',
  mount: 'approle',
  minBackoffMs: 1000,
  maxBackoffMs: 5000,
  body: async () => ({ role_id: 'role-id-value', secret_id: 'secret-id-value' }),
  ...overrides,
});

describe('Class: AutoAuth with a login method', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs in at start, renews at half the remaining life, and logs in again before the max TTL ends', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 22_000 });
    const logs: string[] = [];
    const auth = new AutoAuth({
      source: { kind: 'login', login: stubLogin() },
      api: server.api,
      log: (m) => logs.push(m),
    });
    await auth.start(true);
    expect(auth.token()).toBe('cft_1');
    expect(server.calls).toEqual(['POST /v1/auth/approle/login']);
    expect(server.bodies[0]).toEqual({ role_id: 'role-id-value', secret_id: 'secret-id-value' });
    // Renewals at 5 s, 10 s and 15 s; at 15 s the expiry is capped at the max (22 s), so the next step is a login,
    // at 80 % of the 7 s left: 20.6 s, before the token expires.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(auth.renewCount()).toBe(3);
    expect(auth.loginCount()).toBe(1);
    expect(logs.at(-1)).toMatch(/reached its max TTL .*; logging in again in 5600 ms/);
    await vi.advanceTimersByTimeAsync(600);
    expect(auth.loginCount()).toBe(2);
    expect(auth.token()).toBe('cft_2');
    expect(Date.now()).toBeLessThan(server.tokens.get('cft_1')!.expiresAt);
    expect(logs.join('\n')).not.toMatch(/cft_|secret-id-value|role-id-value/);
    auth.stop();
  });

  it('logs in again at 80 % of the life of a token that is not renewable, without trying to renew it', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 60_000, renewable: false });
    const auth = new AutoAuth({ source: { kind: 'login', login: stubLogin() }, api: server.api, log: () => undefined });
    await auth.start(true);
    await vi.advanceTimersByTimeAsync(7_999);
    expect(auth.loginCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(auth.loginCount()).toBe(2);
    expect(server.calls.filter((c) => c.endsWith('/renew-self'))).toEqual([]);
    auth.stop();
  });

  it('logs in again at once when the renewal is refused (a revoked token)', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 600_000 });
    const logs: string[] = [];
    const auth = new AutoAuth({
      source: { kind: 'login', login: stubLogin() },
      api: server.api,
      log: (m) => logs.push(m),
    });
    await auth.start(true);
    server.tokens.get('cft_1')!.revoked = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(auth.renewCount()).toBe(0);
    expect(auth.loginCount()).toBe(2);
    expect(auth.token()).toBe('cft_2');
    expect(logs).toContain('re-authenticating: token renewal was refused: invalid or expired token (unauthenticated)');
    auth.stop();
  });

  it('keeps retrying a renewal that fails for a server reason, and logs in once the token has expired', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 600_000 });
    let down = true;
    const api =
      (token: string | undefined): ApiCall =>
      async <T>(method: string, urlPath: string, request?: { body?: unknown }) => {
        if (down && urlPath.endsWith('/renew-self')) throw new CliError('HTTP 503', ExitCode.unavailable);
        return server.api(token)<T>(method, urlPath, request);
      };
    const auth = new AutoAuth({ source: { kind: 'login', login: stubLogin() }, api, log: () => undefined });
    await auth.start(true);
    // Renewal at 5 s fails, retries after 1 s, 2 s (8 s), 4 s (12 s): by then the token expired (10 s).
    await vi.advanceTimersByTimeAsync(8_000);
    expect(auth.loginCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(auth.loginCount()).toBe(2);
    down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(auth.renewCount()).toBe(1);
    auth.stop();
  });

  it('backs off failed logins exponentially, with jitter, bounded by max_backoff', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 60_000, renewable: false });
    const logs: string[] = [];
    const jitter = [0, 0.5, 0, 0.999, 0];
    const auth = new AutoAuth({
      source: { kind: 'login', login: stubLogin({ minBackoffMs: 1000, maxBackoffMs: 5000 }) },
      api: server.api,
      log: (m) => logs.push(m),
      random: () => jitter.shift() ?? 0,
    });
    await auth.start(true);
    server.failNextLogins(5);
    await vi.advanceTimersByTimeAsync(8_000 + 1000 + 1500 + 4000 + 3750 + 5000);
    const waits = logs.flatMap((m) => /trying again in (\d+) ms/.exec(m)?.[1] ?? []).map(Number);
    // 1 s, 2 s·(1 − 0.25·0.5), 4 s, 8 s capped at 5 s and shortened by a quarter at most, 5 s.
    expect(waits).toEqual([1000, 1750, 4000, 3751, 5000]);
    expect(auth.loginCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(auth.loginCount()).toBe(2);
    expect(logs.filter((m) => m.includes('refused: unknown secret id'))).toHaveLength(5);
    auth.stop();
  });

  it('after a refused request, logs in again only when lookup-self says the token itself is refused', async () => {
    const server = stubServer({ ttlMs: 600_000, maxTtlMs: 3_600_000 });
    const auth = new AutoAuth({ source: { kind: 'login', login: stubLogin() }, api: server.api, log: () => undefined });
    await auth.start(true);
    // A policy said no: the token is fine, a new login would change nothing.
    expect(await auth.tokenRejected()).toBe(false);
    expect(auth.loginCount()).toBe(1);
    server.tokens.get('cft_1')!.revoked = true;
    expect(await auth.tokenRejected()).toBe(true);
    expect(auth.loginCount()).toBe(2);
    expect(auth.token()).toBe('cft_2');
    auth.stop();
  });

  it('does not let refused requests cut a login backoff short', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 600_000 });
    const auth = new AutoAuth({
      source: { kind: 'login', login: stubLogin() },
      api: server.api,
      log: () => undefined,
      random: () => 0,
    });
    await auth.start(true);
    server.tokens.get('cft_1')!.revoked = true;
    server.failNextLogins(1);
    expect(await auth.tokenRejected()).toBe(false);
    const attempts = () => server.calls.filter((c) => c.endsWith('/login')).length;
    expect(attempts()).toBe(2);
    // Polls keep being refused while the agent waits its 1 s: none of them logs in.
    expect(await auth.tokenRejected()).toBe(false);
    expect(await auth.tokenRejected()).toBe(false);
    expect(attempts()).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(attempts()).toBe(3);
    expect(auth.token()).toBe('cft_2');
    auth.stop();
  });

  it('refuses to start when the first login is refused, naming the mount and no credential', async () => {
    const server = stubServer({ ttlMs: 10_000, maxTtlMs: 60_000 });
    server.failNextLogins(1);
    const auth = new AutoAuth({ source: { kind: 'login', login: stubLogin() }, api: server.api, log: () => undefined });
    const failure = await auth.start(true).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CliError);
    expect((failure as CliError).exitCode).toBe(ExitCode.denied);
    expect((failure as Error).message).toBe(
      'auto_auth: approle login at auth/approle failed: approle login at auth/approle (role web) refused: unknown secret id',
    );
  });
});

describe('Function: agentLogin and the token sink', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir('coffer-login-');
  });
  afterEach(() => tmp.cleanup());

  const configOf = (autoAuth: Record<string, unknown>) =>
    parseAgentConfig({ auto_auth: autoAuth, sink: { path: 'token' } }, tmp.dir);
  const loginOf = (autoAuth: Record<string, unknown>, logs: string[] = []) => {
    const config = configOf(autoAuth).auto_auth;
    if (config === undefined || config.method === 'token_file' || config.method === 'env') throw new Error('no login');
    return agentLogin(config, (m) => logs.push(m));
  };

  it('removes the secret id file once read, remembers the secret id, and reads a new file when one appears', async () => {
    writeFileSync(path.join(tmp.dir, 'role-id'), 'role-1\n');
    writeFileSync(path.join(tmp.dir, 'secret-id'), 'secret-1\n');
    const logs: string[] = [];
    const login = loginOf({ method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id' }, logs);
    expect(login.mount).toBe('approle');
    expect(await login.body()).toEqual({ role_id: 'role-1', secret_id: 'secret-1' });
    expect(existsSync(path.join(tmp.dir, 'secret-id'))).toBe(false);
    expect(logs).toEqual([`read and removed the secret id file ${path.join(tmp.dir, 'secret-id')}`]);
    expect(await login.body()).toEqual({ role_id: 'role-1', secret_id: 'secret-1' });
    writeFileSync(path.join(tmp.dir, 'secret-id'), 'secret-2');
    expect(await login.body()).toEqual({ role_id: 'role-1', secret_id: 'secret-2' });
    expect(existsSync(path.join(tmp.dir, 'secret-id'))).toBe(false);
  });

  it('keeps the secret id file when asked to, and refuses a missing one without a remembered secret id', async () => {
    writeFileSync(path.join(tmp.dir, 'role-id'), 'role-1');
    writeFileSync(path.join(tmp.dir, 'secret-id'), 'secret-1');
    const kept = loginOf({
      method: 'approle',
      mount: 'apps',
      role_id_file: 'role-id',
      secret_id_file: 'secret-id',
      remove_secret_id_file_after_reading: false,
    });
    expect(await kept.body()).toEqual({ role_id: 'role-1', secret_id: 'secret-1' });
    expect(readFileSync(path.join(tmp.dir, 'secret-id'), 'utf8')).toBe('secret-1');
    const missing = loginOf({ method: 'approle', role_id_file: 'role-id', secret_id_file: 'nowhere' });
    await expect(missing.body()).rejects.toThrow(
      `cannot read the secret id from ${path.join(tmp.dir, 'nowhere')}: ENOENT`,
    );
  });

  it('reads the JWT file at every login, so a rotated token is used', async () => {
    const file = path.join(tmp.dir, 'jwt');
    writeFileSync(file, 'eyJ.first.sig\n');
    const login = loginOf({ method: 'jwt', role: 'deploy', path: 'jwt' });
    expect(login.mount).toBe('jwt');
    expect(await login.body()).toEqual({ role: 'deploy', jwt: 'eyJ.first.sig' });
    writeFileSync(file, 'eyJ.second.sig\n');
    expect(await login.body()).toEqual({ role: 'deploy', jwt: 'eyJ.second.sig' });
    writeFileSync(file, '\n');
    await expect(login.body()).rejects.toThrow(`${file} (the JWT) is empty`);
  });

  it('sends a projected service-account token for kubernetes and a password file for ldap', async () => {
    writeFileSync(path.join(tmp.dir, 'sa-token'), 'eyJ.sa.sig');
    writeFileSync(path.join(tmp.dir, 'password'), 'correct horse\n');
    const k8s = loginOf({ method: 'kubernetes', role: 'web', token_path: 'sa-token' });
    expect([k8s.mount, await k8s.body()]).toEqual(['kubernetes', { role: 'web', jwt: 'eyJ.sa.sig' }]);
    const ldap = loginOf({ method: 'ldap', mount: 'corp', username: 'alice', password_file: 'password' });
    expect([ldap.mount, await ldap.body()]).toEqual(['corp', { username: 'alice', password: 'correct horse' }]);
    const defaults = configOf({ method: 'kubernetes', role: 'web' }).auto_auth;
    expect(defaults).toMatchObject({
      token_path: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      min_backoff: 1000,
      max_backoff: 300_000,
    });
  });

  it('writes the token to the sink, mode 0600, and replaces it after a new login', async () => {
    const server = stubServer({ ttlMs: 600_000, maxTtlMs: 3_600_000 });
    const sink = configOf({ method: 'jwt', role: 'deploy', path: 'jwt' }).sink!;
    expect(sink).toEqual({ path: path.join(tmp.dir, 'token'), mode: 0o600 });
    const logs: string[] = [];
    const auth = new AutoAuth({
      source: { kind: 'login', login: stubLogin() },
      api: server.api,
      log: (m) => logs.push(m),
      sink,
    });
    await auth.start(true);
    expect(readFileSync(sink.path, 'utf8')).toBe('cft_1');
    expect(statSync(sink.path).mode & 0o777).toBe(0o600);
    server.tokens.get('cft_1')!.revoked = true;
    expect(await auth.tokenRejected()).toBe(true);
    expect(readFileSync(sink.path, 'utf8')).toBe('cft_2');
    expect(logs.join('\n')).not.toContain('cft_');
    auth.stop();
  });
});
