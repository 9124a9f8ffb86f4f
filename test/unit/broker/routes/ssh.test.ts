import { describe, expect, it } from 'vitest';
import { SealedCaKeyStore } from '../../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import { SshService } from '../../../../lambdas/engines/ssh/ssh-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';
import { FakeDatabaseProvider, unusedAwsProvider, unusedOAuthProvider } from '../../core/leases/fake-provider.ts';

type Body = Record<string, unknown> & { error?: { code: string; message: string } };
/** A user's public key (public: nothing secret in a fixture). */
const USER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIElmPHiO0G74ULwhGMdaA2ZGJEY/pja+6ocZ04gf7ZNE alice@laptop';

async function sshNode() {
  const node = await memoryNode();
  const { store } = node;
  const clock = node.deps.clock;
  const keyProvider = new FakeKeyProvider();
  const ssh = new SshService({
    store,
    clock,
    caKeys: new SealedCaKeyStore({ store, keyProvider, clock }),
    keyProvider,
  });
  const leases = new LeaseService({
    store,
    clock,
    providers: { database: new FakeDatabaseProvider(), aws: unusedAwsProvider, ssh, oauth: unusedOAuthProvider },
  });
  const broker = new Broker({ ...node.deps, ssh, leases }, nativeRoutes(), () => {});
  const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const res = await broker.handle(request(method, path, { token, body }));
    if (res.bytes !== undefined) {
      return { status: res.status, body: {} as Body, text: res.bytes.toString('utf8'), headers: res.headers };
    }
    return { status: res.status, body: res.body === '' ? {} : (JSON.parse(res.body) as Body), headers: res.headers };
  };
  return { ...node, call };
}

describe('SSH routes', () => {
  it("serves the CA's public key and the revoked keys as text without a token, once there is a CA", async () => {
    const { call, rootToken } = await sshNode();
    expect((await call('GET', '/v1/ssh/public_key', undefined)).status).toBe(404);
    const created = await call('POST', '/v1/ssh/config/ca', rootToken, {});
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ key_type: 'ed25519', key_store: 'engine' });
    const published = await call('GET', '/v1/ssh/public_key', undefined);
    expect(published.headers['content-type']).toMatch(/^text\/plain/);
    expect(published.text).toBe(`${created.body.public_key}\n`);
    const revoked = await call('GET', '/v1/ssh/revoked_keys', undefined);
    expect(revoked.status).toBe(200);
    expect(revoked.text).toBe('');
    expect((await call('POST', '/v1/ssh/config/ca', rootToken, {})).status).toBe(409);
  });

  it('sends each kind of role to its own route', async () => {
    const { call, rootToken } = await sshNode();
    await call('POST', '/v1/ssh/config/ca', rootToken, { key_type: 'ec-p256' });
    await call('PUT', '/v1/ssh/roles/dev', rootToken, { key_type: 'ca', default_user: 'dev-alice' });
    await call('PUT', '/v1/ssh/roles/hosts', rootToken, {
      key_type: 'otp',
      default_user: 'deploy',
      cidr_list: ['10.0.0.0/8'],
    });
    const wrongSign = await call('POST', '/v1/ssh/sign/hosts', rootToken, { public_key: USER_KEY });
    expect(wrongSign.status).toBe(400);
    expect(wrongSign.body.error?.message).toBe('role hosts issues one-time passwords: use /v1/ssh/creds/hosts');
    const wrongCreds = await call('POST', '/v1/ssh/creds/dev', rootToken, { ip: '10.0.0.1' });
    expect(wrongCreds.status).toBe(400);
    expect(wrongCreds.body.error?.message).toBe('role dev signs certificates: use /v1/ssh/sign/dev');
    const signed = await call('POST', '/v1/ssh/sign/dev', rootToken, {
      public_key: USER_KEY,
      valid_principals: 'dev-alice',
    });
    expect(signed.status).toBe(200);
    expect(signed.body).toMatchObject({ kind: 'ssh', renewable: false, leaseDuration: 1800 });
    expect(String(signed.body.signed_key)).toMatch(/^ssh-ed25519-cert-v01@openssh\.com /);
    const beyond = await call('POST', '/v1/ssh/sign/dev', rootToken, {
      public_key: USER_KEY,
      valid_principals: ['root'],
    });
    expect(beyond.status).toBe(403);
  });

  it('keeps one-time passwords out of the audit log (HMAC in the answer and in the verification)', async () => {
    const { call, rootToken, sink } = await sshNode();
    await call('PUT', '/v1/ssh/roles/hosts', rootToken, {
      key_type: 'otp',
      default_user: 'deploy',
      cidr_list: ['10.0.0.0/8'],
    });
    const issued = await call('POST', '/v1/ssh/creds/hosts', rootToken, { ip: '10.0.0.1' });
    expect(issued.status).toBe(200);
    const otp = String(issued.body.key);
    const verified = await call('POST', '/v1/ssh/verify', rootToken, { otp });
    expect(verified.body).toEqual({ username: 'deploy', ip: '10.0.0.1', role_name: 'hosts' });
    expect((await call('POST', '/v1/ssh/verify', rootToken, { otp })).status).toBe(400);
    expect(sink.lines.join('\n')).not.toContain(otp);
    const response = sink.records().find((r) => r.operation === 'ssh.creds' && r.type === 'response');
    expect(JSON.stringify(response)).toMatch(/"key":"hmac-sha256:/);
  });
});
