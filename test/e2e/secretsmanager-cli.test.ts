import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * The real `aws` CLI (v1 in the machine's Python, or v2 from Debian's `awscli`) against a running Coffer with
 * `--endpoint-url`, as a user with an existing shell script would call it. Only the endpoint and the credentials
 * differ from a script written for AWS.
 */
// The CLI signs for eu-west-1 (so the ARNs show the signing region), which the node serves only when told to.
const current = useServer({ COFFER_SIGV4_REGIONS: 'eu-west-1' });
let env: NodeJS.ProcessEnv;

interface AwsResult {
  code: number;
  stdout: string;
  stderr: string;
}

function aws(args: string[]): Promise<AwsResult> {
  return new Promise((resolve) => {
    execFile(
      'aws',
      ['secretsmanager', ...args, '--endpoint-url', current().address, '--output', 'json'],
      { env, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(args: string[]): Promise<Record<string, unknown>> {
  const result = await aws(args);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim() === '' ? {} : (JSON.parse(result.stdout) as Record<string, unknown>);
}

beforeAll(async () => {
  const { address, rootToken } = current();
  await api(address, rootToken, 'PUT', '/v1/sys/policies/cli', {
    rules: [{ path: 'secrets/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }],
  });
  const created = await runCli(['access-key', 'create', '--principal', 'shell', '--policy', 'cli', '-o', 'json'], {
    env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken },
  });
  const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_DEFAULT_REGION: 'eu-west-1',
    // Never a developer's own profile or credentials.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_MAX_ATTEMPTS: '1',
  };
});

describe('aws secretsmanager CLI against Coffer', () => {
  it('covers create, get, put, list, describe, update-secret-version-stage, delete, restore and batch-get', async () => {
    const name = `cli/${randomUUID().slice(0, 8)}`;
    const created = await ok(['create-secret', '--name', name, '--secret-string', '{"user":"app","password":"pw-1"}']);
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:eu-west-1:/);
    const v1 = created.VersionId as string;

    const got = await ok(['get-secret-value', '--secret-id', name]);
    expect(got.SecretString).toBe('{"user":"app","password":"pw-1"}');
    // Epoch seconds on the wire: CLI v1 prints them as they come, v2 as ISO 8601. Either way, it is today.
    const createdMs =
      typeof got.CreatedDate === 'number' ? got.CreatedDate * 1000 : Date.parse(String(got.CreatedDate));
    expect(Math.abs(createdMs - Date.now())).toBeLessThan(3_600_000);

    const put = await ok(['put-secret-value', '--secret-id', name, '--secret-string', 'pw-2']);
    const v2 = put.VersionId as string;
    expect(put.VersionStages).toEqual(['AWSCURRENT']);

    const listed = await ok(['list-secrets', '--filters', `Key=name,Values=${name}`]);
    expect((listed.SecretList as { Name: string }[]).map((s) => s.Name)).toEqual([name]);

    const described = await ok(['describe-secret', '--secret-id', created.ARN as string]);
    expect(described.VersionIdsToStages).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });

    // Roll back: AWSCURRENT to v1 must name the version it leaves.
    const refused = await aws([
      'update-secret-version-stage',
      '--secret-id',
      name,
      '--version-stage',
      'AWSCURRENT',
      '--move-to-version-id',
      v1,
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('InvalidParameterException');
    await ok([
      'update-secret-version-stage',
      '--secret-id',
      name,
      '--version-stage',
      'AWSCURRENT',
      '--move-to-version-id',
      v1,
      '--remove-from-version-id',
      v2,
    ]);
    expect((await ok(['get-secret-value', '--secret-id', name])).VersionId).toBe(v1);

    const batch = await ok(['batch-get-secret-value', '--secret-id-list', name, `${name}-missing`]);
    expect((batch.SecretValues as { Name: string }[]).map((v) => v.Name)).toEqual([name]);
    expect((batch.Errors as { ErrorCode: string }[])[0]?.ErrorCode).toBe('ResourceNotFoundException');

    const deleted = await ok(['delete-secret', '--secret-id', name, '--recovery-window-in-days', '7']);
    expect(deleted.DeletionDate).toBeDefined();
    const pending = await aws(['get-secret-value', '--secret-id', name]);
    expect(pending.code).not.toBe(0);
    expect(pending.stderr).toContain('InvalidRequestException');

    await ok(['restore-secret', '--secret-id', name]);
    expect((await ok(['get-secret-value', '--secret-id', name])).SecretString).toBe('{"user":"app","password":"pw-1"}');
  });

  it('shows AWS error names to the CLI user', async () => {
    const missing = await aws(['get-secret-value', '--secret-id', `cli/none-${randomUUID().slice(0, 8)}`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('ResourceNotFoundException');
    const badKey = { ...env, AWS_SECRET_ACCESS_KEY: 'wrong' };
    const forged = await new Promise<AwsResult>((resolve) => {
      execFile(
        'aws',
        ['secretsmanager', 'list-secrets', '--endpoint-url', current().address],
        { env: badKey, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }),
      );
    });
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain('InvalidSignatureException');
  }, 120_000);
});
