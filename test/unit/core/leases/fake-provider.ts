import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../../../../lambdas/core/errors.ts';
import type {
  DynamicProvider,
  HandleOf,
  ProviderRegistry,
  RoleLimits,
} from '../../../../lambdas/core/leases/lease-types.ts';

/**
 * A `database` provider held in memory: users live in a Set, so tests (and the bench's volume runs) can see what
 * exists at the "target". Type-checked against `DynamicProvider`, so it cannot drift from the real engines.
 */
export class FakeDatabaseProvider implements DynamicProvider<'database'> {
  readonly kind = 'database' as const;
  readonly users = new Set<string>();
  readonly roles = new Map<string, RoleLimits>();
  readonly renewed: { username: string; expiresAt: number }[] = [];
  /** When set, `revoke` throws this (the target is down). */
  failRevoke: Error | undefined;
  /** Called at the start of every revoke, before anything happens: lets tests look at the store at that moment. */
  onRevoke: ((handle: HandleOf<'database'>) => Promise<void> | void) | undefined;
  revokeCalls = 0;

  async roleLimits(role: string): Promise<RoleLimits> {
    const limits = this.roles.get(role);
    if (limits === undefined) throw new NotFoundError(`database role ${role} not found`);
    return limits;
  }

  async issue(role: string) {
    await this.roleLimits(role);
    const username = `v_${role}_${randomBytes(4).toString('hex')}`;
    this.users.add(username);
    return {
      credential: { username, password: randomBytes(16).toString('hex') },
      revokeHandle: { config: 'fake', role, username },
    };
  }

  async revoke(handle: HandleOf<'database'>): Promise<void> {
    this.revokeCalls++;
    await this.onRevoke?.(handle);
    if (this.failRevoke !== undefined) throw this.failRevoke;
    this.users.delete(handle.username);
  }

  async renew(handle: HandleOf<'database'>, expiresAt: number): Promise<void> {
    this.renewed.push({ username: handle.username, expiresAt });
  }
}

/** An `aws` provider that is never used by these tests but completes the registry. */
export const unusedAwsProvider: DynamicProvider<'aws'> = {
  kind: 'aws',
  roleLimits: async (role) => {
    throw new NotFoundError(`aws role ${role} not found`);
  },
  issue: async () => {
    throw new Error('not used');
  },
  revoke: async () => {},
};

/** An `ssh` provider that is never used by these tests but completes the registry. */
export const unusedSshProvider: DynamicProvider<'ssh'> = {
  kind: 'ssh',
  roleLimits: async (role) => {
    throw new NotFoundError(`no SSH role "${role}"`);
  },
  issue: async () => {
    throw new Error('not used');
  },
  revoke: async () => {},
};

/** An `oauth` provider that is never used by these tests but completes the registry. */
export const unusedOAuthProvider: DynamicProvider<'oauth'> = {
  kind: 'oauth',
  roleLimits: async (role) => {
    throw new NotFoundError(`no OAuth role "${role}"`);
  },
  issue: async () => {
    throw new Error('not used');
  },
  revoke: async () => {},
};

export function fakeRegistry(database = new FakeDatabaseProvider()) {
  return {
    database,
    aws: unusedAwsProvider,
    ssh: unusedSshProvider,
    oauth: unusedOAuthProvider,
  } satisfies ProviderRegistry;
}
