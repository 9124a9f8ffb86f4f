import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { APPROLE_LOGIN_REFUSED } from '../../../../../lambdas/core/auth/approle/approle-method.ts';
import { GenerateSecretIdSchema } from '../../../../../lambdas/core/auth/approle/approle-types.ts';
import { AuthMountService } from '../../../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { LoginFailedError } from '../../../../../lambdas/core/auth/methods/login-error.ts';
import { buildAuthMethods } from '../../../../../lambdas/core/auth/methods/registry.ts';
import { TokenService } from '../../../../../lambdas/core/auth/token/token-service.ts';
import {
  AlreadyExistsError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../../../../lambdas/core/errors.ts';
import type { Principal } from '../../../../../lambdas/core/principal.ts';

const NOW = Date.UTC(2030, 0, 1);
const ROOT: Principal = { type: 'token', id: 'acc_root', displayName: 'root', policies: ['root'], metadata: {} };
const FROM = (sourceIp: string) => ({ sourceIp, now: NOW, requestId: 'r' });

function world() {
  const clock = { time: NOW, now: () => clock.time };
  const store = new MemoryStore();
  const tokens = new TokenService({ store, clock });
  const methods = buildAuthMethods({ store, clock });
  const mounts = new AuthMountService({ store, clock, methods, tokens });
  const approle = methods.approle;
  /** Enables AppRole at `path`, writes role `name` and issues a secret id. */
  async function roleWithSecret(
    role: Record<string, unknown> = {},
    secret: Record<string, unknown> = {},
    path = 'approle',
  ) {
    await mounts.enable(path, { type: 'approle' }).catch(() => undefined);
    await mounts.putRole(ROOT, path, 'ci', { token_policies: ['ci'], ...role });
    const { mount } = await mounts.mountOf(path, 'approle');
    const stored = (await mounts.storedRole(path, 'ci')) as never;
    const created = await approle.generateSecretId(mount as never, 'ci', stored, GenerateSecretIdSchema.parse(secret));
    const roleId = (stored as { role_id: string }).role_id;
    return { roleId, secretId: created.secretId, accessor: created.accessor, mount, stored };
  }
  return { clock, store, tokens, mounts, approle, roleWithSecret };
}

async function refusal(promise: Promise<unknown>): Promise<LoginFailedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoginFailedError);
  return err as LoginFailedError;
}

describe('AppRole: login', () => {
  it("mints an orphan token with the role's policies, TTLs, use count and metadata", async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret(
      { token_ttl: '10m', token_max_ttl: '1h', token_num_uses: 5 },
      { metadata: { host: 'build-1' } },
    );
    const { token, outcome, mount } = await w.mounts.login(
      'approle',
      { role_id: roleId, secret_id: secretId },
      FROM('10.0.0.1'),
    );
    expect(outcome).toMatchObject({ role: 'ci', policies: ['ci'], numUses: 5, ttlSeconds: 600, maxTtlSeconds: 3600 });
    expect(outcome.metadata).toEqual({ host: 'build-1', role_name: 'ci' });
    expect(token.record).toMatchObject({
      policies: ['ci'],
      orphan: true,
      ttlSeconds: 600,
      numUses: 5,
      expiresAt: NOW + 600_000,
      maxExpiresAt: NOW + 3_600_000,
      identity: { name: 'approle/ci', metadata: { host: 'build-1', role_name: 'ci' } },
      meta: { authMount: mount.id, role: 'ci' },
    });
    expect(token.record.parentAccessor).toBeUndefined();
    const authenticated = await w.tokens.authenticate(token.token);
    expect(authenticated.accessor).toBe(token.record.accessor);
    // Nothing the login returns holds the secret id.
    expect(JSON.stringify({ outcome, record: token.record })).not.toContain(secretId);
  });

  it('answers a wrong role id and a wrong secret id alike, with reasons only for the audit log', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret();
    const wrongRole = await refusal(
      w.mounts.login('approle', { role_id: 'nope-nope', secret_id: secretId }, FROM('10.0.0.1')),
    );
    const wrongSecret = await refusal(
      w.mounts.login('approle', { role_id: roleId, secret_id: 'x'.repeat(43) }, FROM('10.0.0.1')),
    );
    expect(wrongRole.message).toBe(APPROLE_LOGIN_REFUSED);
    expect(wrongSecret.message).toBe(wrongRole.message);
    expect(wrongRole).toBeInstanceOf(PermissionDeniedError);
    expect(wrongRole.denial).toEqual({
      path: 'auth/approle/login',
      capability: 'update',
      reason: 'approle login at auth/approle refused: unknown role id',
    });
    expect(wrongSecret.denial.reason).toBe('approle login at auth/approle (role ci) refused: unknown secret id');
  });

  it('refuses a malformed body naming fields, never values', async () => {
    const w = world();
    await w.roleWithSecret();
    const err = await w.mounts
      .login('approle', { role_id: 7, secret_id: 'hunter2-secret' }, FROM('10.0.0.1'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe('invalid login: check role_id');
    await expect(w.mounts.login('nowhere', {}, FROM('10.0.0.1'))).rejects.toThrow(
      /no auth method is mounted at nowhere/,
    );
  });

  it('spends secret id uses and refuses an exhausted one', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret({ secret_id_num_uses: 2 });
    const login = () => w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1'));
    await login();
    await login();
    const third = await refusal(login());
    expect(third.message).toBe(APPROLE_LOGIN_REFUSED);
    expect(third.auditReason).toBe('unknown secret id');
  });

  it('refuses an expired secret id and forgets it', async () => {
    const w = world();
    const { roleId, secretId, accessor, mount, stored } = await w.roleWithSecret({ secret_id_ttl: '1m' });
    w.clock.time = NOW + 60_000;
    const err = await refusal(w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1')));
    expect(err.auditReason).toBe('secret id expired');
    await expect(w.approle.lookupSecretIdAccessor(mount as never, 'ci', stored, accessor)).rejects.toThrow(
      NotFoundError,
    );
  });

  it('holds a secret id to its CIDRs and the role to its secret_id_bound_cidrs', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret(
      { secret_id_bound_cidrs: ['10.0.0.0/8'] },
      { cidr_list: ['10.1.0.0/16'] },
    );
    const from = (ip: string) => w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM(ip));
    expect((await refusal(from('192.168.1.1'))).auditReason).toMatch(/secret_id_bound_cidrs/);
    expect((await refusal(from('10.2.0.1'))).auditReason).toMatch(/cidr_list/);
    expect((await refusal(from('unknown'))).message).toBe(APPROLE_LOGIN_REFUSED);
    await expect(from('10.1.2.3')).resolves.toBeDefined();
    await expect(from('::ffff:10.1.2.3')).resolves.toBeDefined();
  });

  it('binds the token to token_bound_cidrs: it authenticates only from there', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret({ token_bound_cidrs: ['10.0.0.0/8'] });
    const { token } = await w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('192.168.0.9'));
    expect(token.record.boundCidrs).toEqual(['10.0.0.0/8']);
    await expect(w.tokens.authenticate(token.token, '10.3.4.5')).resolves.toBeDefined();
    await expect(w.tokens.authenticate(token.token, '192.168.0.9')).rejects.toThrow('invalid or expired token');
    await expect(w.tokens.authenticate(token.token)).rejects.toThrow('invalid or expired token');
  });

  it('lets exactly num_uses of many concurrent logins through: no double spend', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret({ secret_id_num_uses: 3 });
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, () =>
        w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1')),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LoginFailedError);
  });

  it('logs in on the role id alone when bind_secret_id is false, only from the bound CIDRs', async () => {
    const w = world();
    await w.mounts.enable('approle', { type: 'approle' });
    await expect(w.mounts.putRole(ROOT, 'approle', 'ci', { bind_secret_id: false })).rejects.toThrow(
      /must be bound by secret_id_bound_cidrs/,
    );
    await w.mounts.putRole(ROOT, 'approle', 'ci', { bind_secret_id: false, secret_id_bound_cidrs: ['127.0.0.1'] });
    const roleId = ((await w.mounts.storedRole('approle', 'ci')) as { role_id: string }).role_id;
    await expect(w.mounts.login('approle', { role_id: roleId }, FROM('127.0.0.1'))).resolves.toBeDefined();
    await refusal(w.mounts.login('approle', { role_id: roleId }, FROM('10.0.0.1')));
  });
});

describe('AppRole: secret ids', () => {
  it("keeps a secret id's TTL, uses and CIDRs within the role's", async () => {
    const w = world();
    const { mount, stored } = await w.roleWithSecret({
      secret_id_ttl: '1h',
      secret_id_num_uses: 5,
      secret_id_bound_cidrs: ['10.0.0.0/8'],
    });
    const make = (request: Record<string, unknown>) =>
      w.approle.generateSecretId(mount as never, 'ci', stored, GenerateSecretIdSchema.parse(request));
    await expect(make({ ttl: '2h' })).rejects.toThrow(/at most the role's secret_id_ttl/);
    await expect(make({ ttl: 0 })).rejects.toThrow(ValidationError);
    await expect(make({ num_uses: 6 })).rejects.toThrow(/at most the role's secret_id_num_uses/);
    await expect(make({ num_uses: 0 })).rejects.toThrow(ValidationError);
    await expect(make({ cidr_list: ['192.168.0.0/16'] })).rejects.toThrow(/within the role's secret_id_bound_cidrs/);
    await expect(make({ cidr_list: ['10.0.0.0/7'] })).rejects.toThrow(ValidationError);
    const ok = await make({ ttl: '30m', num_uses: 2, cidr_list: ['10.9.0.0/16'] });
    expect(ok.record).toMatchObject({ numUses: 2, usesRemaining: 2, expiresAt: NOW + 1_800_000 });
    const defaults = await make({});
    expect(defaults.record).toMatchObject({ numUses: 5, expiresAt: NOW + 3_600_000 });
  });

  it('stores only a hash: no item holds the secret id', async () => {
    const w = world();
    const { secretId } = await w.roleWithSecret();
    const everything = JSON.stringify([
      ...(w.store as unknown as { partitions: Map<string, Map<string, unknown>> }).partitions,
    ]);
    expect(everything).not.toContain(secretId);
  });

  it('looks up by secret id or accessor, and destroys by accessor', async () => {
    const w = world();
    const { roleId, secretId, accessor, mount, stored } = await w.roleWithSecret({}, { metadata: { a: 'b' } });
    expect(await w.approle.lookupSecretId(mount as never, 'ci', stored, secretId)).toMatchObject({
      accessor,
      metadata: { a: 'b' },
    });
    expect((await w.approle.lookupSecretIdAccessor(mount as never, 'ci', stored, accessor)).accessor).toBe(accessor);
    await w.approle.destroySecretIdAccessor(mount as never, 'ci', stored, accessor);
    await expect(w.approle.lookupSecretId(mount as never, 'ci', stored, secretId)).rejects.toThrow(NotFoundError);
    await refusal(w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1')));
    await expect(w.approle.destroySecretIdAccessor(mount as never, 'ci', stored, accessor)).rejects.toThrow(
      NotFoundError,
    );
  });

  it('never lets a deleted and rewritten role accept the old role id or secret ids', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret({ role_id: 'fixed-role-id' });
    await w.mounts.deleteRole('approle', 'ci');
    await w.mounts.putRole(ROOT, 'approle', 'ci', { token_policies: ['ci'], role_id: 'fixed-role-id' });
    expect(roleId).toBe('fixed-role-id');
    expect(
      (await refusal(w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1'))))
        .auditReason,
    ).toBe('unknown secret id');
  });
});

describe('AuthMountService', () => {
  it('mounts a method at several paths, each with its own roles, and refuses a taken or unknown one', async () => {
    const w = world();
    await w.mounts.enable('approle', { type: 'approle' });
    await w.mounts.enable('ci-approle', { type: 'approle', description: 'CI' });
    await expect(w.mounts.enable('approle', { type: 'approle' })).rejects.toThrow(AlreadyExistsError);
    await expect(w.mounts.enable('x', { type: 'userpass' })).rejects.toThrow(/unknown auth method "userpass"/);
    await expect(w.mounts.enable('x', { type: 'approle', config: { nope: 1 } })).rejects.toThrow(ValidationError);
    expect((await w.mounts.list()).map((m) => [m.path, m.type, m.description])).toEqual([
      ['approle', 'approle', ''],
      ['ci-approle', 'approle', 'CI'],
    ]);
    await w.mounts.putRole(ROOT, 'approle', 'a', {});
    expect(await w.mounts.listRoles('approle')).toEqual(['a']);
    expect(await w.mounts.listRoles('ci-approle')).toEqual([]);
  });

  it('refuses a role granting a policy its writer lacks, and one naming a role id another role has', async () => {
    const w = world();
    await w.mounts.enable('approle', { type: 'approle' });
    const writer: Principal = { ...ROOT, id: 'acc_w', policies: ['ci'] };
    await expect(w.mounts.putRole(writer, 'approle', 'r', { token_policies: ['admin'] })).rejects.toThrow(
      /a role cannot have policies its creator lacks: admin/,
    );
    await w.mounts.putRole(writer, 'approle', 'r', { token_policies: ['ci'], role_id: 'shared-role-id' });
    await expect(w.mounts.putRole(ROOT, 'approle', 's', { role_id: 'shared-role-id' })).rejects.toThrow(
      AlreadyExistsError,
    );
    const missing = await w.mounts
      .putRole(ROOT, 'approle', 't', { token_policies: ['ghost'] }, async (policies) => {
        throw new ValidationError(`missing ${policies.join(',')}`);
      })
      .catch((e: unknown) => e);
    expect((missing as Error).message).toBe('missing ghost');
  });

  it("gives a role's tokens its writer's ceiling", async () => {
    const w = world();
    const writer: Principal = { ...ROOT, id: 'acc_w', displayName: 'w', policies: ['ci'] };
    await w.mounts.enable('approle', { type: 'approle' });
    await w.mounts.putRole(writer, 'approle', 'ci', { token_policies: ['ci'] });
    const { mount } = await w.mounts.mountOf('approle', 'approle');
    const stored = (await w.mounts.storedRole('approle', 'ci')) as never;
    const { secretId } = await w.approle.generateSecretId(mount as never, 'ci', stored, {});
    const roleId = (stored as { role_id: string }).role_id;
    const { token } = await w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('1.2.3.4'));
    expect(token.record.ceilings).toEqual([{ id: 'acc_w', name: 'w', metadata: {}, policies: ['ci'] }]);
  });

  it("hides a role's role id and uid from its description", async () => {
    const w = world();
    await w.mounts.enable('approle', { type: 'approle' });
    const shown = await w.mounts.putRole(ROOT, 'approle', 'ci', { token_ttl: '1h' });
    expect(shown).not.toHaveProperty('role_id');
    expect(shown).not.toHaveProperty('role_uid');
    expect(await w.mounts.getRole('approle', 'ci')).toEqual(shown);
    expect(shown).toMatchObject({ token_ttl: 3600, bind_secret_id: true, token_policies: [] });
  });

  it('takes back the token of a login that raced with disabling its mount', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret();
    let minted = '';
    const racing = new AuthMountService({
      store: w.store,
      clock: w.clock,
      methods: buildAuthMethods({ store: w.store, clock: w.clock }),
      tokens: {
        revoke: (target) => w.tokens.revoke(target),
        revokeWhereMeta: (key, value) => w.tokens.revokeWhereMeta(key, value),
        // The mount is disabled (and its tokens scanned) after the login checked it, before its token is written.
        createForLogin: async (grant) => {
          await w.mounts.disable('approle');
          const created = await w.tokens.createForLogin(grant);
          minted = created.token;
          return created;
        },
      },
    });
    await expect(racing.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1'))).rejects.toThrow(
      'no auth method is mounted at approle',
    );
    expect(minted).not.toBe('');
    await expect(w.tokens.authenticate(minted)).rejects.toThrow('invalid or expired token');
  });

  it('disabling a mount revokes the tokens its logins issued, and no other', async () => {
    const w = world();
    const { roleId, secretId } = await w.roleWithSecret();
    const { token } = await w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1'));
    const other = await w.tokens.createRoot('other');
    expect(await w.mounts.disable('approle')).toEqual({ revokedTokens: 1 });
    await expect(w.tokens.authenticate(token.token)).rejects.toThrow();
    await expect(w.tokens.authenticate(other.token)).resolves.toBeDefined();
    await expect(w.mounts.login('approle', { role_id: roleId, secret_id: secretId }, FROM('10.0.0.1'))).rejects.toThrow(
      ValidationError,
    );
    // Enabled again at the same path: nothing of the old mount comes back.
    await w.mounts.enable('approle', { type: 'approle' });
    expect(await w.mounts.listRoles('approle')).toEqual([]);
    await expect(w.mounts.disable('nowhere')).rejects.toThrow(NotFoundError);
  });
});
