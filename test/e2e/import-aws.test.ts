import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { awsEmulator } from '../support/aws-emulator.ts';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * `coffer import aws-sm` against AWS Secrets Manager as the emulator (moto) plays it: the CLI reads with the SDK's
 * default chain (the standard AWS variables name the emulator), and writes into the real Coffer server.
 */
const current = useServer();
const sm = () => {
  const { endpoint, region, credentials } = awsEmulator();
  return new SecretsManagerClient({ endpoint, region, credentials });
};
afterAll(() => sm().destroy());

const awsEnv = () => {
  const { endpoint, region, credentials } = awsEmulator();
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
};

const cli = (args: string[]) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken, ...awsEnv() } });

async function coffer(method: string, path: string) {
  const got = await api(current().address, current().rootToken, method, path);
  return got.body as Record<string, unknown>;
}

describe('coffer import aws-sm', () => {
  it('imports every version with its labels and id, the description, tags and binary values', async () => {
    const client = sm();
    const prefix = `mig${randomUUID().slice(0, 6)}`;
    const ids = Array.from({ length: 4 }, () => randomUUID());
    await client.send(
      new CreateSecretCommand({
        Name: `${prefix}/db`,
        Description: 'orders database',
        SecretString: 'pw-1',
        ClientRequestToken: ids[0],
        Tags: [{ Key: 'team', Value: 'orders' }],
      }),
    );
    await client.send(
      new PutSecretValueCommand({ SecretId: `${prefix}/db`, SecretString: 'pw-2', ClientRequestToken: ids[1] }),
    );
    await client.send(
      new PutSecretValueCommand({ SecretId: `${prefix}/db`, SecretString: 'pw-3', ClientRequestToken: ids[2] }),
    );
    await client.send(
      new PutSecretValueCommand({
        SecretId: `${prefix}/db`,
        SecretString: 'pw-4',
        ClientRequestToken: ids[3],
        VersionStages: ['AWSPENDING'],
      }),
    );
    await client.send(
      new UpdateSecretVersionStageCommand({ SecretId: `${prefix}/db`, VersionStage: 'blue', MoveToVersionId: ids[0] }),
    );
    await client.send(new CreateSecretCommand({ Name: `${prefix}/cert`, SecretBinary: Buffer.from([0, 1, 2, 255]) }));

    const planned = await cli(['import', `aws-sm:${prefix}/`, '--dry-run', '-o', 'json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(
      (JSON.parse(planned.stdout).plan as Array<{ name: string; action: string }>)
        .map((p) => [p.name, p.action])
        .sort(),
    ).toEqual([
      [`${prefix}/cert`, 'create'],
      [`${prefix}/db`, 'create'],
    ]);

    const done = await cli(['import', `aws-sm:${prefix}/`, '-o', 'json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).summary).toEqual([
      { source: `aws-sm:${prefix}/`, created: 2, updated: 0, skipped: 0, failed: 0 },
    ]);
    expect(done.stdout + done.stderr).not.toContain('pw-');

    const described = await coffer('GET', `/v1/secret/metadata/${prefix}/db`);
    expect(described.description).toBe('orders database');
    expect(described.tags).toEqual({ team: 'orders' });
    expect(described.versionIdsToStages).toEqual({
      [ids[0]!]: ['blue'],
      [ids[2]!]: ['AWSCURRENT'],
      [ids[1]!]: ['AWSPREVIOUS'],
      [ids[3]!]: ['AWSPENDING'],
    });
    for (const [i, id] of ids.entries()) {
      expect((await coffer('GET', `/v1/secret/data/${prefix}/db?versionId=${id}`)).value).toBe(`pw-${i + 1}`);
    }
    expect((await coffer('GET', `/v1/secret/data/${prefix}/cert`)).binary).toBe(
      Buffer.from([0, 1, 2, 255]).toString('base64'),
    );

    // A second run finds them all and skips them.
    const again = await cli(['import', `aws-sm:${prefix}/`, '-o', 'json']);
    expect(JSON.parse(again.stdout).summary[0]).toMatchObject({ created: 0, skipped: 2 });
  });

  it('fails with the exit code for an unreachable service when Secrets Manager cannot be read', async () => {
    const done = await runCli(['import', 'aws-sm'], {
      env: {
        COFFER_ADDR: current().address,
        COFFER_TOKEN: current().rootToken,
        ...awsEnv(),
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        AWS_MAX_ATTEMPTS: '1',
      },
    });
    expect(done.code).toBe(6);
    expect(done.stderr).toContain('cannot read AWS Secrets Manager');
  });
});
