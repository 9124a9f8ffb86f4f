import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { ComplianceReport } from '../../lambdas/api/compliance.ts';
import { initialise, type LocalNode, openLocalNode } from '../../lambdas/entrypoints/local/compose.ts';
import { loadLocalConfig } from '../../lambdas/entrypoints/local/config.ts';
import { request } from './memory-node.ts';

const DAY = 86_400_000;
/** Day 0 of the seeded history; the report is taken on day 40 over the 30 days before it (days 10..40). */
export const SEED_EPOCH = Date.parse('2026-01-01T00:00:00.000Z');
export const REPORT_DAY = 40;

/**
 * A local node (real SQLite store, real audit file, an injected clock) seeded through its broker with a history whose
 * every compliance figure is known: secrets rotated, overdue, stale and ownerless; refused callers; logins; tokens
 * with and without a bounded life; certificates expiring, expired and revoked; a request the log lost the answer of.
 * Every call is made at a chosen day, so nothing depends on the machine's speed.
 */
export async function seededComplianceNode(): Promise<{
  node: LocalNode;
  dir: string;
  rootToken: string;
  clock: { now(): number; set(day: number): void };
  /** Serials of the certificates expiring in 4 and 19 days, and of the expired one. */
  serials: { soon: string; later: string; lapsed: string };
  /** The report of day 40 over `since=30d`, through the broker. */
  report(query?: Record<string, string>, token?: string): Promise<{ status: number; body: ComplianceReport }>;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-compliance-'));
  let now = SEED_EPOCH;
  const clock = {
    now: () => now,
    set: (day: number) => {
      now = SEED_EPOCH + day * DAY;
    },
  };
  const config = loadLocalConfig(
    {},
    {
      dataDir: dir,
      // The scheduler never ticks during the test: what is overdue stays overdue.
      rotationTickMs: 3_600_000,
      rotationRetryIntervalMs: 0,
      // The first rotation fails at its test step (and rolls back); later ones succeed.
      rotationFault: 'api-key-coffer:testSecret:fail:1',
    },
  );
  const { rootToken } = await initialise(config);
  const node = await openLocalNode(config, clock);
  const call = async (
    method: string,
    url: string,
    options: { token?: string; body?: unknown; query?: Record<string, string>; sourceIp?: string } = {},
  ) => {
    const res = await node.broker.handle(request(method, url, options));
    return { status: res.status, body: res.body === '' ? undefined : JSON.parse(res.body) };
  };
  const root = async (method: string, url: string, body?: unknown, expected?: number) => {
    const res = await call(method, url, { token: rootToken, body });
    if (expected !== undefined) expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(expected);
    else expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body;
  };

  // ---- day 0: the secrets (all older than the window) ------------------------------------------------------------
  clock.set(0);
  const apiKey = '{"endpoint":"https://billing.example"}';
  const create = (name: string, value: string, tags?: Record<string, string>) =>
    root('POST', '/v1/secrets', { name, value, ...(tags !== undefined && { tags }) });
  await create('app/db', apiKey, { owner: 'alice' });
  await create('app/overdue', apiKey, { owner: 'bob' });
  await create('app/read', 'read me', { owner: 'carol' });
  await create('app/stale', 'nobody reads me', { owner: ' ' });
  const rotation = { type: 'api-key-coffer', settings: { overlapSeconds: 600 } };
  await root('PUT', '/v1/rotation/configs/app/db', {
    ...rotation,
    rules: { automaticallyAfterDays: 30, duration: '2h' },
  });
  // Due on day 7, never rotated: overdue by day 40.
  await root('PUT', '/v1/rotation/configs/app/overdue', {
    ...rotation,
    rules: { automaticallyAfterDays: 7, duration: '2h' },
  });

  // ---- day 5: before the window -----------------------------------------------------------------------------------
  clock.set(5);
  await root('PUT', '/v1/sys/policies/nothing', { rules: [{ path: 'elsewhere/*', capabilities: ['read'] }] });
  await root('POST', '/v1/sys/auth/ci', { type: 'approle' });
  await root('PUT', '/v1/auth/ci/role/web', { token_policies: ['nothing'], token_ttl: '2d', token_max_ttl: '7d' });
  const roleId = (await root('GET', '/v1/auth/ci/role/web/role-id')).role_id as string;
  const secretId = (await root('POST', '/v1/auth/ci/role/web/secret-id', {})).secret_id as string;
  await root('POST', '/v1/pki/root/generate', { common_name: 'Seed Root', ttl: '87600h' });
  await root('PUT', '/v1/pki/roles/web', {
    allowed_domains: ['example.com'],
    allow_subdomains: true,
    max_ttl: '3000h',
  });

  // ---- day 9: certificates, still before the window ---------------------------------------------------------------
  clock.set(9);
  const issue = async (name: string, ttlDays: number) =>
    (await root('POST', '/v1/pki/issue/web', { common_name: `${name}.example.com`, ttl: `${ttlDays * 24}h` }))
      .serial_number as string;
  const soon = await issue('soon', 35); // notAfter day 44: 4 days left on day 40 (failing)
  const later = await issue('later', 50); // notAfter day 59: 19 days left (expiring)
  await issue('far', 100); // notAfter day 109: not expiring
  const lapsed = await issue('lapsed', 5); // notAfter day 14: expired, listed, not counted
  const revoked = await issue('revoked', 35); // would be expiring, but revoked
  await root('POST', '/v1/pki/revoke', { serial_number: revoked });

  // ---- day 20: one failed and one successful rotation -------------------------------------------------------------
  clock.set(20);
  await root('POST', '/v1/rotation/rotate', { secretId: 'app/db' });
  await node.rotationRunner.idle();
  await root('POST', '/v1/rotation/rotate', { secretId: 'app/db' });
  await node.rotationRunner.idle();
  // A request whose answer the log lost (a crash between its two records): a named gap.
  await node.deps.audit.request({
    requestId: 'lost-answer',
    operation: 'secret.read',
    path: 'secrets/app/db',
    sourceIp: '127.0.0.1',
  });

  // ---- day 35: two secrets read --------------------------------------------------------------------------------
  clock.set(35);
  await root('GET', '/v1/secret/data/app/db');
  await root('GET', '/v1/secret/data/app/read');

  // ---- day 39: tokens, refusals, logins -------------------------------------------------------------------------
  clock.set(39);
  const narrow = (await root('POST', '/v1/auth/token/create', {
    policies: ['nothing'],
    ttl: '2d',
    explicitMaxTtl: '7d',
    displayName: 'narrow',
  })) as { token: string };
  await root('POST', '/v1/auth/token/create', { policies: ['nothing'], ttl: '2d', explicitMaxTtl: '31d' });
  for (let i = 0; i < 3; i++) {
    expect((await call('GET', '/v1/secret/data/app/db', { token: narrow.token })).status).toBe(403);
  }
  const bogus = `cft_${'A'.repeat(43)}`;
  expect((await call('GET', '/v1/secret/data/app/db', { token: bogus, sourceIp: '203.0.113.9' })).status).toBe(401);
  const login = (secret: string) =>
    call('POST', '/v1/auth/ci/login', { body: { role_id: roleId, secret_id: secret }, sourceIp: '198.51.100.7' });
  expect((await login(secretId)).status).toBe(200);
  expect((await login('wrong-1')).status).toBe(403);
  expect((await login('wrong-2')).status).toBe(403);

  clock.set(REPORT_DAY);
  return {
    node,
    dir,
    rootToken,
    clock,
    serials: { soon, later, lapsed },
    report: async (query = { since: '30d' }, token = rootToken) =>
      (await call('GET', '/v1/sys/compliance', { token, query })) as { status: number; body: ComplianceReport },
    close: async () => {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
