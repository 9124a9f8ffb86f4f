import { describe, expect, it } from 'vitest';
import { HIDDEN_REASON } from '../../../../lambdas/broker/routes/policies.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

type Explanation = {
  allowed: boolean;
  reason: string;
  decidedBy?: { policy: string; rule: number; path: string };
  considered: { policy: string; rule: number; path: string; unmetCondition?: string }[];
  hiddenPolicies?: string[];
  readableOnly?: { allowed: boolean; reason: string; decidedBy?: { policy: string } };
};

/** A node where `auditor` may run policy-test and read `visible`, but not `secret-rules`. */
async function setup() {
  const node = await memoryNode();
  const { deps, rootToken } = node;
  await deps.policies.put({
    name: 'visible',
    rules: [{ path: 'secrets/app/*', capabilities: ['read'] }],
  });
  await deps.policies.put({
    name: 'secret-rules',
    rules: [
      { path: 'secrets/app/hidden-canary-path', capabilities: ['deny'] },
      { path: 'secrets/vault/*', capabilities: ['read'], conditions: { sourceCidrs: ['10.99.0.0/16'] } },
    ],
  });
  await deps.policies.put({
    name: 'auditor',
    rules: [
      { path: 'sys/policy-test', capabilities: ['read'] },
      { path: 'sys/policies/visible', capabilities: ['read'] },
      { path: 'sys/policies/auditor', capabilities: ['read'] },
    ],
  });
  const root = await deps.tokens.lookup({ token: rootToken });
  const { token } = await deps.tokens.create(root, { policies: ['auditor'] });
  const test = async (body: Record<string, unknown>, as = token) => {
    const res = await node.broker.handle(request('POST', '/v1/sys/policy-test', { token: as, body }));
    expect(res.status).toBe(200);
    return JSON.parse(res.body) as Explanation;
  };
  return { ...node, test };
}

const policies = ['visible', 'secret-rules'];

describe('Route: POST /v1/sys/policy-test, policies the caller may not read', () => {
  it('shows no rule of an unreadable policy, only the outcome, when it decided', async () => {
    const { test } = await setup();
    const result = await test({ path: 'secrets/app/hidden-canary-path', capability: 'read', policies });
    const text = JSON.stringify(result);
    expect(result.allowed).toBe(false);
    expect(result.reason).toBe(HIDDEN_REASON);
    expect(result.decidedBy).toBeUndefined();
    expect(text).not.toContain('"policy":"secret-rules"');
    expect(text).not.toContain('policy \\"secret-rules\\"');
    expect(text).not.toMatch(/denies|deny/);
    expect(result.considered.every((rule) => rule.policy === 'visible')).toBe(true);
    expect(result.hiddenPolicies).toEqual(['secret-rules']);
    // The readable policies alone would allow: the caller learns the outcome differs, not which rule made it so.
    expect(result.readableOnly).toMatchObject({ allowed: true, decidedBy: { policy: 'visible', rule: 0 } });
  });

  it('says the same whether the hidden policy holds a matching rule or none', async () => {
    const { test } = await setup();
    const matched = await test({ path: 'secrets/vault/x', capability: 'read', policies, sourceIp: '127.0.0.1' });
    const unmatched = await test({ path: 'secrets/other/x', capability: 'read', policies, sourceIp: '127.0.0.1' });
    expect(matched.allowed).toBe(false);
    expect(unmatched.allowed).toBe(false);
    const { readableOnly: _a, ...a } = matched;
    const { readableOnly: _b, ...b } = unmatched;
    expect(a).toEqual(b);
    expect(JSON.stringify(matched)).not.toContain('10.99.0.0');
    expect(JSON.stringify(matched)).not.toContain('vault/*');
  });

  it('hides the rules also when a readable rule decided', async () => {
    const { test } = await setup();
    const result = await test({ path: 'secrets/app/db', capability: 'read', policies });
    expect(result.allowed).toBe(true);
    expect(result.reason).toBe(HIDDEN_REASON);
    expect(JSON.stringify(result)).not.toContain('hidden-canary-path');
    expect(result.readableOnly?.decidedBy).toMatchObject({ policy: 'visible' });
  });

  it('treats a policy that does not exist like one the caller may not read', async () => {
    const { test } = await setup();
    const result = await test({ path: 'secrets/app/db', capability: 'read', policies: ['visible', 'no-such'] });
    expect(result.hiddenPolicies).toEqual(['no-such']);
  });

  it('keeps a reason about the request itself', async () => {
    const { test } = await setup();
    const result = await test({ path: 'secrets/app/../x', capability: 'read', policies });
    expect(result.allowed).toBe(false);
    expect(result.reason).toMatch(/not a canonical path/);
  });

  it('explains in full when the caller may read every policy', async () => {
    const { test, rootToken } = await setup();
    const result = await test({ path: 'secrets/app/hidden-canary-path', capability: 'read', policies }, rootToken);
    expect(result.hiddenPolicies).toBeUndefined();
    expect(result.decidedBy).toEqual({ policy: 'secret-rules', rule: 0, path: 'secrets/app/hidden-canary-path' });
    expect(result.considered.some((rule) => rule.policy === 'secret-rules')).toBe(true);
  });
});
