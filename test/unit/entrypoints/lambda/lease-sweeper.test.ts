import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLeaseSweeperHandler,
  loadLeaseSweeperConfig,
} from '../../../../lambdas/entrypoints/lambda/lease-sweeper.ts';

const env = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  AWS_REGION: 'eu-west-1',
};

describe('Function: loadLeaseSweeperConfig', () => {
  it('reads the table, envelope key and region, taking the account from the key ARN', () => {
    expect(loadLeaseSweeperConfig(env)).toEqual({
      tableName: 'coffer-items',
      envelopeKeyArn: env.COFFER_ENVELOPE_KEY_ARN,
      account: '123456789012',
      region: 'eu-west-1',
      storeRegion: 'eu-west-1',
      endpoint: undefined,
      egressAllow: '',
    });
    expect(loadLeaseSweeperConfig({ ...env, COFFER_EGRESS_ALLOW: 'db.example.com:5432' }).egressAllow).toBe(
      'db.example.com:5432',
    );
  });

  it('fails naming the setting', () => {
    expect(() => loadLeaseSweeperConfig({ ...env, COFFER_ENVELOPE_KEY_ARN: 'alias/coffer' })).toThrow(
      /^invalid configuration COFFER_ENVELOPE_KEY_ARN: must be a KMS key ARN$/,
    );
    const { COFFER_TABLE_NAME: _table, ...noTable } = env;
    expect(() => loadLeaseSweeperConfig(noTable)).toThrow(/^invalid configuration COFFER_TABLE_NAME: is required$/);
  });
});

describe('Function: createLeaseSweeperHandler', () => {
  const dynamodb = mockClient(DynamoDBClient);
  afterEach(() => dynamodb.reset());
  const clients = () => ({
    dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
    kms: new KMSClient({ region: 'eu-west-1' }),
    sts: new STSClient({ region: 'eu-west-1' }),
  });

  it('runs one sweep pass per invocation and reports what it did', async () => {
    dynamodb.onAnyCommand().resolves({ Items: [] });
    const logged: unknown[] = [];
    const handler = createLeaseSweeperHandler(env, {
      clients: clients(),
      logger: { info: (_message, extra) => void logged.push(extra), error: () => undefined },
    });
    expect(await handler({})).toEqual({ revoked: 0, failed: 0, abandoned: 0 });
    expect(dynamodb.calls().length).toBeGreaterThan(0);
    expect(logged).toEqual([{ revoked: 0, failed: 0, abandoned: 0 }]);
  });

  it('rejects, logging only the error name and message, when the pass cannot run', async () => {
    dynamodb.onAnyCommand().rejects(Object.assign(new Error('table gone'), { name: 'ResourceNotFoundException' }));
    const errors: unknown[] = [];
    const handler = createLeaseSweeperHandler(env, {
      clients: clients(),
      logger: { info: () => undefined, error: (_message, extra) => void errors.push(extra) },
    });
    await expect(handler({})).rejects.toThrow();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ error: { name: expect.any(String) } });
  });
});
