import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsClientEnv } from '../support/aws-client-env.ts';
import { useServer } from '../support/use-server.ts';

/**
 * The real `aws` CLI (v1 in the machine's Python, or v2 from Debian's `awscli`) against a running Coffer with
 * `--endpoint-url`, as a user with an existing shell script would call it. Only the endpoint and the credentials
 * differ from a script written for AWS.
 */
// The CLI signs for eu-west-1 (so the ARNs show the signing region), which the node serves only when told to.
const current = useServer({ COFFER_SIGV4_REGIONS: 'eu-west-1,us-west-2' });
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
  env = await awsClientEnv(current(), { principal: 'shell', region: 'eu-west-1' });
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

  it('filters ListSecrets and BatchGetSecretValue by words and prefixes as AWS does', async () => {
    // LocalStack's AWS-validated `test_list_secrets_filtering` descriptions, and the user guide's tag examples.
    const p = `f${randomUUID().slice(0, 8)}`;
    const secrets: [string, string, string[]][] = [
      [`${p}/one`, 'a secret', ['Key=Env,Value=Production']],
      [`${p}/two`, 'an secret', ['Key=Env,Value=prod']],
      [`${p}/three`, 'asecret', []],
      [`${p}/four`, 'thesecret', ['Key=Team,Value=blue']],
    ];
    for (const [name, description, tags] of secrets) {
      await ok([
        'create-secret',
        '--name',
        name,
        '--description',
        description,
        '--secret-string',
        'x',
        ...(tags.length === 0 ? [] : ['--tags', ...tags]),
      ]);
    }
    // Scoped to this test's secrets by a name filter: filters are ANDed.
    const listed = async (key: string, values: string[]) => {
      const filters = JSON.stringify([
        { Key: 'name', Values: [p] },
        { Key: key, Values: values },
      ]);
      const out = await ok(['list-secrets', '--filters', filters]);
      return (out.SecretList as { Name: string }[]).map((s) => s.Name.slice(p.length + 1));
    };
    expect(await listed('description', ['a'])).toEqual(['one', 'two', 'three']);
    expect(await listed('description', ['a secret'])).toEqual(['one', 'two']);
    expect(await listed('description', ['!a'])).toEqual(['four']);
    expect(await listed('description', ['A SECRET'])).toEqual(['one', 'two']);
    expect(await listed('tag-key', ['!Env'])).toEqual(['three', 'four']);
    expect(await listed('tag-value', ['Prod'])).toEqual(['one']);
    expect(await listed('all', ['blue'])).toEqual(['four']);
    expect(await listed('all', ['secret'])).toEqual(['one', 'two']);
    expect(await listed('name', [`${p}/t`])).toEqual(['two', 'three']);

    const batch = await ok([
      'batch-get-secret-value',
      '--filters',
      JSON.stringify([
        { Key: 'name', Values: [p] },
        { Key: 'description', Values: ['a secret'] },
      ]),
    ]);
    expect((batch.SecretValues as { Name: string }[]).map((v) => v.Name)).toEqual([`${p}/one`, `${p}/two`]);

    const noValues = await aws(['list-secrets', '--filters', '[{"Key":"description"}]']);
    expect(noValues.code).not.toBe(0);
    expect(noValues.stderr).toContain('(InvalidParameterException)');
    expect(noValues.stderr).toContain('Invalid filter values for key: description');
  }, 120_000);

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

  it('replicates with --region: replicate-secret-to-regions, describe-secret in each region, stop-replication-to-replica', async () => {
    const name = `cli/${randomUUID().slice(0, 8)}`;
    await ok(['create-secret', '--name', name, '--secret-string', 'v1']);
    const replicated = await ok([
      'replicate-secret-to-regions',
      '--secret-id',
      name,
      '--add-replica-regions',
      'Region=us-west-2',
    ]);
    expect((replicated.ReplicationStatus as { Region: string }[]).map((r) => r.Region)).toEqual(['us-west-2']);
    // Asynchronous, as in AWS: poll the primary's status.
    let status = '';
    for (let i = 0; i < 100 && status !== 'InSync'; i++) {
      const described = await ok(['describe-secret', '--secret-id', name]);
      status = (described.ReplicationStatus as { Status: string }[])[0]!.Status;
      if (status !== 'InSync') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('InSync');
    const atReplica = await ok(['describe-secret', '--secret-id', name, '--region', 'us-west-2']);
    expect(atReplica.PrimaryRegion).toBe('eu-west-1');
    expect(atReplica.ARN).toMatch(/^arn:aws:secretsmanager:us-west-2:/);
    expect((await ok(['get-secret-value', '--secret-id', name, '--region', 'us-west-2'])).SecretString).toBe('v1');
    const refused = await aws([
      'put-secret-value',
      '--secret-id',
      name,
      '--secret-string',
      'x',
      '--region',
      'us-west-2',
    ]);
    expect(refused.stderr).toContain('Operation not permitted on a replica secret');
    await ok(['stop-replication-to-replica', '--secret-id', name, '--region', 'us-west-2']);
    expect((await ok(['describe-secret', '--secret-id', name, '--region', 'us-west-2'])).PrimaryRegion).toBeUndefined();
    await ok(['put-secret-value', '--secret-id', name, '--secret-string', 'v2', '--region', 'us-west-2']);
    expect((await ok(['get-secret-value', '--secret-id', name])).SecretString).toBe('v1');
  }, 120_000);
});
