import { describe, expect, it } from 'vitest';
import { Broker } from '../../../lambdas/broker/broker.ts';
import type { BrokerRequest } from '../../../lambdas/broker/http-types.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { IamPrincipalService } from '../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { AccessKeyService, accessKeyPrincipal } from '../../../lambdas/core/auth/sigv4/access-key-service.ts';
import type { SigV4Verifier } from '../../../lambdas/core/auth/sigv4/sigv4-verifier.ts';
import type { PolicyRule } from '../../../lambdas/core/policy/policy-types.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/**
 * Security issue #11: a credential derived from another (child token, access key, IAM mapping) never does more than
 * its creator, and never takes an identity its creator could not act as.
 */

const ROLE_ALICE = 'arn:aws:iam::123456789012:role/alice';
const SESSION_ALICE = 'arn:aws:sts::123456789012:assumed-role/alice/i-0abc';
const SECRET_INPUT = 'do-not-echo-this-secret-0123456789';

interface Reply {
  status: number;
  body: Record<string, unknown> & { error?: { message: string } };
}

/**
 * A broker on in-memory adapters with access keys and IAM callers. Signature checking is not the subject here (the
 * verifier has its own tests), so a stand-in verifier trusts the key id in the Authorization header; everything after
 * it (policies, ceilings, audit) is the real broker.
 */
async function derivedNode() {
  const node = await memoryNode();
  const { store, clock } = { store: node.store, clock: node.deps.clock };
  const accessKeys = new AccessKeyService({ store, keyProvider: new FakeKeyProvider(), clock, cacheTtlMs: 0 });
  const iamPrincipals = new IamPrincipalService({ store, clock, cacheTtlMs: 0 });
  const sigv4 = {
    async verify(req: BrokerRequest) {
      const id = /Credential=([A-Za-z0-9]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
      return { principal: accessKeyPrincipal(await accessKeys.get(id)), region: 'local' };
    },
  } as unknown as SigV4Verifier;
  const deps = {
    ...node.deps,
    accessKeys,
    iamPrincipals,
    resolveIamPrincipal: (arn: string) => iamPrincipals.resolve(arn),
    sigv4,
  };
  const broker = new Broker(deps, nativeRoutes(), () => {});
  const reply = async (req: BrokerRequest): Promise<Reply> => {
    const res = await broker.handle(req);
    return { status: res.status, body: res.body.length === 0 ? {} : JSON.parse(res.body) };
  };
  const as = (token: string, method: string, path: string, body?: unknown) =>
    reply(request(method, path, { token, body }));
  const asKey = (accessKeyId: string, method: string, path: string) => {
    const req = request(method, path);
    const authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20300101/local/coffer/aws4_request, SignedHeaders=host, Signature=00`;
    return reply({ ...req, headers: { ...req.headers, authorization } });
  };
  const asIam = (arn: string, method: string, path: string) => reply({ ...request(method, path), iamArn: arn });
  const root = (method: string, path: string, body?: unknown) => as(node.rootToken, method, path, body);
  const putPolicy = async (name: string, rules: PolicyRule[]) => {
    expect((await root('PUT', `/v1/sys/policies/${name}`, { rules })).status).toBeLessThan(300);
  };
  const putSecret = async (name: string) => {
    expect((await root('PUT', `/v1/secret/data/${name}`, { value: 'v' })).status).toBeLessThan(300);
  };
  /** A token issued by root, acting as `identity`. */
  const issue = async (policies: string[], identity: { name: string; metadata?: Record<string, string> }) => {
    const created = await root('POST', '/v1/auth/token/create', { policies, identity });
    expect(created.status).toBe(201);
    return created.body.token as string;
  };
  return { ...node, broker, accessKeys, as, asKey, asIam, root, putPolicy, putSecret, issue };
}

type DerivedNode = Awaited<ReturnType<typeof derivedNode>>;

/** `app-read` reads secrets/app/*; `no-prod` vetoes secrets/app/prod/*: dropping it must not lift the veto. */
async function appPolicies(node: DerivedNode) {
  await node.putPolicy('app-read', [{ path: 'secrets/app/*', capabilities: ['read'] }]);
  await node.putPolicy('no-prod', [{ path: 'secrets/app/prod/*', capabilities: ['deny'] }]);
  await node.putSecret('app/dev/db');
  await node.putSecret('app/prod/db');
}

describe('Derived credentials never exceed their creator (issue #11)', () => {
  describe('child tokens', () => {
    it("cannot take another user's name or team through displayName/meta; the audit log names the creator", async () => {
      const node = await derivedNode();
      await node.putPolicy('users', [
        { path: 'secrets/users/{{principal.name}}/*', capabilities: ['create', 'read', 'update'] },
        { path: 'secrets/teams/{{principal.metadata.team}}/*', capabilities: ['create', 'read', 'update'] },
        { path: 'auth/token/create', capabilities: ['create'] },
      ]);
      for (const name of ['users/alice/x', 'teams/red/x', 'users/bob/x']) await node.putSecret(name);
      const bob = await node.issue(['users'], { name: 'bob', metadata: { team: 'blue' } });

      const created = await node.as(bob, 'POST', '/v1/auth/token/create', {
        displayName: 'alice',
        meta: { team: 'red' },
      });
      expect(created.status).toBe(201);
      const child = created.body.token as string;

      for (const name of ['users/alice/x', 'teams/red/x']) {
        expect((await node.as(child, 'GET', `/v1/secret/data/${name}`)).status).toBe(403);
        expect((await node.as(child, 'PUT', `/v1/secret/data/${name}`, { value: 'overwritten' })).status).toBe(403);
      }
      expect((await node.as(child, 'GET', '/v1/secret/data/users/bob/x')).status).toBe(200);
      expect((await node.as(child, 'GET', '/v1/secret/data/teams/blue/y')).status).toBe(404);

      // Lookups show the labels as labels and the identity separately.
      const self = await node.as(child, 'GET', '/v1/auth/token/lookup-self');
      expect(self.body).toMatchObject({
        displayName: 'alice',
        meta: { team: 'red' },
        identity: { name: 'bob', metadata: { team: 'blue' } },
      });

      const names = node.sink
        .records()
        .map((record) => record.principal?.displayName)
        .filter((name) => name !== undefined);
      expect(names).not.toContain('alice');
      expect(names).toContain('bob');
    });

    it("cannot shed its parent's deny by dropping the policy that holds it", async () => {
      const node = await derivedNode();
      await appPolicies(node);
      await node.putPolicy('minter', [{ path: 'auth/token/create', capabilities: ['create'] }]);
      const parent = await node.issue(['app-read', 'minter', 'no-prod'], { name: 'ops' });
      expect((await node.as(parent, 'GET', '/v1/secret/data/app/prod/db')).status).toBe(403);

      const created = await node.as(parent, 'POST', '/v1/auth/token/create', { policies: ['app-read', 'minter'] });
      expect(created.status).toBe(201);
      const child = created.body.token as string;
      expect((await node.as(child, 'GET', '/v1/secret/data/app/dev/db')).status).toBe(200);
      expect((await node.as(child, 'GET', '/v1/secret/data/app/prod/db')).status).toBe(403);

      // Nor can the grandchild, however far down the chain.
      const grandchild = (await node.as(child, 'POST', '/v1/auth/token/create', { policies: ['app-read'] })).body
        .token as string;
      expect((await node.as(grandchild, 'GET', '/v1/secret/data/app/prod/db')).status).toBe(403);
      expect((await node.as(grandchild, 'GET', '/v1/secret/data/app/dev/db')).status).toBe(200);
    });

    it('refuses policies the parent lacks and another identity, with 403', async () => {
      const node = await derivedNode();
      await node.putPolicy('minter', [{ path: 'auth/token/create', capabilities: ['create'] }]);
      const parent = await node.issue(['minter'], { name: 'ops' });
      const more = await node.as(parent, 'POST', '/v1/auth/token/create', { policies: ['minter', 'root'] });
      expect(more.status).toBe(403);
      expect(more.body.error?.message).toContain('root');
      const other = await node.as(parent, 'POST', '/v1/auth/token/create', { identity: { name: 'alice' } });
      expect(other.status).toBe(403);
    });
  });

  describe('access keys', () => {
    async function keyAdmin(node: DerivedNode) {
      await appPolicies(node);
      await node.putPolicy('key-admin', [{ path: 'sys/access-keys', capabilities: ['sudo', 'list'] }]);
      return node.issue(['app-read', 'key-admin', 'no-prod'], { name: 'ops', metadata: { team: 'blue' } });
    }

    it('a sudo-only creator cannot give a key root or any policy it lacks', async () => {
      const node = await derivedNode();
      const admin = await keyAdmin(node);
      for (const policies of [['root'], ['app-read', 'billing']]) {
        const res = await node.as(admin, 'POST', '/v1/sys/access-keys', { policies });
        expect(res.status).toBe(403);
        expect(res.body.error?.message).toContain(policies.at(-1));
      }
      const imported = await node.as(admin, 'POST', '/v1/sys/access-keys', {
        policies: ['root'],
        accessKeyId: 'IMPORTED1',
        secretAccessKey: SECRET_INPUT,
      });
      expect(imported.status).toBe(403);
      expect(JSON.stringify(imported.body)).not.toContain(SECRET_INPUT);
      expect(JSON.stringify(node.sink.records())).not.toContain(SECRET_INPUT);
      expect((await node.accessKeys.list()).length).toBe(0);
    });

    it('a non-root creator can only create keys for its own identity; naming another needs root', async () => {
      const node = await derivedNode();
      const admin = await keyAdmin(node);
      const other = await node.as(admin, 'POST', '/v1/sys/access-keys', { principal: 'ci', policies: ['app-read'] });
      expect(other.status).toBe(403);
      const otherImport = await node.as(admin, 'POST', '/v1/sys/access-keys', {
        principal: 'ci',
        accessKeyId: 'IMPORTED2',
        secretAccessKey: SECRET_INPUT,
      });
      expect(otherImport.status).toBe(403);

      const own = await node.as(admin, 'POST', '/v1/sys/access-keys', { policies: ['app-read'] });
      expect(own.status).toBe(201);
      expect(own.body).toMatchObject({ principal: 'ops', metadata: { team: 'blue' }, policies: ['app-read'] });
      expect(own.body).not.toHaveProperty('ceilings');

      const byRoot = await node.root('POST', '/v1/sys/access-keys', { principal: 'ci', policies: ['root'] });
      expect(byRoot.status).toBe(201);
      expect(byRoot.body).toMatchObject({ principal: 'ci', policies: ['root'] });
    });

    it("a key's effective access stays within its creator's", async () => {
      const node = await derivedNode();
      const admin = await keyAdmin(node);
      const created = await node.as(admin, 'POST', '/v1/sys/access-keys', { policies: ['app-read'] });
      const id = created.body.accessKeyId as string;
      expect((await node.asKey(id, 'GET', '/v1/secret/data/app/dev/db')).status).toBe(200);
      expect((await node.asKey(id, 'GET', '/v1/secret/data/app/prod/db')).status).toBe(403);
    });
  });

  describe('IAM mappings', () => {
    async function mappingAdmin(node: DerivedNode, extra: string[] = []) {
      await appPolicies(node);
      await node.putPolicy('iam-admin', [{ path: 'auth/iam/mappings', capabilities: ['sudo', 'read'] }]);
      return node.issue(['app-read', 'iam-admin', 'no-prod', ...extra], { name: 'ops' });
    }

    it('a sudo-only creator cannot map callers to root or any policy it lacks', async () => {
      const node = await derivedNode();
      const admin = await mappingAdmin(node);
      for (const policies of [['root'], ['app-read', 'billing']]) {
        const res = await node.as(admin, 'PUT', '/v1/auth/iam/mappings', { pattern: ROLE_ALICE, policies });
        expect(res.status).toBe(403);
        expect(res.body.error?.message).toContain(policies.at(-1));
      }
      expect((await node.asIam(SESSION_ALICE, 'GET', '/v1/secret/data/app/dev/db')).status).toBe(401);
      const ok = await node.as(admin, 'PUT', '/v1/auth/iam/mappings', { pattern: ROLE_ALICE, policies: ['app-read'] });
      expect(ok.status).toBe(200);
    });

    it("a mapped caller's effective access stays within the mapping creator's, templates included", async () => {
      const node = await derivedNode();
      await node.putPolicy('by-role', [
        { path: 'secrets/roles/{{principal.metadata.roleName}}/*', capabilities: ['read'] },
      ]);
      await node.putSecret('roles/alice/x');
      const admin = await mappingAdmin(node, ['by-role']);
      const ok = await node.as(admin, 'PUT', '/v1/auth/iam/mappings', {
        pattern: ROLE_ALICE,
        policies: ['app-read', 'by-role'],
      });
      expect(ok.status).toBe(200);
      expect((await node.asIam(SESSION_ALICE, 'GET', '/v1/secret/data/app/dev/db')).status).toBe(200);
      expect((await node.asIam(SESSION_ALICE, 'GET', '/v1/secret/data/app/prod/db')).status).toBe(403);
      // The creator has no role name, so it could not read this; a role it maps cannot either.
      expect((await node.asIam(SESSION_ALICE, 'GET', '/v1/secret/data/roles/alice/x')).status).toBe(403);

      // The same mapping made by root gives the role its own templated access.
      await node.root('PUT', '/v1/auth/iam/mappings', { pattern: ROLE_ALICE, policies: ['by-role'] });
      expect((await node.asIam(SESSION_ALICE, 'GET', '/v1/secret/data/roles/alice/x')).status).toBe(200);
    });
  });
});
