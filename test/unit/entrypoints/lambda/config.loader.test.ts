import { describe, expect, it } from 'vitest';
import { AuditRelayConfigSchema, loadAuditRelayConfig } from '../../../../lambdas/entrypoints/lambda/audit-relay.ts';
import {
  AwsConfigSchema,
  LambdaSettings,
  loadAwsConfig,
  loadLambdaConfig,
} from '../../../../lambdas/entrypoints/lambda/config.ts';
import {
  LeaseSweeperConfigSchema,
  loadLeaseSweeperConfig,
} from '../../../../lambdas/entrypoints/lambda/lease-sweeper.ts';

const ACCOUNT = '123456789012';
const env = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  COFFER_AUDIT_BUCKET: 'coffer-audit',
  COFFER_AUDIT_SALT: Buffer.alloc(32, 7).toString('base64'),
  AWS_REGION: 'eu-west-1',
};

const functionSchemas = {
  broker: AwsConfigSchema,
  'lease sweeper': LeaseSweeperConfigSchema,
  'audit relay': AuditRelayConfigSchema,
};

describe('Function: loadLambdaConfig', () => {
  it('reads only the variables the schema names, an empty one counting as unset', () => {
    const schema = LambdaSettings.pick({ AWS_REGION: true, COFFER_ACCOUNT_ID: true }).transform((settings) => settings);
    expect(loadLambdaConfig(schema, { AWS_REGION: 'eu-west-1', COFFER_ACCOUNT_ID: '', UNRELATED: 'x' })).toEqual({
      AWS_REGION: 'eu-west-1',
    });
  });

  it('names the bad setting and never quotes its value', () => {
    const schema = LambdaSettings.pick({ COFFER_ACCOUNT_ID: true }).transform((settings) => settings);
    let message = '';
    try {
      loadLambdaConfig(schema, { COFFER_ACCOUNT_ID: 'not-an-account-9431' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('invalid configuration COFFER_ACCOUNT_ID: must be 12 digits');
  });

  it.each(Object.entries(functionSchemas))(
    'gives the %s the shared definition of every shared setting',
    (_, schema) => {
      const shape: Record<string, unknown> = schema.in.shape;
      for (const [name, definition] of Object.entries(LambdaSettings.shape)) {
        if (name in shape) expect(shape[name], name).toBe(definition);
      }
    },
  );

  it('reads COFFER_EGRESS_ALLOW alike in every function that connects out', () => {
    const allow = 'db.example.com:5432,api.example.com:443';
    expect(loadAwsConfig({ ...env, COFFER_EGRESS_ALLOW: allow }).egressAllow).toBe(allow);
    expect(loadLeaseSweeperConfig({ ...env, COFFER_EGRESS_ALLOW: allow }).egressAllow).toBe(allow);
    expect(loadAwsConfig({ ...env, COFFER_EGRESS_ALLOW: '' }).egressAllow).toBe('');
    expect(loadLeaseSweeperConfig(env).egressAllow).toBe('');
    const tooLong = 'a'.repeat(8193);
    expect(() => loadAwsConfig({ ...env, COFFER_EGRESS_ALLOW: tooLong })).toThrow(
      /^invalid configuration COFFER_EGRESS_ALLOW: /,
    );
    expect(() => loadLeaseSweeperConfig({ ...env, COFFER_EGRESS_ALLOW: tooLong })).toThrow(
      /^invalid configuration COFFER_EGRESS_ALLOW: /,
    );
  });

  it('fails the audit relay naming the setting, as the other functions', () => {
    expect(() => loadAuditRelayConfig({ ...env, COFFER_AUDIT_BUCKET: 'Not_A_Bucket' })).toThrow(
      /^invalid configuration COFFER_AUDIT_BUCKET: must be an S3 bucket name$/,
    );
    expect(loadAuditRelayConfig(env)).toEqual({
      tableName: 'coffer-items',
      auditBucket: 'coffer-audit',
      outboxScope: undefined,
      streamId: 'outbox',
      region: 'eu-west-1',
      endpoint: undefined,
    });
  });

  it('gives a replica region’s relay its scope and a chain head of its own', () => {
    const scoped = loadAuditRelayConfig({ ...env, COFFER_AUDIT_OUTBOX_SCOPE: 'us-west-2' });
    expect(scoped).toMatchObject({ outboxScope: 'us-west-2', streamId: 'outbox-us-west-2' });
    expect(loadAwsConfig({ ...env, COFFER_AUDIT_OUTBOX_SCOPE: 'us-west-2' }).outboxScope).toBe('us-west-2');
    expect(() => loadAuditRelayConfig({ ...env, COFFER_AUDIT_OUTBOX_SCOPE: 'US West' })).toThrow(
      /^invalid configuration COFFER_AUDIT_OUTBOX_SCOPE: must be a region name$/,
    );
  });
});
