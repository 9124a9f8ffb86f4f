import type { STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { DependencyUnavailableError, InternalError, NotFoundError } from '../../../../lambdas/core/errors.ts';
import { AwsEngine } from '../../../../lambdas/engines/aws/aws-engine.ts';
import { AwsRegionMissingError } from '../../../../lambdas/engines/aws/sts-client.ts';

const ROLE = { role_arn: 'arn:aws:iam::123456789012:role/deploy' };

function engine(send: Pick<STSClient, 'send'>['send'] = async () => ({})) {
  return new AwsEngine({ store: new MemoryStore(), sts: { send } as Pick<STSClient, 'send'> });
}

describe('Class: AwsEngine', () => {
  it('lists role names in name order, and none on a new store', async () => {
    const aws = engine();
    expect(await aws.listRoles()).toEqual([]);
    for (const name of ['web', 'deploy', 'reports']) await aws.putRole(name, ROLE);
    expect(await aws.listRoles()).toEqual(['deploy', 'reports', 'web']);
  });

  it('lists every role, past one page of the store', async () => {
    const aws = engine();
    const names = Array.from({ length: 1005 }, (_, i) => `r${String(i).padStart(4, '0')}`);
    for (const name of names) await aws.putRole(name, ROLE);
    expect(await aws.listRoles()).toEqual(names);
  });

  it('deletes a role, after which it is not found, and refuses an unknown one', async () => {
    const aws = engine();
    await aws.putRole('deploy', ROLE);
    await aws.deleteRole('deploy');
    await expect(aws.getRole('deploy')).rejects.toThrow(NotFoundError);
    expect(await aws.listRoles()).toEqual([]);
    await expect(aws.deleteRole('deploy')).rejects.toThrow(NotFoundError);
  });

  it('passes a missing region through as its named error, for the caller to read', async () => {
    const aws = engine(async () => {
      throw new AwsRegionMissingError();
    });
    await aws.putRole('deploy', ROLE);
    await expect(aws.issue('deploy', 900)).rejects.toThrow(AwsRegionMissingError);
  });

  it('names any other STS failure in an internal error, keeping the cause for the log', async () => {
    const failure = Object.assign(new Error('no credentials anywhere'), { name: 'CredentialsProviderError' });
    const aws = engine(async () => {
      throw failure;
    });
    await aws.putRole('deploy', ROLE);
    const err = await aws.issue('deploy', 900).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).message).toBe('STS AssumeRole failed: CredentialsProviderError');
    expect((err as InternalError).cause).toBe(failure);
  });

  it('answers STS throttling past the SDK retries as a dependency unavailable (503), naming only the error', async () => {
    const throttled = Object.assign(new Error('Rate exceeded for arn:aws:iam::123456789012:role/deploy'), {
      name: 'Throttling',
      $fault: 'client',
    });
    const aws = engine(async () => {
      throw throttled;
    });
    await aws.putRole('deploy', ROLE);
    const err = await aws.issue('deploy', 900).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as Error).message).toBe(
      'STS AssumeRole is unavailable (Throttling) after retries; no credential was issued: retry later',
    );
    expect((err as Error).cause).toBe(throttled);
  });
});
