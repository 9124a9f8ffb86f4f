import { describe, expect, it } from 'vitest';
import { memoryNode, request } from '../../../support/memory-node.ts';

const HOUR = 3_600_000;

class Clock {
  constructor(public time = Date.UTC(2026, 2, 1)) {}
  now = () => this.time;
}

async function node() {
  const clock = new Clock();
  const n = await memoryNode(clock);
  return { ...n, clock };
}

describe('Routes: expiration policies of secrets', () => {
  it('answers a read during grace with the warning, and 410 after, never with the value', async () => {
    const { broker, rootToken, clock, sink } = await node();
    const created = await broker.handle(
      request('POST', '/v1/secrets', {
        token: rootToken,
        body: { name: 'app/key', value: 'the-value', expiration: { ttl: '2h', grace: '1h', notifyBefore: ['1h'] } },
      }),
    );
    expect(created.status).toBe(201);
    const expiresAt = new Date(clock.time + 2 * HOUR).toISOString();
    const graceEndsAt = new Date(clock.time + 3 * HOUR).toISOString();

    const described = await broker.handle(request('GET', '/v1/secret/metadata/app/key', { token: rootToken }));
    expect(JSON.parse(described.body).expiration).toMatchObject({
      expiresAt,
      grace: 3600,
      notifyBefore: [3600],
      state: 'active',
    });

    const quiet = await broker.handle(request('GET', '/v1/secret/data/app/key', { token: rootToken }));
    expect(quiet.headers.warning).toBeUndefined();
    expect(JSON.parse(quiet.body).warnings).toBeUndefined();

    clock.time += 2 * HOUR + 1;
    const inGrace = await broker.handle(request('GET', '/v1/secret/data/app/key', { token: rootToken }));
    expect(inGrace.status).toBe(200);
    const body = JSON.parse(inGrace.body);
    expect(body.value).toBe('the-value');
    expect(body.expiry).toEqual({ state: 'grace', expiresAt, graceEndsAt });
    expect(body.warnings).toEqual([`secret app/key expired at ${expiresAt}; reads are refused from ${graceEndsAt}`]);
    expect(inGrace.headers.warning).toBe(`299 coffer "${body.warnings[0]}"`);
    expect(inGrace.headers['x-coffer-expiry']).toBe(`grace; expires-at=${expiresAt}; grace-ends-at=${graceEndsAt}`);

    clock.time += HOUR;
    const refused = await broker.handle(request('GET', '/v1/secret/data/app/key', { token: rootToken }));
    expect(refused.status).toBe(410);
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: 'expired',
      message: `secret app/key has expired: its expiration time passed at ${expiresAt} and its grace period ended at ${graceEndsAt}`,
    });
    expect(refused.body).not.toContain('the-value');
    const audited = JSON.stringify(sink.records());
    expect(audited).not.toContain('the-value');
  });

  it('sets, replaces and clears a policy by a metadata update', async () => {
    const { broker, rootToken } = await node();
    await broker.handle(request('POST', '/v1/secrets', { token: rootToken, body: { name: 's', value: 'v' } }));
    const set = await broker.handle(
      request('PATCH', '/v1/secret/metadata/s', { token: rootToken, body: { expiration: { maxReads: 1 } } }),
    );
    expect(set.status).toBe(200);
    expect((await broker.handle(request('GET', '/v1/secret/data/s', { token: rootToken }))).status).toBe(200);
    const spent = await broker.handle(request('GET', '/v1/secret/data/s', { token: rootToken }));
    expect(spent.status).toBe(410);
    expect(JSON.parse(spent.body).error.message).toBe('secret s has expired: its read limit is spent');
    await broker.handle(request('PATCH', '/v1/secret/metadata/s', { token: rootToken, body: { expiration: null } }));
    expect((await broker.handle(request('GET', '/v1/secret/data/s', { token: rootToken }))).status).toBe(200);
    const described = JSON.parse(
      (await broker.handle(request('GET', '/v1/secret/metadata/s', { token: rootToken }))).body,
    );
    expect(described.expiration).toBeUndefined();
  });

  it('refuses a policy that names a secret the caller cannot read, without revealing whether it exists', async () => {
    const { broker, rootToken, deps } = await node();
    await broker.handle(request('POST', '/v1/secrets', { token: rootToken, body: { name: 'db/admin', value: 'a' } }));
    await deps.policies.put({
      name: 'app-writer',
      rules: [{ path: 'secrets/app/*', capabilities: ['create', 'read', 'update'] }],
    });
    const root = await deps.tokens.lookup({ token: rootToken });
    const { token } = await deps.tokens.create(root, { policies: ['app-writer'] });
    for (const watched of ['db/admin', 'db/missing']) {
      const res = await broker.handle(
        request('POST', '/v1/secrets', {
          token,
          body: { name: 'app/hook', value: 'v', expiration: { expireWhenRotated: watched } },
        }),
      );
      expect(res.status).toBe(403);
    }
    const lease = await broker.handle(
      request('POST', '/v1/secrets', {
        token,
        body: {
          name: 'app/hook',
          value: 'v',
          expiration: { expireWhenLeaseRevoked: 'database/creds/app/0123456789abcdef01234567' },
        },
      }),
    );
    expect(lease.status).toBe(403);
    const allowed = await broker.handle(
      request('POST', '/v1/secrets', { token, body: { name: 'app/hook', value: 'v', expiration: { ttl: '1d' } } }),
    );
    expect(allowed.status).toBe(201);
  });

  it('refuses a policy in conflict with itself with a clear 400', async () => {
    const { broker, rootToken } = await node();
    const res = await broker.handle(
      request('POST', '/v1/secrets', {
        token: rootToken,
        body: { name: 's', expiration: { ttl: '1h', expiresAt: '2030-01-01T00:00:00Z' } },
      }),
    );
    expect(res.status).toBe(400);
    expect(res.body).toContain('give expiresAt or ttl, not both');
  });

  it('refuses an expired secret on the Secrets Manager-compatible API as InvalidRequestException', async () => {
    const { broker, rootToken, clock } = await node();
    await broker.handle(
      request('POST', '/v1/secrets', { token: rootToken, body: { name: 's', value: 'v', expiration: { ttl: '1h' } } }),
    );
    clock.time += HOUR;
    const res = await broker.handle({
      ...request('POST', '/v1/aws/secretsmanager', { token: rootToken, body: { SecretId: 's' } }),
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
        'x-coffer-token': rootToken,
      },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      __type: 'InvalidRequestException',
      message: 'secret s has expired: its expiration time passed at ' + new Date(clock.time).toISOString(),
    });
  });
});
