import { beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../../lambdas/broker/broker.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/**
 * Authorisation through the whole HTTP path (routing, percent-decoding, name validation, policy), not just the
 * engine: a token for `team/*` must never reach `prod/*`, however the path is spelt.
 */
let broker: Broker;
let team: string;
let root: string;

beforeAll(async () => {
  const node = await memoryNode();
  broker = node.broker;
  root = node.rootToken;
  await node.deps.policies.put({
    name: 'team',
    rules: [
      { path: 'secrets/team/*', capabilities: ['create', 'read', 'update', 'list'] },
      { path: 'secrets/team/locked/*', capabilities: ['deny'] },
      { path: 'secrets/shared/+/config', capabilities: ['read'] },
      { path: 'secrets/team', capabilities: ['list'] },
    ],
  });
  const rootRecord = await node.deps.tokens.lookup({ token: root });
  team = (await node.deps.tokens.create(rootRecord, { policies: ['team'] })).token;
  for (const name of [
    'prod/db',
    'team/db',
    'team/locked/key',
    'shared/a/config',
    'shared/a/b/config',
    'TEAM/db',
    'teamx/db',
  ]) {
    const res = await broker.handle(
      request('PUT', `/v1/secret/data/${name}`, { token: root, body: { value: `value-of-${name}` } }),
    );
    expect(res.status).toBe(200);
  }
});

type Outcome = 'allow' | 'deny' | 'invalid';

const outcome = (status: number): Outcome =>
  status === 403 || status === 401 ? 'deny' : status === 400 ? 'invalid' : 'allow';

// [raw path after /v1/secret/data/, expected outcome for a GET by the team token]
const reads: Array<[string, Outcome]> = [
  ['team/db', 'allow'],
  ['team/missing', 'allow'], // allowed to look: 404
  ['team%2Fdb', 'allow'],
  ['team/sub/deeper/x', 'allow'],
  ['prod/db', 'deny'],
  ['team/../prod/db', 'invalid'],
  ['team/%2e%2e/prod/db', 'invalid'],
  ['team%2F..%2Fprod%2Fdb', 'invalid'],
  ['team%2f%2e%2e%2fprod%2fdb', 'invalid'],
  ['team/./db', 'invalid'],
  ['team/%2E/db', 'invalid'],
  ['team//db', 'invalid'],
  ['team%2F%2Fdb', 'invalid'],
  ['/team/db', 'invalid'],
  ['team/db/', 'invalid'],
  ['team/db%2F', 'invalid'],
  ['team%252Fdb', 'invalid'],
  ['team%25252Fdb', 'invalid'],
  ['team%5Cdb', 'invalid'],
  ['team\\db', 'invalid'],
  ['team%00db', 'invalid'],
  ['team%20db', 'invalid'],
  ['team/db%0A', 'invalid'],
  ['team%zz', 'invalid'],
  ['TEAM/db', 'deny'],
  ['Team/db', 'deny'],
  ['teamx/db', 'deny'],
  ['team', 'deny'],
  ['tea/m', 'deny'],
  ['team/locked/key', 'deny'],
  ['team/locked/other', 'deny'],
  ['team%2Flocked%2Fkey', 'deny'],
  ['team/locked', 'allow'], // the deny glob is below locked/, not locked itself
  ['shared/a/config', 'allow'],
  ['shared/a/b/config', 'deny'],
  ['shared/config', 'deny'],
  ['shared//config', 'invalid'],
  ['shared/a/config2', 'deny'],
  ['prod%2Fdb', 'deny'],
  ['%70rod/db', 'deny'],
  ['team/%2e%2e%2fprod%2fdb', 'invalid'],
  ['team/..%2Fprod/db', 'invalid'],
  ['team/...', 'allow'],
  ['team/.hidden', 'allow'],
  ['team/%E2%80%AEdb', 'invalid'],
  ['team/d%C3%A9', 'invalid'],
  ['t%C3%A9am/db', 'invalid'],
  ['team/*', 'invalid'],
  ['team/+', 'allow'], // '+' is a legal name character, matched literally
  ['prod/+', 'deny'],
];

const writeCases: Array<[string, string, Outcome]> = [];
for (const [path, expected] of reads) {
  // The team may create and update where it may read, except where the read is allowed by a read-only rule.
  const readOnly = path.startsWith('shared/');
  writeCases.push(['PUT', path, readOnly && expected === 'allow' ? 'deny' : expected]);
}

describe('Authorisation over HTTP', () => {
  it.each(reads)('GET %s -> %s', async (path, expected) => {
    const res = await broker.handle(request('GET', `/v1/secret/data/${path}`, { token: team }));
    expect(outcome(res.status), res.body).toBe(expected);
    if (expected !== 'allow') expect(res.body).not.toMatch(/value-of/);
  });

  it.each(writeCases)('%s %s -> %s', async (method, path, expected) => {
    const res = await broker.handle(
      request(method, `/v1/secret/data/${path}`, { token: team, body: { value: 'overwritten' } }),
    );
    expect(outcome(res.status), res.body).toBe(expected);
  });

  it.each([
    ['GET', '/v1/secret/metadata/prod/db', 'deny'],
    ['GET', '/v1/secret/versions/prod/db', 'deny'],
    ['DELETE', '/v1/secret/metadata/team/db', 'deny'],
    ['DELETE', '/v1/secret/metadata/prod/db', 'deny'],
    ['POST', '/v1/secret/restore/prod/db', 'deny'],
    ['GET', '/v1/secret/list/team/', 'allow'],
    ['GET', '/v1/secret/list/team', 'allow'],
    ['GET', '/v1/secret/list/prod/', 'deny'],
    ['GET', '/v1/secret/list', 'deny'],
    ['GET', '/v1/sys/policies', 'deny'],
    ['GET', '/v1/sys/policies/team', 'deny'],
    ['PUT', '/v1/sys/policies/team', 'deny'],
    ['GET', '/v1/sys/audit/tail', 'deny'],
    ['POST', '/v1/sys/keyring/rotate', 'deny'],
    ['POST', '/v1/auth/token/create', 'deny'],
    ['GET', '/v1/auth/token/lookup-self', 'allow'],
  ] as const)('%s %s -> %s', async (method, path, expected) => {
    const body =
      method === 'PUT' ? { rules: [{ path: '*', capabilities: ['sudo'] }] } : method === 'POST' ? {} : undefined;
    const res = await broker.handle(request(method, path, { token: team, body }));
    expect(outcome(res.status), res.body).toBe(expected);
  });

  it('never let any of the attempts above change a secret the team may not write', async () => {
    for (const name of ['prod/db', 'team/locked/key', 'shared/a/config', 'TEAM/db', 'teamx/db']) {
      const res = await broker.handle(request('GET', `/v1/secret/data/${name}`, { token: root }));
      expect(JSON.parse(res.body).value).toBe(`value-of-${name}`);
    }
  });
});
