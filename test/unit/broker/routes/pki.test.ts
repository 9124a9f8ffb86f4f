import { describe, expect, it } from 'vitest';
import { SealedCaKeyStore } from '../../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { PkiService } from '../../../../lambdas/engines/pki/pki-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

type Body = Record<string, unknown> & { error?: { code: string; message: string } };

async function pkiNode() {
  const node = await memoryNode();
  const keyProvider = new FakeKeyProvider();
  const caKeys = new SealedCaKeyStore({ store: node.store, keyProvider, clock: node.deps.clock });
  const pki = new PkiService({
    store: node.store,
    keyProvider,
    caKeys,
    clock: node.deps.clock,
    publicUrl: 'https://coffer.example.test',
  });
  const broker = new Broker({ ...node.deps, pki }, nativeRoutes(), () => {});
  const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const res = await broker.handle(request(method, path, { token, body }));
    if (res.bytes !== undefined) return { status: res.status, body: {} as Body, raw: res.bytes, headers: res.headers };
    return { status: res.status, body: res.body === '' ? {} : (JSON.parse(res.body) as Body), headers: res.headers };
  };
  return { ...node, broker, call };
}

describe('PKI routes', () => {
  it('serves the whole flow, HMACs private keys in the audit log, and serves CA and CRL without a token', async () => {
    const { call, rootToken, sink } = await pkiNode();
    expect((await call('GET', '/v1/pki/ca', undefined)).status).toBe(400);
    expect((await call('POST', '/v1/pki/root/generate', rootToken, { common_name: 'Root', ttl: '8760h' })).status).toBe(
      201,
    );
    const inter = await call('POST', '/v1/pki/intermediate/generate', rootToken, {
      common_name: 'Intermediate',
      sign_with_root: true,
      ttl: '4380h',
    });
    expect(inter.status).toBe(201);
    expect(inter.body.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const role = await call('PUT', '/v1/pki/roles/web', rootToken, {
      allowed_domains: ['example.com'],
      allow_subdomains: true,
      max_ttl: '24h',
    });
    expect(role.body).toMatchObject({ name: 'web', max_ttl: 86_400, key_type: 'ec-p256' });
    const issued = await call('POST', '/v1/pki/issue/web', rootToken, {
      common_name: 'a.example.com',
      alt_names: 'b.example.com, c.example.com',
      ttl: '1h',
    });
    expect(issued.status).toBe(200);
    const privateKey = String(issued.body.private_key);
    expect(privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const ca = await call('GET', '/v1/pki/ca', undefined);
    expect(ca.body.ca_chain).toHaveLength(2);
    const revoked = await call('POST', '/v1/pki/revoke', rootToken, { serial_number: issued.body.serial_number });
    const der = await call('GET', '/v1/pki/crl', undefined);
    expect(der.status).toBe(200);
    expect(der.headers['content-type']).toBe('application/pkix-crl');
    expect(der.raw?.[0]).toBe(0x30); // a DER SEQUENCE
    const crl = await call('GET', '/v1/pki/crl/info', undefined);
    expect(crl.status).toBe(200);
    expect(crl.body.crl).toMatch(/^-----BEGIN X509 CRL-----/);
    expect(crl.body.crl_number).toBe(revoked.body.crl_number);

    const audit = sink.lines.join('\n');
    const keyBody = privateKey.split('\n')[1]!;
    expect(audit).not.toContain(keyBody);
    const issueResponse = sink.records().find((r) => r.operation === 'pki.issue' && r.type === 'response');
    expect((issueResponse as { response?: Record<string, unknown> }).response?.private_key).toMatch(/^hmac-sha256:/);
  });

  it('checks policy paths: issue under one role does not grant another, or revoke', async () => {
    const { call, rootToken } = await pkiNode();
    await call('POST', '/v1/pki/root/generate', rootToken, { common_name: 'Root' });
    await call('PUT', '/v1/pki/roles/web', rootToken, { allowed_domains: ['example.com'], allow_subdomains: true });
    await call('PUT', '/v1/pki/roles/db', rootToken, { allowed_domains: ['db.internal'], allow_subdomains: true });
    await call('PUT', '/v1/sys/policies/web-issuer', rootToken, {
      rules: [{ path: 'pki/issue/web', capabilities: ['update'] }],
    });
    const child = await call('POST', '/v1/auth/token/create', rootToken, { policies: ['web-issuer'] });
    const token = String(child.body.token);
    expect((await call('POST', '/v1/pki/issue/web', token, { common_name: 'a.example.com' })).status).toBe(200);
    expect((await call('POST', '/v1/pki/issue/db', token, { common_name: 'x.db.internal' })).status).toBe(403);
    expect((await call('POST', '/v1/pki/revoke', token, { serial_number: 'aa' })).status).toBe(403);
    expect((await call('POST', '/v1/pki/root/generate', token, { common_name: 'Evil Root' })).status).toBe(403);
  });

  it('maps refusals to statuses: foreign name 403, TTL beyond max 400, unknown role 404', async () => {
    const { call, rootToken } = await pkiNode();
    await call('POST', '/v1/pki/root/generate', rootToken, { common_name: 'Root' });
    await call('PUT', '/v1/pki/roles/web', rootToken, { allowed_domains: ['example.com'], allow_subdomains: true });
    const foreign = await call('POST', '/v1/pki/issue/web', rootToken, { common_name: 'evil.org' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error?.message).toContain('name "evil.org" is not allowed by the role');
    const long = await call('POST', '/v1/pki/issue/web', rootToken, { common_name: 'a.example.com', ttl: '1000h' });
    expect(long.status).toBe(400);
    expect(long.body.error?.message).toContain("exceeds the role's max_ttl");
    expect((await call('POST', '/v1/pki/issue/nope', rootToken, { common_name: 'a.example.com' })).status).toBe(404);
    const badRole = await call('PUT', '/v1/pki/roles/bad', rootToken, { key_type: 'rsa-1024' });
    expect(badRole.status).toBe(400);
  });
});
