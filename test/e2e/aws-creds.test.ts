import path from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsEmulator } from '../support/aws-emulator.ts';
import { runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';

/**
 * `aws/<role>` dynamic credentials through the real server and CLI, with STS played by the emulator: the server gets
 * the emulator's endpoint and dummy credentials through the standard AWS environment, as a user's node would get
 * real ones.
 */
let server: ServerProcess;
let cleanup: () => void;
const emulator = () => awsEmulator();

beforeAll(async () => {
  const tmp = tempDir();
  cleanup = tmp.cleanup;
  const { endpoint, region, credentials } = emulator();
  server = await startServer(path.join(tmp.dir, 'data'), {
    AWS_ENDPOINT_URL: endpoint,
    // The region as the aws CLI's users set it: the SDK alone reads only AWS_REGION, so the node must pass it on.
    AWS_REGION: '',
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  });
});
afterAll(async () => {
  await server?.stop();
  cleanup?.();
});

const cli = (args: string[]) => runCli(args, { env: { COFFER_ADDR: server.address, COFFER_TOKEN: server.rootToken } });

describe('coffer creds get aws/<role>', () => {
  it('issues working STS session credentials under a lease, capped by the role, and refuses an unknown role', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }],
    });
    const put = await cli([
      'aws',
      'role',
      'put',
      'deploy',
      '--role-arn',
      'arn:aws:iam::123456789012:role/deploy',
      '--policy-document',
      policy,
      '--default-ttl',
      '15m',
      '--max-ttl',
      '1h',
    ]);
    expect(put.code, put.stderr).toBe(0);

    const issued = await cli(['creds', 'get', 'aws/deploy', '-o', 'json']);
    expect(issued.code, issued.stderr).toBe(0);
    const creds = JSON.parse(issued.stdout) as {
      leaseId: string;
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string;
      leaseDuration: number;
    };
    expect(creds.leaseId).toMatch(/^aws\/creds\/deploy\//);
    expect(creds.leaseDuration).toBeGreaterThan(14 * 60);
    expect(creds.leaseDuration).toBeLessThanOrEqual(15 * 60);

    const sts = new STSClient({
      endpoint: emulator().endpoint,
      region: 'us-east-1',
      credentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
      },
    });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toMatch(/assumed-role\/deploy\/coffer-deploy-/);

    // A TTL beyond the role's max_ttl is capped to it, as Vault does.
    const tooLong = await cli(['creds', 'get', 'aws/deploy', '--ttl', '2h', '-o', 'json']);
    expect(tooLong.code, tooLong.stderr).toBe(0);
    const capped = JSON.parse(tooLong.stdout) as { leaseDuration: number; leaseId: string };
    expect(capped.leaseDuration).toBeLessThanOrEqual(3600);
    expect(capped.leaseDuration).toBeGreaterThan(3500);
    const unknown = await cli(['creds', 'get', 'aws/nope']);
    expect(unknown.code).toBe(3);

    const listed = await cli(['lease', 'list', '--prefix', 'aws/creds/deploy', '-o', 'json']);
    expect(listed.stdout).toContain(creds.leaseId);
    expect(listed.stdout).not.toContain(creds.secretAccessKey);

    // A deleted role issues nothing more; its live leases stay listed and revocable.
    expect((await cli(['aws', 'role', 'delete', 'deploy'])).code).toBe(0);
    expect((await cli(['creds', 'get', 'aws/deploy'])).code).toBe(3);
    expect((await cli(['lease', 'revoke', creds.leaseId])).code).toBe(0);
    expect((await cli(['lease', 'revoke', capped.leaseId])).code).toBe(0);
  }, 180_000);
});
