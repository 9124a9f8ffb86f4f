import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerDeps } from '../../../lambdas/broker/broker-deps.ts';
import { ALL_FEATURES, enabledFeatures, type Feature, RUNTIME_ONLY } from '../../../lambdas/broker/features.ts';
import type { RouteDef } from '../../../lambdas/broker/route.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import type { Store } from '../../../lambdas/core/ports/store.ts';
import { composeAwsDeps } from '../../../lambdas/entrypoints/lambda/compose.ts';
import { loadAwsConfig } from '../../../lambdas/entrypoints/lambda/config.ts';
import { initialise, type LocalNode, openLocalNode } from '../../../lambdas/entrypoints/local/compose.ts';
import { loadLocalConfig } from '../../../lambdas/entrypoints/local/config.ts';
import { request } from '../../support/memory-node.ts';

const ACCOUNT = '123456789012';
const AWS_ENV = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  COFFER_AUDIT_BUCKET: 'coffer-audit',
  AWS_REGION: 'eu-west-1',
  COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
  COFFER_ROTATION_STATE_MACHINE_ARN: `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:coffer-rotation`,
  COFFER_ROTATION_SCHEDULE_GROUP: 'coffer-rotation',
  COFFER_ROTATION_SCHEDULER_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/coffer-rotation-scheduler`,
  COFFER_ROTATION_TARGET_ARN: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:coffer-rotation`,
};

/** Composes the AWS runtime; nothing is called (composition is free of I/O), so the clients point nowhere. */
function awsDeps(env: Record<string, string> = AWS_ENV): BrokerDeps {
  const config = loadAwsConfig(env);
  const common = { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' };
  return composeAwsDeps(
    { ...config, auditSalt: config.auditSalt! },
    {
      dynamodb: new DynamoDBClient(common),
      kms: new KMSClient(common),
      sts: new STSClient(common),
    },
  );
}

const offered = (deps: BrokerDeps, routes: readonly RouteDef[]): Set<string> => {
  const enabled = new Set(enabledFeatures(deps));
  const features = (route: RouteDef): readonly Feature[] =>
    route.feature === undefined ? [] : typeof route.feature === 'string' ? [route.feature] : route.feature;
  return new Set(
    routes
      .filter((route) => features(route).every((feature) => enabled.has(feature)))
      .map((route) => `${route.method} ${route.path} ${route.target ?? ''}`.trim()),
  );
};

describe('composeServices: both runtimes offer the same services and routes', () => {
  let dir: string;
  let node: LocalNode;
  let rootToken: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-compose-'));
    const config = loadLocalConfig({}, { dataDir: dir, passphrase: 'compose-services-test', faultInjection: true });
    ({ rootToken } = await initialise(config));
    node = await openLocalNode(config);
  });
  afterAll(async () => {
    await node?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a secret's metadata once per request: the resource-policy check and the read share it", async () => {
    const put = await node.broker.handle(
      request('PUT', '/v1/secret/data/compose/once', { token: rootToken, body: { value: 'v' } }),
    );
    expect(put.status).toBe(200);
    // The store under the composition's request memo: every read that reaches it.
    const { reads, restore } = recordReads(node.store);
    try {
      const got = await node.broker.handle(request('GET', '/v1/secret/data/compose/once', { token: rootToken }));
      expect(got.status).toBe(200);
    } finally {
      restore();
    }
    // At most once: on the local node the metadata may even come from its single-writer cache (the next test).
    expect(reads.filter((read) => read.startsWith('secrets ')).length).toBeLessThanOrEqual(1);
  });

  it("keeps what the local node read of secrets across requests (it is its store's only writer), and forgets it on write", async () => {
    const path = '/v1/secret/data/compose/kept';
    expect((await node.broker.handle(request('PUT', path, { token: rootToken, body: { value: 'one' } }))).status).toBe(
      200,
    );
    await node.broker.handle(request('GET', path, { token: rootToken }));
    const { reads, restore } = recordReads(node.store);
    try {
      const again = await node.broker.handle(request('GET', path, { token: rootToken }));
      expect(JSON.parse(again.body).value).toBe('one');
      expect(reads.filter((pk) => pk.startsWith('secret'))).toEqual([]);
      await node.broker.handle(request('PUT', path, { token: rootToken, body: { value: 'two' } }));
      const changed = await node.broker.handle(request('GET', path, { token: rootToken }));
      expect(JSON.parse(changed.body).value).toBe('two');
    } finally {
      restore();
    }
  });

  it('enables every feature on one runtime or both, and differs only by the documented list', () => {
    const local = new Set(enabledFeatures(node.deps));
    const aws = new Set(enabledFeatures(awsDeps()));
    for (const feature of ALL_FEATURES) {
      const only = RUNTIME_ONLY[feature];
      expect({ feature, local: local.has(feature), aws: aws.has(feature) }).toEqual({
        feature,
        local: only === undefined || only.runtime === 'local',
        aws: only === undefined || only.runtime === 'aws',
      });
    }
  });

  it('serves the same routes on both, but those of the documented runtime-only features', () => {
    const routes = nativeRoutes();
    const local = offered(node.deps, routes);
    const aws = offered(awsDeps(), routes);
    const onlyFeatures = new Set(Object.keys(RUNTIME_ONLY));
    const isRuntimeOnly = (key: string) => {
      const route = routes.find((r) => `${r.method} ${r.path} ${r.target ?? ''}`.trim() === key)!;
      const features = route.feature === undefined ? [] : [route.feature].flat();
      return features.some((feature) => onlyFeatures.has(feature));
    };
    expect([...local].filter((key) => !aws.has(key) && !isRuntimeOnly(key))).toEqual([]);
    expect([...aws].filter((key) => !local.has(key) && !isRuntimeOnly(key))).toEqual([]);
    // The shared part is the bulk of the API, not a vacuous intersection.
    expect([...local].filter((key) => aws.has(key)).length).toBeGreaterThan(routes.length / 2);
  });

  it('turns rotation on with its ports: an AWS deployment without the rotation settings has none', () => {
    const { COFFER_ROTATION_STATE_MACHINE_ARN: _a, COFFER_ROTATION_SCHEDULE_GROUP: _b, ...rest } = AWS_ENV;
    const { COFFER_ROTATION_SCHEDULER_ROLE_ARN: _c, COFFER_ROTATION_TARGET_ARN: _d, ...withoutRotation } = rest;
    expect(enabledFeatures(awsDeps(withoutRotation))).not.toContain('rotation');
    expect(enabledFeatures(awsDeps())).toContain('rotation');
  });

  it('builds the same kind of service for every shared feature', () => {
    const local = node.deps as unknown as Record<string, unknown>;
    const aws = awsDeps() as unknown as Record<string, unknown>;
    for (const name of ['secrets', 'tokens', 'policies', 'audit', 'pki', 'leases', 'database', 'aws', 'apiKeys']) {
      expect(aws[name]?.constructor, name).toBe(local[name]?.constructor);
    }
  });
});

/** Records every `get` that reaches `store` as `"<pk> <sk>"` until `restore` is called. */
function recordReads(store: Store): { reads: string[]; restore: () => void } {
  const reads: string[] = [];
  const original = store.get.bind(store);
  (store as { get: typeof original }).get = async (pk, sk) => {
    reads.push(`${pk} ${sk}`);
    return original(pk, sk);
  };
  return { reads, restore: () => ((store as { get: typeof original }).get = original) };
}
