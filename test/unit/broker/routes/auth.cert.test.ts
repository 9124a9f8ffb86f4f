import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { AuthMountService } from '../../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../../../lambdas/core/auth/methods/registry.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';
import { makeCa } from '../../core/auth/cert/cert-test-ca.ts';

/** A node with a cert mount whose two roles trust one CA and grant different policies. */
async function certNode() {
  const node = await memoryNode();
  const { store, deps } = node;
  const revoked = new Set<string>();
  const authMounts = new AuthMountService({
    store,
    clock: deps.clock,
    methods: buildAuthMethods({
      store,
      clock: deps.clock,
      certificateRevocation: {
        revocationStatus: async (der) => (revoked.has(Buffer.from(der).toString('hex')) ? 'revoked' : 'good'),
      },
    }),
    tokens: deps.tokens,
  });
  const broker = new Broker({ ...deps, authMounts }, nativeRoutes(), () => {});
  const ca = await makeCa(deps.clock.now());
  const call = async (
    method: string,
    path: string,
    options: Parameters<typeof request>[2] & { clientCertificate?: Uint8Array } = {},
  ) => {
    const { clientCertificate, ...rest } = options;
    const res = await broker.handle({
      ...request(method, path, rest),
      ...(clientCertificate === undefined ? {} : { clientCertificate: Buffer.from(clientCertificate) }),
    });
    return {
      status: res.status,
      body: res.body.length === 0 ? undefined : JSON.parse(res.body),
      requestId: res.headers['x-request-id'],
    };
  };
  const root = (method: string, path: string, body?: unknown) => call(method, path, { token: node.rootToken, body });
  await root('PUT', '/v1/sys/policies/app-read', { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] });
  await root('PUT', '/v1/sys/policies/other-read', { rules: [{ path: 'secrets/other/*', capabilities: ['read'] }] });
  await root('PUT', '/v1/secret/data/app/db', { value: 'the-app-password' });
  await root('PUT', '/v1/secret/data/other/db', { value: 'the-other-password' });
  expect((await root('POST', '/v1/sys/auth/cert', { type: 'cert' })).status).toBe(201);
  const put = (name: string, role: Record<string, unknown>) =>
    root('PUT', `/v1/auth/cert/role/${name}`, { certificate: ca.pem, ...role });
  expect((await put('app', { allowed_common_names: ['app.*'], token_policies: ['app-read'] })).status).toBe(200);
  expect((await put('other', { allowed_common_names: ['other.*'], token_policies: ['other-read'] })).status).toBe(200);
  const records = (requestId: string) => node.sink.records().filter((r) => r.requestId === requestId);
  return { ...node, ca, call, root, records, revoked };
}

describe('Routes: certificate login', () => {
  it('logs the verified client certificate in with the role that accepts it, named or found', async () => {
    const { ca, call, records } = await certNode();
    const app = await ca.issue({ subject: 'CN=app.internal' });
    const found = await call('POST', '/v1/auth/cert/login', { body: {}, clientCertificate: app.der });
    expect(found.status).toBe(200);
    expect(found.body.auth).toMatchObject({
      policies: ['app-read'],
      mount_type: 'cert',
      role_name: 'app',
      metadata: { cert_name: 'app', common_name: 'app.internal', serial_number: app.serial },
    });
    const token = found.body.auth.client_token as string;
    expect((await call('GET', '/v1/secret/data/app/db', { token })).status).toBe(200);
    expect((await call('GET', '/v1/secret/data/other/db', { token })).status).toBe(403);

    const named = await call('POST', '/v1/auth/cert/login', { body: { name: 'other' }, clientCertificate: app.der });
    expect(named.status).toBe(403);
    expect(named.body.error.message).toBe('common name not allowed by the role');
    expect(records(named.requestId!).at(-1)?.denied?.reason).toBe(
      'cert login at auth/cert (role other) refused: cert name: common name not allowed by the role',
    );
  });

  it('refuses a request without a client certificate, telling the caller to connect over mTLS, and audits it', async () => {
    const { call, records } = await certNode();
    const bare = await call('POST', '/v1/auth/cert/login', { body: {} });
    expect(bare.status).toBe(403);
    expect(bare.body.error.message).toBe('the login needs a TLS client certificate: connect over mTLS');
    expect(records(bare.requestId!).at(-1)).toMatchObject({ outcome: 'denied', denied: { path: 'auth/cert/login' } });
  });

  it('refuses a revoked certificate with an audit record', async () => {
    const { ca, call, records, revoked } = await certNode();
    const app = await ca.issue({ subject: 'CN=app.internal' });
    revoked.add(Buffer.from(app.der).toString('hex'));
    const refused = await call('POST', '/v1/auth/cert/login', { body: { name: 'app' }, clientCertificate: app.der });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe('certificate revoked');
    expect(records(refused.requestId!).at(-1)?.denied?.reason).toBe(
      'cert login at auth/cert (role app) refused: cert revoked: certificate revoked',
    );
  });
});
