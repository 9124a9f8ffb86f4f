import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidRequestError } from '../../../../lambdas/core/errors.ts';
import { AwsRegionMissingError, stsClientFor } from '../../../../lambdas/engines/aws/sts-client.ts';
import { tempDir } from '../../../support/server-process.ts';

const assume = new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/deploy', RoleSessionName: 's' });

describe('Function: stsClientFor', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    // Nothing of this machine's AWS set-up may leak in: no region variables, and shared files the test controls.
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_CONFIG_FILE', path.join(tmp.dir, 'config'));
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(tmp.dir, 'credentials'));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    tmp.cleanup();
  });

  it('uses the region it is given', async () => {
    expect(await stsClientFor('eu-west-1').config.region()).toBe('eu-west-1');
  });

  it("falls back on the shared config file's region, as the SDK would", async () => {
    writeFileSync(path.join(tmp.dir, 'config'), '[default]\nregion = ap-southeast-2\n');
    expect(await stsClientFor(undefined).config.region()).toBe('ap-southeast-2');
  });

  it('fails a call with a named client error, saying what to set, when no region is configured anywhere', async () => {
    const err = await stsClientFor(undefined)
      .send(assume)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsRegionMissingError);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as Error).name).toBe('AwsRegionMissingError');
    expect((err as Error).message).toBe(
      'AWS credentials need a region: set AWS_REGION (or AWS_DEFAULT_REGION) for the server',
    );
  });
});
