import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import {
  describeCaller,
  IAM_PRINCIPAL_PARTITION,
  IamPrincipalService,
} from '../../../../../lambdas/core/auth/iam/iam-principal-service.ts';
import { NotFoundError, PermissionDeniedError, ValidationError } from '../../../../../lambdas/core/errors.ts';
import type { Clock } from '../../../../../lambdas/core/ports/clock.ts';
import type { Principal } from '../../../../../lambdas/core/principal.ts';
import { rejectionOf } from '../../../../support/rejection.ts';

const ACCOUNT = '123456789012';
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/session-1`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app-role`;

function setup(cacheTtlMs?: number) {
  let now = 1_000_000;
  const clock: Clock = { now: () => now };
  const store = new MemoryStore();
  let queries = 0;
  const query = store.query.bind(store);
  store.query = ((pk, options) => {
    queries++;
    return query(pk, options);
  }) as MemoryStore['query'];
  const service = new IamPrincipalService({ store, clock, ...(cacheTtlMs !== undefined && { cacheTtlMs }) });
  return {
    store,
    service,
    queries: () => queries,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('Class: IamPrincipalService', () => {
  it('stores a mapping under the iam-principals partition', async () => {
    const { store, service } = setup();
    await service.put(ROLE, ['app', 'app', 'base']);
    const item = await store.get(IAM_PRINCIPAL_PARTITION, ROLE);
    expect(item?.data).toEqual({ policies: ['app', 'base'] });
  });

  it('resolves an exact user ARN to an iam principal', async () => {
    const { service } = setup();
    const user = `arn:aws:iam::${ACCOUNT}:user/ops/alice`;
    await service.put(user, ['ops']);
    const principal = await service.resolve(user);
    expect(principal).toEqual({
      type: 'iam',
      id: user,
      displayName: 'alice',
      policies: ['ops'],
      metadata: { arn: user, account: ACCOUNT, userName: 'alice' },
    });
  });

  it('resolves an assumed-role session through its role ARN', async () => {
    const { service } = setup();
    await service.put(ROLE, ['app']);
    const principal = await service.resolve(SESSION);
    expect(principal?.id).toBe(SESSION);
    expect(principal?.displayName).toBe('app-role');
    expect(principal?.policies).toEqual(['app']);
    expect(principal?.metadata).toMatchObject({ roleName: 'app-role', sessionName: 'session-1' });
  });

  it('matches a trailing-* pattern by prefix', async () => {
    const { service } = setup();
    await service.put(`arn:aws:iam::${ACCOUNT}:role/app-*`, ['app']);
    expect((await service.resolve(SESSION))?.policies).toEqual(['app']);
    expect(await service.resolve(`arn:aws:sts::${ACCOUNT}:assumed-role/other-role/s`)).toBeUndefined();
  });

  it('does not match a role pattern of another account', async () => {
    const { service } = setup();
    await service.put(`arn:aws:iam::999999999999:role/app-role`, ['app']);
    expect(await service.resolve(SESSION)).toBeUndefined();
  });

  it('gives the union of every matching pattern', async () => {
    const { service } = setup();
    await service.put(`arn:aws:iam::${ACCOUNT}:role/*`, ['base']);
    await service.put(ROLE, ['app']);
    await service.put(`arn:aws:sts::${ACCOUNT}:assumed-role/app-role/session-1`, ['debug', 'app']);
    expect((await service.resolve(SESSION))?.policies).toEqual(['app', 'base', 'debug']);
  });

  it('returns undefined for an unmapped caller', async () => {
    const { service } = setup();
    await service.put(ROLE, ['app']);
    expect(await service.resolve(`arn:aws:iam::${ACCOUNT}:user/bob`)).toBeUndefined();
  });

  it('returns undefined for something that is not an IAM ARN, even under a wildcard', async () => {
    const { service } = setup();
    await service.put(`arn:aws:iam::${ACCOUNT}:role/*`, ['app']);
    expect(await service.resolve('anonymous')).toBeUndefined();
    expect(await service.resolve(`arn:aws:s3:::bucket`)).toBeUndefined();
  });

  it('rejects malformed patterns and policy names', async () => {
    const { service } = setup();
    await expect(service.put('*', ['app'])).rejects.toThrow(ValidationError);
    await expect(service.put(`arn:aws:iam::${ACCOUNT}:*`, ['app'])).rejects.toThrow(/pattern/);
    await expect(service.put(`arn:aws:iam::${ACCOUNT}:role/a*b`, ['app'])).rejects.toThrow(ValidationError);
    await expect(service.put(`arn:aws:kms:us-east-1:${ACCOUNT}:key/x`, ['app'])).rejects.toThrow(ValidationError);
    await expect(service.put(ROLE, [])).rejects.toThrow(/policies/);
    await expect(service.put(ROLE, ['Bad Name'])).rejects.toThrow(ValidationError);
  });

  it('lists mappings sorted by pattern', async () => {
    const { service } = setup();
    await service.put(ROLE, ['app']);
    await service.put(`arn:aws:iam::${ACCOUNT}:role/a-*`, ['a']);
    expect(await service.list()).toEqual([
      { pattern: `arn:aws:iam::${ACCOUNT}:role/a-*`, policies: ['a'] },
      { pattern: ROLE, policies: ['app'] },
    ]);
  });

  it('deletes a mapping, and refuses to delete one that does not exist', async () => {
    const { service } = setup();
    await service.put(ROLE, ['app']);
    expect(await service.resolve(SESSION)).toBeDefined();
    await service.delete(ROLE);
    expect(await service.resolve(SESSION)).toBeUndefined();
    await expect(service.delete(ROLE)).rejects.toThrow(NotFoundError);
  });

  it('serves resolve from its cache until the TTL passes', async () => {
    const { store, service, queries, advance } = setup(1000);
    await service.put(ROLE, ['app']);
    await service.resolve(SESSION);
    await service.resolve(SESSION);
    expect(queries()).toBe(1);
    // A write by another instance, behind this one's back.
    await store.transact([{ type: 'put', pk: IAM_PRINCIPAL_PARTITION, sk: ROLE, data: { policies: ['other'] } }]);
    expect((await service.resolve(SESSION))?.policies).toEqual(['app']);
    advance(1001);
    expect((await service.resolve(SESSION))?.policies).toEqual(['other']);
    expect(queries()).toBe(2);
  });

  it('sees its own writes at once', async () => {
    const { service } = setup(60_000);
    expect(await service.resolve(SESSION)).toBeUndefined();
    await service.put(ROLE, ['app']);
    expect((await service.resolve(SESSION))?.policies).toEqual(['app']);
  });

  it('does not cache a failed read', async () => {
    const { store, service } = setup(60_000);
    await service.put(ROLE, ['app']);
    const query = store.query.bind(store);
    store.query = (() => Promise.reject(new Error('store down'))) as MemoryStore['query'];
    await expect(service.resolve(SESSION)).rejects.toThrow('store down');
    store.query = query;
    expect((await service.resolve(SESSION))?.policies).toEqual(['app']);
  });
});

describe('IamPrincipalService: mappings made by a non-root creator', () => {
  const creator = (policies: string[]): Principal => ({
    type: 'token',
    id: 'acc_creator',
    displayName: 'ops',
    policies,
    metadata: {},
  });

  it('maps only policies the creator holds, naming the others', async () => {
    const { service } = setup();
    for (const policies of [['root'], ['app', 'billing']]) {
      const err = await rejectionOf(service.put(ROLE, policies, creator(['app'])));
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect(err.message).toContain(policies.at(-1));
    }
    expect(await service.list()).toEqual([]);
    await expect(service.put(ROLE, ['root'], creator(['root']))).resolves.toEqual({
      pattern: ROLE,
      policies: ['root'],
    });
  });

  it('bounds every caller a mapping matches by its creator, and lists mappings without the ceilings', async () => {
    const { service } = setup();
    await service.put(ROLE, ['app'], creator(['app', 'no-prod']));
    const principal = await service.resolve(SESSION);
    expect(principal?.ceilings).toEqual([
      { id: 'acc_creator', name: 'ops', metadata: {}, policies: ['app', 'no-prod'] },
    ]);
    expect(await service.list()).toEqual([{ pattern: ROLE, policies: ['app'] }]);
    // Root-made mappings add no ceiling.
    await service.put(ROLE, ['app'], creator(['root']));
    expect((await service.resolve(SESSION))?.ceilings).toBeUndefined();
  });

  it('names callers from their authenticated ARN, whatever the mapping says', async () => {
    const { service } = setup();
    await service.put(ROLE, ['app'], creator(['app']));
    expect(await service.resolve(SESSION)).toMatchObject({
      type: 'iam',
      id: SESSION,
      displayName: 'app-role',
      metadata: { arn: SESSION, account: ACCOUNT, roleName: 'app-role', sessionName: 'session-1' },
    });
  });
});

describe('Function: describeCaller', () => {
  it('names the role of an assumed-role session and its role ARN', () => {
    expect(describeCaller(SESSION)?.candidates).toEqual([SESSION, ROLE]);
  });

  it('keeps the partition when deriving the role ARN', () => {
    const arn = `arn:aws-us-gov:sts::${ACCOUNT}:assumed-role/r/s`;
    expect(describeCaller(arn)?.candidates).toEqual([arn, `arn:aws-us-gov:iam::${ACCOUNT}:role/r`]);
  });

  it('describes the account root and federated users', () => {
    expect(describeCaller(`arn:aws:iam::${ACCOUNT}:root`)?.displayName).toBe('root');
    expect(describeCaller(`arn:aws:sts::${ACCOUNT}:federated-user/carol`)?.displayName).toBe('carol');
  });
});
