import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsEgressGuard, guardedFetch } from '../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { Broker } from '../../../lambdas/broker/broker.ts';
import type { BrokerDeps } from '../../../lambdas/broker/broker-deps.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { EgressPolicy } from '../../../lambdas/core/egress/egress-policy.ts';
import type { RotationLauncher, RotationScheduleSync } from '../../../lambdas/core/ports/rotation.ts';
import { ROTATION_CONFIG_PK, type RotationConfigRecord } from '../../../lambdas/core/rotation/rotation-records.ts';
import { RotationService } from '../../../lambdas/core/rotation/rotation-service.ts';
import { ROTATION_STEPS } from '../../../lambdas/core/rotation/rotation-types.ts';
import type { RotationExecutionInput } from '../../../lambdas/core/rotation/rotation-workflow.ts';
import { DatabaseEngine } from '../../../lambdas/engines/database/database-engine.ts';
import { PostgresPlugin } from '../../../lambdas/engines/database/postgres/postgres-plugin.ts';
import { createRotators } from '../../../lambdas/engines/rotation/registry.ts';
import { PostgresSessions } from '../../../lambdas/engines/shared/postgres/postgres-sessions.ts';
import { type ApiKeyService, startApiKeyService } from '../../support/api-key-service.ts';
import { LOOPBACK_EGRESS } from '../../support/egress.ts';
import { memoryNode, request } from '../../support/memory-node.ts';
import { pkiFixture, withChain } from '../engines/pki/fixtures.ts';

type Json = Record<string, unknown>;

/** Runs a rotation's steps in-process, as the local runner does, rolling back on the first failure. */
class InlineLauncher implements RotationLauncher {
  service: RotationService | undefined;
  readonly failures: string[] = [];

  async launch(input: RotationExecutionInput): Promise<void> {
    const service = this.service!;
    for (const step of ROTATION_STEPS) {
      try {
        await service.runStep({ Step: step, Rotation: input });
      } catch (error) {
        const caught = error instanceof Error ? { Error: error.name, Cause: error.message } : { Error: 'Error' };
        this.failures.push(caught.Cause ?? caught.Error);
        await service.runStep({ Step: 'rollback', Rotation: { ...input, Error: caught } });
        return;
      }
    }
  }
}

const noSchedules: RotationScheduleSync = { put: async () => {}, delete: async () => {} };

/** A listener an attacker controls: it records every request (and the credential it carried). */
async function listener(): Promise<{ url: string; seen: { authorization?: string }[]; server: Server }> {
  const seen: { authorization?: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({ ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }) });
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'stolen', key: 'stolen' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function setup(egressAllow = LOOPBACK_EGRESS) {
  const node = await memoryNode();
  const { pki } = pkiFixture();
  await withChain(pki);
  await pki.putRole('prod-web', { allowed_domains: ['bank.example.com'], allow_bare_domains: true });
  const egress = new DnsEgressGuard(EgressPolicy.parse(egressAllow));
  const launcher = new InlineLauncher();
  const rotation = new RotationService({
    store: node.store,
    secrets: node.deps.secrets,
    clock: node.deps.clock,
    rotators: createRotators({
      postgres: new PostgresSessions(),
      store: node.store,
      clock: node.deps.clock,
      pki,
      fetch: guardedFetch(egress, 'api-key-http provider'),
    }),
    launcher,
    schedules: noSchedules,
    events: { publish: async () => {} },
    audit: node.deps.audit,
    egress,
  });
  launcher.service = rotation;
  const database = new DatabaseEngine({
    store: node.store,
    clock: node.deps.clock,
    secrets: node.deps.secrets,
    plugin: new PostgresPlugin(egress, new PostgresSessions()),
  });
  const deps: BrokerDeps = { ...node.deps, rotation, pki, database };
  const broker = new Broker(deps, nativeRoutes(), () => {});
  const root = node.rootToken;
  const rootRecord = await node.deps.tokens.lookup({ token: root });
  const tokenFor = async (name: string, rules: { path: string; capabilities: string[] }[]) => {
    await node.deps.policies.put({ name, rules });
    return (await node.deps.tokens.create(rootRecord, { policies: [name] })).token;
  };
  const call = async (method: string, path: string, options: { token?: string; body?: unknown } = {}) => {
    const res = await broker.handle(request(method, path, { token: root, ...options }));
    return { status: res.status, body: JSON.parse(res.body || '{}') as Json };
  };
  const put = async (name: string, value: string) =>
    expect((await call('PUT', `/v1/secret/data/${name}`, { body: { value } })).status).toBe(200);
  await put('prod/db/password', 'prod-password-canary');
  await put('prod/db/admin', JSON.stringify({ username: 'postgres', password: 'admin-canary' }));
  // The narrow caller of the findings: its own subtree, with rotate, and nothing else.
  const narrow = await tokenFor('app', [
    { path: 'secrets/app/*', capabilities: ['read', 'create', 'update', 'rotate'] },
  ]);
  const records = () => node.sink.records();
  return { node, broker, rotation, launcher, call, put, narrow, tokenFor, records, pki };
}

const apiKeySettings = (baseUrl: string, credentialSecret: string) => ({
  baseUrl,
  credentialSecret,
  create: { path: '/keys' },
  test: { path: '/check' },
  revoke: { path: '/keys/{{keyId}}' },
});

describe('Broker: resources named inside engine settings are authorised for the caller', () => {
  it('refuses api-key-http rotation whose credentialSecret the caller may not read, before anything is stored or sent', async () => {
    const t = await setup();
    const evil = await listener();
    closers.push(() => new Promise((r) => evil.server.close(r)));
    await t.put('app/rot', JSON.stringify({ keyId: 'k0', apiKey: 'a0' }));
    const res = await t.call('PUT', '/v1/rotation/configs/app/rot', {
      token: t.narrow,
      body: { type: 'api-key-http', settings: apiKeySettings(evil.url, 'prod/db/password'), rotateImmediately: true },
    });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('read on secrets/prod/db/password');
    expect(evil.seen).toHaveLength(0);
    expect(await t.node.store.get(ROTATION_CONFIG_PK, 'app/rot')).toBeUndefined();
    // The refusal is in the audit log, naming the access that was missing.
    const refusal = t.records().find((r) => r.type === 'response' && r.operation === 'rotation.configure');
    expect(refusal).toMatchObject({
      outcome: 'denied',
      denied: { path: 'secrets/prod/db/password', capability: 'read' },
    });
    expect(JSON.stringify(t.records())).not.toContain('prod-password-canary');
  });

  it('answers a missing and an existing unreadable secret alike (no existence oracle)', async () => {
    const t = await setup();
    await t.put('app/rot', JSON.stringify({ keyId: 'k0', apiKey: 'a0' }));
    const body = (secret: string) => ({
      type: 'api-key-http',
      settings: apiKeySettings('http://127.0.0.1:9', secret),
    });
    const existing = await t.call('PUT', '/v1/rotation/configs/app/rot', {
      token: t.narrow,
      body: body('prod/db/password'),
    });
    const missing = await t.call('PUT', '/v1/rotation/configs/app/rot', {
      token: t.narrow,
      body: body('prod/db/nothing'),
    });
    expect(existing.status).toBe(403);
    expect(missing.status).toBe(403);
    const scrub = (b: Json) =>
      JSON.stringify(b)
        .replace(/"requestId":"[^"]+"/, '')
        .replace(/nothing|password/g, 'X');
    expect(scrub(existing.body)).toBe(scrub(missing.body));
  });

  it('refuses postgres rotation whose adminSecret the caller may not read', async () => {
    const t = await setup();
    const value = {
      engine: 'postgres',
      host: '203.0.113.9',
      port: 5432,
      dbname: 'app',
      username: 'app',
      password: 'p',
    };
    await t.put('app/db', JSON.stringify(value));
    for (const type of ['postgres-single', 'postgres-alternating']) {
      const res = await t.call('PUT', '/v1/rotation/configs/app/db', {
        token: t.narrow,
        body: { type, settings: { adminSecret: 'prod/db/admin' } },
      });
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body)).toContain('read on secrets/prod/db/admin');
    }
  });

  it('refuses certificate rotation from a PKI role the caller may not issue from (no PKI bypass)', async () => {
    const t = await setup();
    await t.put('app/cert', '{}');
    expect(
      (await t.call('POST', '/v1/pki/issue/prod-web', { token: t.narrow, body: { common_name: 'bank.example.com' } }))
        .status,
    ).toBe(403);
    const res = await t.call('PUT', '/v1/rotation/configs/app/cert', {
      token: t.narrow,
      body: {
        type: 'certificate',
        settings: { role: 'prod-web', commonName: 'bank.example.com' },
        rotateImmediately: true,
      },
    });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('update on pki/issue/prod-web');
    const value = await t.call('GET', '/v1/secret/data/app/cert');
    expect(value.body.value).toBe('{}');
  });

  it('records the grant when the caller holds every reference, and the rotation reads only under it, audited', async () => {
    const t = await setup();
    const keys: ApiKeyService = await startApiKeyService();
    closers.push(() => keys.close());
    await t.put('vendor/admin', keys.adminToken);
    await t.put('app/rot', JSON.stringify({ keyId: 'k0', apiKey: 'a0' }));
    const token = await t.tokenFor('app-vendor', [
      { path: 'secrets/app/*', capabilities: ['read', 'create', 'update', 'rotate'] },
      { path: 'secrets/vendor/admin', capabilities: ['read'] },
    ]);
    const res = await t.call('PUT', '/v1/rotation/configs/app/rot', {
      token,
      body: { type: 'api-key-http', settings: apiKeySettings(keys.url, 'vendor/admin'), rotateImmediately: true },
    });
    expect(res.status).toBe(200);
    expect(res.body.grant).toMatchObject({ references: [{ path: 'secrets/vendor/admin', capability: 'read' }] });
    expect(t.launcher.failures).toEqual([]);
    expect(keys.requests.some((r) => r.op === 'create' && r.status === 201)).toBe(true);
    const configured = t.records().find((r) => r.type === 'response' && r.operation === 'rotation.configure');
    expect(configured?.grants).toEqual(
      expect.arrayContaining([
        { path: 'secrets/app/rot', capability: 'rotate' },
        { path: 'secrets/vendor/admin', capability: 'read' },
      ]),
    );
    const read = t.records().find((r) => r.operation === 'rotation.read-secret');
    expect(read).toMatchObject({
      path: 'secrets/vendor/admin',
      response: { secret: 'app/rot', grantRequestId: configured?.requestId },
    });
    expect(JSON.stringify(t.records())).not.toContain(keys.adminToken);
  });

  it('a stored config whose grant lacks a reference cannot make the rotation read it', async () => {
    const t = await setup();
    const evil = await listener();
    closers.push(() => new Promise((r) => evil.server.close(r)));
    await t.put('app/rot', JSON.stringify({ keyId: 'k0', apiKey: 'a0' }));
    // As if written before grants were recorded, or tampered with in the store: settings naming another secret.
    const now = Date.now();
    const rotators = createRotators({
      postgres: new PostgresSessions(),
      store: t.node.store,
      clock: t.node.deps.clock,
      pki: t.pki,
    });
    const settings = rotators['api-key-http'].parseSettings(apiKeySettings(evil.url, 'prod/db/password'));
    const record: RotationConfigRecord = {
      name: 'app/rot',
      type: 'api-key-http',
      settings: settings as unknown as Record<string, unknown>,
      enabled: true,
      createdAt: now,
      updatedAt: now,
    };
    await t.node.store.transact([{ type: 'put', pk: ROTATION_CONFIG_PK, sk: 'app/rot', data: record }]);
    await t.rotation.rotate({ secretId: 'app/rot', trigger: 'on-demand', clientRequestToken: randomUUID() });
    expect(t.launcher.failures.join()).toContain('needs read on secrets/prod/db/password');
    expect(evil.seen).toHaveLength(0);
  });

  it('refuses a provider off the egress allow-list when configured, and never connects to it', async () => {
    const t = await setup('');
    const evil = await listener();
    closers.push(() => new Promise((r) => evil.server.close(r)));
    await t.put('app/rot', JSON.stringify({ keyId: 'k0', apiKey: 'a0' }));
    await t.put('app/vendor', 'vendor-credential');
    const res = await t.call('PUT', '/v1/rotation/configs/app/rot', {
      token: t.narrow,
      body: { type: 'api-key-http', settings: apiKeySettings(evil.url, 'app/vendor'), rotateImmediately: true },
    });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toMatch(/outbound connection refused: api-key-http provider 127\.0\.0\.1/);
    expect(evil.seen).toHaveLength(0);
  });

  it('refuses the cloud metadata address even when the allow-list says "*"', async () => {
    const t = await setup('*');
    await t.put('app/rot', JSON.stringify({ keyId: 'k0', apiKey: 'a0' }));
    await t.put('app/vendor', 'vendor-credential');
    const res = await t.call('PUT', '/v1/rotation/configs/app/rot', {
      token: t.narrow,
      body: { type: 'api-key-http', settings: apiKeySettings('http://169.254.169.254/latest', 'app/vendor') },
    });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('link-local');
  });

  it('refuses a database connection whose admin_secret the caller may not read, and a role on a connection it may not use', async () => {
    const t = await setup();
    const dba = await t.tokenFor('dba', [
      { path: 'database/config/*', capabilities: ['update', 'read'] },
      { path: 'database/roles/*', capabilities: ['update', 'read'] },
    ]);
    const config = { host: '127.0.0.1', database: 'app', admin_secret: 'prod/db/admin' };
    const refused = await t.call('PUT', '/v1/database/config/main', { token: dba, body: config });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('read on secrets/prod/db/admin');
    expect((await t.call('PUT', '/v1/database/config/main', { body: config })).status).toBe(200);
    const roleWriter = await t.tokenFor('role-writer', [{ path: 'database/roles/*', capabilities: ['update'] }]);
    const role = await t.call('PUT', '/v1/database/roles/ro', { token: roleWriter, body: { db_name: 'main' } });
    expect(role.status).toBe(403);
    expect(JSON.stringify(role.body)).toContain('update on database/config/main');
    expect((await t.call('PUT', '/v1/database/roles/ro', { token: dba, body: { db_name: 'main' } })).status).toBe(200);
  });

  it('pins the database target at configuration: a later value naming another user or host fails without the admin connecting', async () => {
    const t = await setup();
    const db = await countingListener();
    closers.push(db.close);
    const value = (username: string, port = db.port) =>
      JSON.stringify({ engine: 'postgres', host: '127.0.0.1', port, dbname: 'app', username, password: 'p' });
    await t.put('app/db', value('app'));
    const dba = await t.tokenFor('dba', [
      { path: 'secrets/app/*', capabilities: ['read', 'create', 'update', 'rotate'] },
      { path: 'secrets/prod/db/admin', capabilities: ['read'] },
    ]);
    const configured = await t.call('PUT', '/v1/rotation/configs/app/db', {
      token: dba,
      body: { type: 'postgres-single', settings: { adminSecret: 'prod/db/admin' } },
    });
    expect(configured.status).toBe(200);
    expect(configured.body.grant).toMatchObject({
      target: { host: '127.0.0.1', port: String(db.port), dbname: 'app', user: 'app' },
    });
    // A writer of the value (no read on the admin secret) points the admin at the superuser, then at another port.
    for (const next of [value('postgres'), value('app', db.port + 1)]) {
      await t.put('app/db', next);
      t.launcher.failures.length = 0;
      await t.rotation.rotate({ secretId: 'app/db', trigger: 'on-demand', clientRequestToken: randomUUID() });
      expect(t.launcher.failures.join()).toContain('names another target than its rotation was configured for');
    }
    expect(db.connections()).toBe(0);
  });

  it('refuses to configure postgres rotation on a secret whose value names no target', async () => {
    const t = await setup();
    await t.put('app/db', 'not json');
    const res = await t.call('PUT', '/v1/rotation/configs/app/db', { body: { type: 'postgres-single' } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('cannot be rotated as postgres-single');
  });
});

/** A TCP listener standing in for a database host: it only counts who connects. */
async function countingListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = createNetServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
