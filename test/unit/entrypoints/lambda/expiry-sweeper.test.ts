import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { SecretService } from '../../../../lambdas/core/secrets/secret-service.ts';
import {
  createExpirySweeperHandler,
  loadExpirySweeperConfig,
} from '../../../../lambdas/entrypoints/lambda/expiry-sweeper.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';

const env = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  AWS_REGION: 'eu-west-1',
};

describe('Function: loadExpirySweeperConfig', () => {
  it('reads the table, region and event bus', () => {
    expect(loadExpirySweeperConfig({ ...env, COFFER_EVENT_BUS_NAME: 'coffer' })).toMatchObject({
      tableName: 'coffer-items',
      account: '123456789012',
      region: 'eu-west-1',
      eventBusName: 'coffer',
    });
    expect(loadExpirySweeperConfig(env).eventBusName).toBe('default');
    expect(() => loadExpirySweeperConfig({ ...env, COFFER_EVENT_BUS_NAME: 'a bus' })).toThrow(
      /^invalid configuration COFFER_EVENT_BUS_NAME: must be an event bus name or ARN$/,
    );
  });
});

describe('Function: createExpirySweeperHandler', () => {
  const eventBridge = mockClient(EventBridgeClient);
  afterEach(() => eventBridge.reset());

  it('publishes what fell due on EventBridge, once, with names and times only', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    let time = Date.UTC(2026, 6, 1);
    const clock = { now: () => time };
    const store = new MemoryStore();
    const secrets = new SecretService({ store, keyProvider: new FakeKeyProvider(), clock, region: 'eu-west-1' });
    await secrets.create({
      name: 'prod/api-key',
      value: { kind: 'string', string: 'not-to-be-seen' },
      expiration: { ttlSeconds: 3600, notifyBeforeSeconds: [600] },
    });
    const logged: unknown[] = [];
    const handler = createExpirySweeperHandler(env, {
      store,
      clock,
      clients: {
        dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
        kms: new KMSClient({ region: 'eu-west-1' }),
        eventBridge: new EventBridgeClient({ region: 'eu-west-1' }),
      },
      logger: { info: (_m, extra) => void logged.push(extra), error: () => undefined },
    });
    time += 3600_000;
    expect(await handler({})).toEqual({ published: 2, dropped: 0, failed: 0 });
    expect(await handler({})).toEqual({ published: 0, dropped: 0, failed: 0 });
    const entries = eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries![0]!);
    expect(entries.map((e) => [e.Source, e.DetailType, e.EventBusName])).toEqual([
      ['coffer.rotation', 'SecretExpiring', 'default'],
      ['coffer.rotation', 'SecretExpired', 'default'],
    ]);
    expect(JSON.parse(entries[0]!.Detail!)).toMatchObject({ secretName: 'prod/api-key', leadTimeSeconds: 600 });
    expect(JSON.stringify(entries)).not.toContain('not-to-be-seen');
    expect(logged[0]).toEqual({ published: 2, dropped: 0, failed: 0 });
  });
});
