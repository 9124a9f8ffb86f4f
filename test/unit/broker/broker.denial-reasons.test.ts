import { describe, expect, it } from 'vitest';
import { CEILING_REASON } from '../../../lambdas/core/auth/derived-credentials.ts';
import type { PolicyRule } from '../../../lambdas/core/policy/policy-types.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/**
 * Issue 18: a refusal says why — which of the caller's own policies and rules decided, and which condition failed —
 * without the rule's values, another policy's rules, a secret value, or whether the secret exists.
 */

const OFFICE = ['10.20.0.0/16', '2001:db8:20::/48'];
const CALLER_IP = '203.0.113.7';
const VALUE = 'value-never-in-a-denial-8d1f';

async function setup() {
  const node = await memoryNode();
  const root = await node.deps.tokens.lookup({ token: node.rootToken });
  const call = async (
    token: string,
    method: string,
    path: string,
    options: { body?: unknown; sourceIp?: string } = {},
  ) => {
    const res = await node.broker.handle(request(method, path, { token, ...options }));
    const body = JSON.parse(res.body || '{}') as { error?: { code: string; message: string } } & Record<
      string,
      unknown
    >;
    return { status: res.status, body, message: body.error?.message ?? '' };
  };
  const tokenWith = async (policies: Record<string, PolicyRule[]>) => {
    for (const [name, rules] of Object.entries(policies)) await node.deps.policies.put({ name, rules });
    return (await node.deps.tokens.create(root, { policies: Object.keys(policies) })).token;
  };
  expect((await call(node.rootToken, 'PUT', '/v1/secret/data/prod/db', { body: { value: VALUE } })).status).toBe(200);
  // A policy the caller does not hold, with a rule on the same paths: it must never be named or described.
  await node.deps.policies.put({
    name: 'ops-only',
    rules: [{ path: 'secrets/prod/*', capabilities: ['read'], conditions: { sourceCidrs: ['198.51.100.0/24'] } }],
  });
  return { ...node, call, tokenWith };
}

describe('Class: Broker (denial reasons)', () => {
  it("names the caller's policy, rule and failed condition key, with the request's own address only", async () => {
    const { call, tokenWith } = await setup();
    const token = await tokenWith({
      'ci-read': [{ path: 'secrets/prod/*', capabilities: ['read'], conditions: { sourceCidrs: OFFICE } }],
    });
    const res = await call(token, 'GET', '/v1/secret/data/prod/db', { sourceIp: CALLER_IP });
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe('permission_denied');
    expect(res.message).toBe(
      'permission denied: read on secrets/prod/db: policy "ci-read" rules[0] ("secrets/prod/*") grants read but its ' +
        'condition sourceCidrs (the source address must be in one of its CIDRs) did not hold: ' +
        `this request's source address ${CALLER_IP} is in none of them`,
    );
    for (const hidden of [...OFFICE, '10.20', 'ops-only', '198.51.100', VALUE])
      expect(res.message).not.toContain(hidden);
  });

  it('gives the same answer whether or not the secret exists', async () => {
    const { call, tokenWith } = await setup();
    const token = await tokenWith({
      'ci-read': [{ path: 'secrets/prod/*', capabilities: ['read'], conditions: { sourceCidrs: OFFICE } }],
    });
    const existing = await call(token, 'GET', '/v1/secret/data/prod/db', { sourceIp: CALLER_IP });
    const missing = await call(token, 'GET', '/v1/secret/data/prod/nope', { sourceIp: CALLER_IP });
    expect(missing.status).toBe(existing.status);
    expect(missing.message.replaceAll('prod/nope', 'prod/db')).toBe(existing.message);
  });

  it('says no rule grants when none of the caller’s rules matches, naming no other policy', async () => {
    const { call, tokenWith } = await setup();
    const token = await tokenWith({ dev: [{ path: 'secrets/dev/*', capabilities: ['read'] }] });
    const res = await call(token, 'GET', '/v1/secret/data/prod/db');
    expect(res.status).toBe(403);
    expect(res.message).toBe('permission denied: read on secrets/prod/db: no rule grants read on "secrets/prod/db"');
  });

  it("names the caller's deny rule that vetoed", async () => {
    const { call, tokenWith } = await setup();
    const token = await tokenWith({
      reader: [{ path: 'secrets/*', capabilities: ['read'] }],
      fence: [{ path: 'secrets/prod/*', capabilities: ['deny'] }],
    });
    const res = await call(token, 'GET', '/v1/secret/data/prod/db');
    expect(res.message).toBe(
      'permission denied: read on secrets/prod/db: policy "fence" rules[0] ("secrets/prod/*") denies read on "secrets/prod/db"',
    );
  });

  it("says a creator's ceiling refused, without naming the creator's policies or rules", async () => {
    const { deps, call, tokenWith } = await setup();
    const parentToken = await tokenWith({
      'app-read': [{ path: 'secrets/prod/*', capabilities: ['read'] }],
      minter: [{ path: 'auth/token/create', capabilities: ['create'] }],
      'creator-fence': [{ path: 'secrets/prod/db', capabilities: ['deny'] }],
    });
    const parent = await deps.tokens.lookup({ token: parentToken });
    const { token } = await deps.tokens.create(parent, { policies: ['app-read'] });
    const res = await call(token, 'GET', '/v1/secret/data/prod/db');
    expect(res.status).toBe(403);
    expect(res.message).toBe(`permission denied: read on secrets/prod/db: ${CEILING_REASON}`);
    expect(res.message).not.toContain('creator-fence');
  });

  it("says the secret's resource policy refused, naming none of its statements", async () => {
    const { deps, call, tokenWith } = await setup();
    const token = await tokenWith({ reader: [{ path: 'secrets/prod/*', capabilities: ['read'] }] });
    await deps.secrets.putResourcePolicy({
      secretId: 'prod/db',
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: 'NoTokens', Effect: 'Deny', Principal: '*', Action: 'secretsmanager:*' }],
      }),
    });
    const res = await call(token, 'GET', '/v1/secret/data/prod/db');
    expect(res.status).toBe(403);
    expect(res.message).toBe(
      "permission denied: read on secrets/prod/db: the secret's resource policy denies it to this caller",
    );
    expect(res.message).not.toContain('NoTokens');
  });

  it('records the same reason in the audit record of the refusal', async () => {
    const { sink, call, tokenWith } = await setup();
    const token = await tokenWith({
      'ci-read': [{ path: 'secrets/prod/*', capabilities: ['read'], conditions: { sourceCidrs: OFFICE } }],
    });
    const res = await call(token, 'GET', '/v1/secret/data/prod/db', { sourceIp: CALLER_IP });
    const record = sink.records().findLast((r) => r.type === 'response' && r.operation === 'secret.read');
    expect(record).toMatchObject({ outcome: 'denied', status: 403 });
    expect(record?.denied).toEqual({
      path: 'secrets/prod/db',
      capability: 'read',
      reason: res.message.replace('permission denied: read on secrets/prod/db: ', ''),
    });
  });

  it('keeps a token accessor a templated rule resolved to out of the audit record, but tells the caller', async () => {
    const { deps, sink, call, tokenWith } = await setup();
    const token = await tokenWith({
      personal: [
        { path: 'secrets/users/{{principal.id}}/*', capabilities: ['read'], conditions: { sourceCidrs: OFFICE } },
      ],
    });
    const { accessor } = await deps.tokens.lookup({ token });
    const res = await call(token, 'GET', `/v1/secret/data/users/${accessor}/key`, { sourceIp: CALLER_IP });
    expect(res.status).toBe(403);
    expect(res.message).toContain(`as "secrets/users/${accessor}/*"`);
    const record = sink.records().findLast((r) => r.type === 'response' && r.operation === 'secret.read');
    const reason = record?.denied?.reason ?? '';
    expect(reason).toContain('its condition sourceCidrs');
    expect(reason).not.toContain(accessor);
    expect(reason).toContain(`as "secrets/users/${record?.principal?.id}/*"`);
  });

  it('gives policy test of the caller’s own policies the same reason, even when it may not read them', async () => {
    const { call, tokenWith } = await setup();
    const token = await tokenWith({
      'ci-read': [{ path: 'secrets/prod/*', capabilities: ['read'], conditions: { sourceCidrs: OFFICE } }],
      tester: [{ path: 'sys/policy-test', capabilities: ['read'] }],
    });
    const denied = await call(token, 'GET', '/v1/secret/data/prod/db', { sourceIp: CALLER_IP });
    const test = await call(token, 'POST', '/v1/sys/policy-test', {
      body: { path: 'secrets/prod/db', capability: 'read', sourceIp: CALLER_IP },
    });
    expect(test.status).toBe(200);
    expect(test.body.allowed).toBe(false);
    expect(`permission denied: read on secrets/prod/db: ${test.body.reason}`).toBe(denied.message);
    expect(test.body.decidedBy).toEqual({ policy: 'ci-read', rule: 0, path: 'secrets/prod/*' });
    // The rules themselves stay hidden: the caller may not read the documents.
    expect(test.body.hiddenPolicies).toEqual(['ci-read', 'tester']);
    expect(JSON.stringify(test.body)).not.toContain('10.20.0.0');
  });

  it('gives policy test the ceiling reason a real request gets', async () => {
    const { deps, call, tokenWith } = await setup();
    const parentToken = await tokenWith({
      'app-read': [{ path: 'secrets/prod/*', capabilities: ['read'] }],
      'creator-fence': [{ path: 'secrets/prod/db', capabilities: ['deny'] }],
      tester: [{ path: 'sys/policy-test', capabilities: ['read'] }],
    });
    const parent = await deps.tokens.lookup({ token: parentToken });
    const { token } = await deps.tokens.create(parent, { policies: ['app-read', 'tester'] });
    const test = await call(token, 'POST', '/v1/sys/policy-test', {
      body: { path: 'secrets/prod/db', capability: 'read' },
    });
    expect(test.body).toMatchObject({ allowed: false, reason: CEILING_REASON });
    const named = await call(token, 'POST', '/v1/sys/policy-test', {
      body: { path: 'secrets/prod/db', capability: 'read', policies: ['app-read'] },
    });
    expect(named.body.allowed).toBe(true);
  });
});
