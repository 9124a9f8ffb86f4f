import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AutoAuth } from '../../../lambdas/agent/auto-auth.ts';
import { CliError } from '../../../lambdas/agent/exit-codes.ts';
import type { ApiCall } from '../../../lambdas/agent/secret-source.ts';
import { tempDir } from '../../support/server-process.ts';

interface Call {
  token: string | undefined;
  method: string;
  path: string;
}

/** A fake of the token routes: each token's expiry moves by `ttlMs` on renewal, capped at `maxMs`. */
function fakeServer(options: { ttlMs: number; maxMs: number; renewable?: boolean }) {
  const calls: Call[] = [];
  const start = Date.now();
  const expiries = new Map<string | undefined, number>();
  const info = (token: string | undefined) => ({
    expiresAt: new Date(expiries.get(token) ?? start + options.ttlMs).toISOString(),
    maxExpiresAt: new Date(start + options.maxMs).toISOString(),
    renewable: options.renewable ?? true,
  });
  const api =
    (token: string | undefined): ApiCall =>
    async <T>(method: string, urlPath: string) => {
      calls.push({ token, method, path: urlPath });
      if (urlPath.endsWith('/renew-self'))
        expiries.set(token, Math.min(Date.now() + options.ttlMs, start + options.maxMs));
      return info(token) as T;
    };
  return { api, calls };
}

describe('Class: AutoAuth', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir('coffer-auth-');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
    tmp.cleanup();
  });

  it('renews at half the remaining lifetime, and stops at the max TTL', async () => {
    const server = fakeServer({ ttlMs: 10_000, maxMs: 22_000 });
    const logs: string[] = [];
    const auth = new AutoAuth({
      source: { kind: 'static', token: 'cft_a', origin: 'test' },
      api: server.api,
      log: (m) => logs.push(m),
    });
    await auth.start(true);
    expect(server.calls.map((c) => c.path)).toEqual(['/v1/auth/token/lookup-self']);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(auth.renewCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(auth.renewCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    // Renewals at 5 s, 10 s, 15 s; at 15 s the expiry is capped at the max (22 s), so renewing stops.
    expect(auth.renewCount()).toBe(3);
    expect(logs.at(-1)).toMatch(/reached its max TTL/);
    auth.stop();
  });

  it('retries a failed renewal with backoff', async () => {
    const server = fakeServer({ ttlMs: 10_000, maxMs: 600_000 });
    let failures = 2;
    const api =
      (token: string | undefined): ApiCall =>
      async <T>(method: string, urlPath: string, options?: { body?: unknown }) => {
        if (urlPath.endsWith('/renew-self') && failures-- > 0) throw new Error('HTTP 503');
        return server.api(token)<T>(method, urlPath, options);
      };
    const logs: string[] = [];
    const auth = new AutoAuth({
      source: { kind: 'static', token: 'cft_a', origin: 'test' },
      api,
      log: (m) => logs.push(m),
    });
    await auth.start(true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(auth.renewCount()).toBe(0);
    // Retries after 1 s, then 2 s.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(auth.renewCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(auth.renewCount()).toBe(1);
    expect(logs.filter((m) => m.startsWith('token renewal failed'))).toHaveLength(2);
    auth.stop();
  });

  it('does not renew a token that is not renewable, or in --once mode', async () => {
    const server = fakeServer({ ttlMs: 10_000, maxMs: 60_000, renewable: false });
    const logs: string[] = [];
    const auth = new AutoAuth({
      source: { kind: 'static', token: 'cft_a', origin: 'test' },
      api: server.api,
      log: (m) => logs.push(m),
    });
    await auth.start(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(auth.renewCount()).toBe(0);
    expect(logs).toEqual([expect.stringMatching(/not renewable/)]);

    const once = new AutoAuth({
      source: { kind: 'static', token: 'cft_b', origin: 'test' },
      api: fakeServer({ ttlMs: 10_000, maxMs: 60_000 }).api,
      log: () => undefined,
    });
    await once.start(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(once.renewCount()).toBe(0);
  });

  it('switches to a new token when the token file changes', async () => {
    const file = path.join(tmp.dir, 'token');
    writeFileSync(file, 'cft_first\n');
    const server = fakeServer({ ttlMs: 600_000, maxMs: 3_600_000 });
    const logs: string[] = [];
    const auth = new AutoAuth({ source: { kind: 'file', path: file }, api: server.api, log: (m) => logs.push(m) });
    await auth.start(true);
    expect(auth.token()).toBe('cft_first');
    expect(await auth.reloadIfChanged()).toBe(false);
    writeFileSync(file, 'cft_second');
    expect(await auth.reloadIfChanged()).toBe(true);
    expect(auth.token()).toBe('cft_second');
    expect(server.calls.at(-1)).toEqual({ token: 'cft_second', method: 'GET', path: '/v1/auth/token/lookup-self' });
    expect(logs.join('\n')).not.toContain('cft_');
    auth.stop();
  });

  it('refuses to start without a token', async () => {
    const empty = path.join(tmp.dir, 'empty');
    writeFileSync(empty, '\n');
    const api = fakeServer({ ttlMs: 1000, maxMs: 1000 }).api;
    await expect(
      new AutoAuth({ source: { kind: 'file', path: empty }, api, log: () => undefined }).start(true),
    ).rejects.toThrow(CliError);
    await expect(
      new AutoAuth({
        source: { kind: 'file', path: path.join(tmp.dir, 'missing') },
        api,
        log: () => undefined,
      }).start(true),
    ).rejects.toThrow(/cannot read the token file/);
    await expect(
      new AutoAuth({ source: { kind: 'static', token: undefined, origin: '$X' }, api, log: () => undefined }).start(
        true,
      ),
    ).rejects.toThrow(/no token: \$X/);
  });
});
