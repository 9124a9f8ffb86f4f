import { describe, expect, it } from 'vitest';
import { MemoryRateLimitCounters } from '../../../lambdas/adapters/local/rate-limits/memory-rate-limit-counters.ts';
import { Broker } from '../../../lambdas/broker/broker.ts';
import type { BrokerRequest } from '../../../lambdas/broker/http-types.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import type { AppRoleMethod } from '../../../lambdas/core/auth/approle/approle-method.ts';
import type { AppRoleRole } from '../../../lambdas/core/auth/approle/approle-types.ts';
import { AuthMountService } from '../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../../lambdas/core/auth/methods/registry.ts';
import { LoginLockout } from '../../../lambdas/core/quota/login-lockout.ts';
import { QuotaService } from '../../../lambdas/core/quota/quota-service.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/** A memory node with quotas and auth mounts (with lockout) on one clock the test moves. */
async function limitedNode() {
  const clock = {
    t: 1_700_000_000_000,
    now() {
      return this.t;
    },
  };
  const node = await memoryNode(clock);
  const { store, deps } = node;
  const counters = new MemoryRateLimitCounters();
  const hmac = (value: string) => deps.audit.hmac(value);
  const quotas = new QuotaService({ store, clock, counters, hmac, refreshMs: 0 });
  const authMounts = new AuthMountService({
    store,
    clock,
    methods: buildAuthMethods({ store, clock }),
    tokens: deps.tokens,
    lockout: new LoginLockout({ counters, hmac }),
  });
  const broker = new Broker({ ...deps, quotas, authMounts }, nativeRoutes(), () => {});
  return { ...node, broker, clock, quotas, authMounts };
}

function aws(operation: string, body: unknown, token: string): BrokerRequest {
  return {
    method: 'POST',
    rawPath: '/',
    query: {},
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `secretsmanager.${operation}`,
      'x-coffer-token': token,
    },
    body: Buffer.from(JSON.stringify(body)),
    sourceIp: '127.0.0.1',
  };
}

describe('Broker: rate-limit quotas', () => {
  it('answers 429 with Retry-After past the quota, audits the refusal as rate_limited, and runs nothing', async () => {
    const { broker, rootToken, sink, clock } = await limitedNode();
    const put = await broker.handle(
      request('POST', '/v1/sys/quotas/rate-limit/secrets', {
        token: rootToken,
        body: { path: 'secrets/', rate: 2, interval: '10s', per: 'principal' },
      }),
    );
    expect(put.status).toBe(200);
    expect(JSON.parse(put.body)).toMatchObject({ name: 'secrets', type: 'rate-limit', interval: 10, burst: 2 });
    for (const value of ['a', 'b']) {
      const ok = await broker.handle(request('PUT', '/v1/secret/data/app/x', { token: rootToken, body: { value } }));
      expect(ok.status).toBe(200);
    }
    const refused = await broker.handle(
      request('PUT', '/v1/secret/data/app/x', { token: rootToken, body: { value: 'c' } }),
    );
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    const error = JSON.parse(refused.body).error;
    expect(error.code).toBe('throttled');
    expect(error.message).toMatch(/quota secrets allows 2 requests under secrets\/ per 10s .*retry after 5s/);
    const get = await broker.handle(request('GET', '/v1/secret/data/app/x', { token: rootToken }));
    expect(get.status).toBe(429);
    clock.t += 5_000;
    const later = await broker.handle(request('GET', '/v1/secret/data/app/x', { token: rootToken }));
    expect(JSON.parse(later.body).value).toBe('b');

    const records = sink.records().filter((r) => r.requestId === refused.headers['x-request-id']);
    expect(records.map((r) => r.type)).toEqual(['response']);
    expect(records[0]).toMatchObject({
      outcome: 'denied',
      status: 429,
      errorCode: 'throttled',
      denied: { path: 'secrets/app/x', reason: 'rate_limited' },
    });
  });

  it('answers the Secrets Manager API with HTTP 400 ThrottlingException, as AWS does', async () => {
    const { broker, rootToken, quotas } = await limitedNode();
    await quotas.put('sm', { path: 'secrets/', rate: 1, interval: 60, per: 'global' });
    await broker.handle(aws('CreateSecret', { Name: 'app/y', SecretString: 'v' }, rootToken));
    const refused = await broker.handle(aws('GetSecretValue', { SecretId: 'app/y' }, rootToken));
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ __type: 'ThrottlingException' });
    expect(refused.headers['retry-after']).toBe('60');
  });

  it('limits logins before their credential is looked at: the quota of an auth mount applies per source', async () => {
    const { broker, rootToken, quotas } = await limitedNode();
    await broker.handle(request('POST', '/v1/sys/auth/approle', { token: rootToken, body: { type: 'approle' } }));
    await quotas.put('logins', { path: 'auth/approle/', rate: 1, interval: 60, per: 'source' });
    const login = (sourceIp: string) =>
      broker.handle({
        ...request('POST', '/v1/auth/approle/login', { body: { role_id: 'x', secret_id: 'y' } }),
        sourceIp,
      });
    expect((await login('10.0.0.1')).status).toBe(403);
    expect((await login('10.0.0.1')).status).toBe(429);
    expect((await login('10.0.0.2')).status).toBe(403);
  });
});

describe('Broker: login lockout', () => {
  it('locks out a role id after 5 failures from one address, refuses even the right secret id, and audits locked_out', async () => {
    const { broker, rootToken, authMounts, deps, sink, clock } = await limitedNode();
    await authMounts.enable('approle', { type: 'approle' });
    const root = deps.tokens.toPrincipal(await deps.tokens.authenticate(rootToken));
    await authMounts.putRole(root, 'approle', 'ci', { token_policies: ['default'] });
    const approle = await authMounts.mountOf('approle', 'approle');
    const role = (await authMounts.storedRole('approle', 'ci')) as AppRoleRole;
    const { secretId } = await (approle.method as unknown as AppRoleMethod).generateSecretId(
      approle.mount as never,
      'ci',
      role,
      {},
    );
    const login = (secret: string, sourceIp = '10.0.0.9') =>
      broker.handle({
        ...request('POST', '/v1/auth/approle/login', { body: { role_id: role.role_id, secret_id: secret } }),
        sourceIp,
      });

    for (let i = 0; i < 5; i++) expect((await login(`wrong-${i}`)).status).toBe(403);
    const locked = await login(secretId);
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('900');
    expect(JSON.parse(locked.body).error.message).toContain('locked out');
    expect(locked.body).not.toContain(role.role_id as string);
    // Another address is not locked out by someone else's guessing.
    expect((await login(secretId, '10.0.0.10')).status).toBe(200);

    const record = sink.records().find((r) => r.requestId === locked.headers['x-request-id'] && r.type === 'response');
    expect(record).toMatchObject({
      outcome: 'denied',
      status: 429,
      denied: { path: 'auth/approle/login', reason: 'locked_out' },
    });
    expect(JSON.stringify(sink.records())).not.toContain(role.role_id as string);

    clock.t += 900_000;
    expect((await login(secretId)).status).toBe(200);
  });

  it('does not lock out a JWT mount (a signed token is not guessed), and refuses a lockout config for it', async () => {
    const { broker, rootToken } = await limitedNode();
    const config = { jwks_url: 'https://issuer.example/jwks', bound_issuer: 'https://issuer.example' };
    const refused = await broker.handle(
      request('POST', '/v1/sys/auth/jwt', {
        token: rootToken,
        body: { type: 'jwt', config, user_lockout_config: { lockout_threshold: 2 } },
      }),
    );
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error.message).toContain('applies to approle, ldap, userpass mounts only');
    const enabled = await broker.handle(
      request('POST', '/v1/sys/auth/jwt', { token: rootToken, body: { type: 'jwt', config } }),
    );
    expect(enabled.status, enabled.body).toBe(201);
    for (let i = 0; i < 8; i++) {
      const res = await broker.handle(
        request('POST', '/v1/auth/jwt/login', { body: { role: 'ci', jwt: `junk.${i}.x` } }),
      );
      expect(res.status).not.toBe(429);
    }
  });

  it("tunes a mount's lockout: a lower threshold locks sooner, and the mount shows it", async () => {
    const { broker, rootToken } = await limitedNode();
    await broker.handle(request('POST', '/v1/sys/auth/approle', { token: rootToken, body: { type: 'approle' } }));
    const tuned = await broker.handle(
      request('POST', '/v1/sys/auth/approle/tune', {
        token: rootToken,
        body: { user_lockout_config: { lockout_threshold: 2, lockout_duration: '1m' } },
      }),
    );
    expect(tuned.status).toBe(200);
    expect(JSON.parse(tuned.body).user_lockout_config).toEqual({ lockout_threshold: 2, lockout_duration: '1m' });
    const bad = await broker.handle(
      request('POST', '/v1/sys/auth/approle/tune', {
        token: rootToken,
        body: { user_lockout_config: { lockout_duration: 'forever' } },
      }),
    );
    expect(bad.status).toBe(400);
    const login = () =>
      broker.handle(request('POST', '/v1/auth/approle/login', { body: { role_id: 'r', secret_id: 's' } }));
    expect([(await login()).status, (await login()).status]).toEqual([403, 403]);
    const locked = await login();
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('60');
  });

  it('does not lock out a mount enabled with lockout_disable', async () => {
    const { broker, rootToken } = await limitedNode();
    await broker.handle(
      request('POST', '/v1/sys/auth/open', {
        token: rootToken,
        body: { type: 'approle', user_lockout_config: { lockout_disable: true } },
      }),
    );
    for (let i = 0; i < 8; i++) {
      const res = await broker.handle(
        request('POST', '/v1/auth/open/login', { body: { role_id: 'r', secret_id: `s${i}` } }),
      );
      expect(res.status).toBe(403);
    }
  });
});
