import { describe, expect, it } from 'vitest';
import {
  assertPoliciesExist,
  CEILING_REASON,
  ceilingDenial,
  type PolicyCatalog,
} from '../../../../lambdas/core/auth/derived-credentials.ts';
import { PermissionDeniedError, ValidationError } from '../../../../lambdas/core/errors.ts';
import type { PolicyDocument } from '../../../../lambdas/core/policy/policy-types.ts';
import type { Principal } from '../../../../lambdas/core/principal.ts';

/** A catalog holding `existing` (and root), recording every name it was asked about. */
function catalog(existing: readonly string[]) {
  const asked: string[] = [];
  const source: PolicyCatalog = {
    async missing(names) {
      asked.push(...names);
      return [...new Set(names)].filter((name) => name !== 'root' && !existing.includes(name)).sort();
    },
  };
  return { source, asked };
}

const allowList = async () => true;
const denyList = async () => false;

describe('Function: assertPoliciesExist', () => {
  it('refuses names that do not exist, naming each one', async () => {
    const { source } = catalog(['app']);
    const refusal = assertPoliciesExist(
      source,
      { policies: ['root'] },
      ['app', 'ci-read', 'typo'],
      'an access key',
      allowList,
    );
    await expect(refusal).rejects.toThrow(ValidationError);
    await expect(refusal).rejects.toThrow(
      'an access key cannot name a policy that does not exist: policies "ci-read", "typo" do not exist (create them first)',
    );
    await refusal.catch((err: ValidationError) => expect(err.details).toEqual({ policies: ['ci-read', 'typo'] }));
  });

  it('says policy, singular, for one missing name', async () => {
    const { source } = catalog([]);
    await expect(
      assertPoliciesExist(source, { policies: ['root'] }, ['ci-read'], 'a token', allowList),
    ).rejects.toThrow('a token cannot name a policy that does not exist: policy "ci-read" does not exist');
  });

  it('accepts existing names, root, and no names at all', async () => {
    const { source } = catalog(['app']);
    await assertPoliciesExist(source, { policies: ['root'] }, ['app', 'root'], 'a token', allowList);
    await assertPoliciesExist(source, { policies: ['app'] }, [], 'a token', denyList);
  });

  it('looks up only the names a non-root creator holds, so it cannot probe which policies exist', async () => {
    const { source, asked } = catalog(['app']);
    // `elsewhere` is not the creator's: assertGrantable refuses it (403) whether or not it exists.
    await assertPoliciesExist(source, { policies: ['app'] }, ['app', 'elsewhere'], 'an access key', denyList);
    expect(asked).toEqual(['app']);
    const stale = catalog([]);
    await expect(
      assertPoliciesExist(stale.source, { policies: ['deleted'] }, ['deleted'], 'an access key', denyList),
    ).rejects.toThrow('policy "deleted" does not exist');
  });

  it('lets a root holder name a policy it does not hold only when it may list policies', async () => {
    const { source, asked } = catalog(['app']);
    const refusal = assertPoliciesExist(source, { policies: ['root', 'fence'] }, ['app'], 'an IAM mapping', denyList);
    await expect(refusal).rejects.toThrow(PermissionDeniedError);
    await expect(refusal).rejects.toThrow('list on sys/policies');
    expect(asked).toEqual([]);
  });
});

describe('Function: ceilingDenial', () => {
  const context = { requestId: 'r', sourceIp: '127.0.0.1', now: Date.parse('2030-01-01T00:00:00Z') };
  const documents: Record<string, PolicyDocument> = {
    reader: { name: 'reader', rules: [{ path: 'secrets/*', capabilities: ['read'] }] },
    fence: { name: 'fence', rules: [{ path: 'secrets/prod/*', capabilities: ['deny'] }] },
  };
  const policies = { resolve: async (names: readonly string[]) => names.flatMap((n) => documents[n] ?? []) };
  const child: Principal = {
    type: 'token',
    id: 'child',
    displayName: 'app',
    policies: ['reader'],
    metadata: {},
    ceilings: [{ id: 'parent', name: 'app', metadata: {}, policies: ['reader', 'fence'] }],
  };

  it("names no rule of the creator's policies when a ceiling refuses", async () => {
    const reason = await ceilingDenial(policies, child, { path: 'secrets/prod/db', capability: 'read' }, context);
    expect(reason).toBe(CEILING_REASON);
    expect(reason).not.toContain('fence');
  });

  it('is undefined when every ceiling allows', async () => {
    expect(
      await ceilingDenial(policies, child, { path: 'secrets/dev/db', capability: 'read' }, context),
    ).toBeUndefined();
  });
});
