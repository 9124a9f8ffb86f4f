import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lambdas/adapters/memory/memory-store.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { LeaseService } from '../../../lambdas/core/leases/lease-service.ts';
import type { ProviderRegistry } from '../../../lambdas/core/leases/lease-types.ts';
import { AwsEngine } from '../../../lambdas/engines/aws/aws-engine.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';
import { FakeDatabaseProvider, unusedOAuthProvider, unusedSshProvider } from '../../unit/core/leases/fake-provider.ts';

const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/*' }],
});

function setup() {
  const store = new MemoryStore();
  const emulator = awsEmulator();
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const sts = new STSClient(emulator);
  sts.middlewareStack.add(
    (next, context) => (args) => {
      sent.push({ name: context.commandName ?? '', input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  const aws = new AwsEngine({ store, sts });
  const providers = {
    database: new FakeDatabaseProvider(),
    aws,
    ssh: unusedSshProvider,
    oauth: unusedOAuthProvider,
  } satisfies ProviderRegistry;
  const leases = new LeaseService({ store, clock: { now: () => Date.now() }, providers });
  return { aws, leases, sent, emulator };
}

describe('Dynamic AWS credentials (STS AssumeRole, emulator)', () => {
  it('issues session credentials with the inline policy and the lease TTL, and they work', async () => {
    const { aws, leases, sent, emulator } = setup();
    await aws.putRole('reports', {
      role_arn: 'arn:aws:iam::123456789012:role/reports-reader',
      policy_document: POLICY,
      default_ttl: '20m',
      max_ttl: '1h',
    });
    const { lease, credential } = await leases.issue({ kind: 'aws', role: 'reports', principalId: 'alice' });
    expect(lease.leaseId).toMatch(/^aws\/creds\/reports\//);
    expect(lease.expiresAt - lease.issuedAt).toBe(20 * 60 * 1000);
    const assume = sent.find((c) => c.name === 'AssumeRoleCommand')!;
    expect(assume.input).toMatchObject({
      RoleArn: 'arn:aws:iam::123456789012:role/reports-reader',
      DurationSeconds: 1200,
      Policy: POLICY,
    });
    expect(credential.accessKeyId).toMatch(/^ASIA/);
    expect(credential.sessionToken.length).toBeGreaterThan(0);

    const asSession = new STSClient({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: {
        accessKeyId: credential.accessKeyId,
        secretAccessKey: credential.secretAccessKey,
        sessionToken: credential.sessionToken,
      },
    });
    const identity = await asSession.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toContain('assumed-role/reports-reader/coffer-reports-');

    expect(await leases.revoke(lease.leaseId)).toMatchObject({ revoked: true });
  });

  it('raises a TTL below the STS floor to 15 minutes at the target', async () => {
    const { aws, leases, sent } = setup();
    await aws.putRole('short', { role_arn: 'arn:aws:iam::123456789012:role/short', default_ttl: 900, max_ttl: 900 });
    await leases.issue({ kind: 'aws', role: 'short', principalId: 'alice', ttlSeconds: 60 });
    expect(sent.find((c) => c.name === 'AssumeRoleCommand')!.input.DurationSeconds).toBe(900);
  });

  it('refuses roles with TTLs outside what STS allows, or a policy that is not JSON', async () => {
    const { aws } = setup();
    const role_arn = 'arn:aws:iam::123456789012:role/r';
    await expect(aws.putRole('r', { role_arn, default_ttl: 60 })).rejects.toBeInstanceOf(ValidationError);
    await expect(aws.putRole('r', { role_arn, max_ttl: '13h' })).rejects.toBeInstanceOf(ValidationError);
    await expect(aws.putRole('r', { role_arn, policy_document: 'not json' })).rejects.toBeInstanceOf(ValidationError);
    await expect(aws.putRole('r', { role_arn: 'arn:aws:iam::1:user/x' })).rejects.toBeInstanceOf(ValidationError);
  });
});
