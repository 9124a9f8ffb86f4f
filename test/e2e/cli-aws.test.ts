import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * `coffer aws role …`, and a node given no region at all: no COFFER_REGION, no AWS_REGION or AWS_DEFAULT_REGION, no
 * shared AWS config. Its secrets' ARNs are in us-east-1, and `aws/<role>` credentials (which need STS in a region)
 * are refused with an error that says what to set. No emulator: nothing here reaches STS.
 */
const current = useServer({
  COFFER_REGION: '',
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
  AWS_PROFILE: '',
  AWS_ENDPOINT_URL: '',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
});
const files = tempDir('coffer-cli-aws-');
afterAll(() => files.cleanup());

const cli = (args: string[], input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken }, input });
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }],
});
const REGION_MESSAGE = 'AWS credentials need a region: set AWS_REGION (or AWS_DEFAULT_REGION) for the server';

describe('coffer aws role', () => {
  it('puts a role from a file with flags overriding its fields, and gets, lists and deletes it, in json and table', async () => {
    const body = path.join(files.dir, 'body.json');
    writeFileSync(
      body,
      JSON.stringify({ role_arn: 'arn:aws:iam::123456789012:role/from-file', default_ttl: '20m', max_ttl: '2h' }),
    );
    const policyFile = path.join(files.dir, 'policy.json');
    writeFileSync(policyFile, `${POLICY}\n`);

    const put = await cli([
      'aws',
      'role',
      'put',
      'deploy',
      '--file',
      body,
      '--role-arn',
      'arn:aws:iam::123456789012:role/deploy',
      '--policy-file',
      policyFile,
      '--max-leases',
      '5',
      '-o',
      'json',
    ]);
    expect(put.code, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout)).toEqual({
      name: 'deploy',
      role_arn: 'arn:aws:iam::123456789012:role/deploy',
      policy_document: POLICY,
      default_ttl: 1200,
      max_ttl: 7200,
      max_leases: 5,
    });

    const table = await cli(['aws', 'role', 'get', 'deploy', '-o', 'table']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^role_arn\s+arn:aws:iam::123456789012:role\/deploy$/m);
    expect(table.stdout).toMatch(/^default_ttl\s+1200s$/m);
    expect(table.stdout).toMatch(/^max_ttl\s+7200s$/m);
    expect(table.stdout).toMatch(/^max_leases\s+5$/m);
    expect(() => JSON.parse(table.stdout)).toThrow();

    const inline = await cli([
      'aws',
      'role',
      'put',
      'web',
      '--role-arn',
      'arn:aws:iam::123456789012:role/web',
      '--policy-document',
      POLICY,
      '--default-ttl',
      '15m',
    ]);
    expect(inline.code, inline.stderr).toBe(0);
    expect(inline.stdout).toMatch(/^default_ttl\s+900s$/m);
    expect(JSON.parse((await cli(['aws', 'role', 'get', 'web', '-o', 'json'])).stdout)).toMatchObject({
      name: 'web',
      policy_document: POLICY,
      default_ttl: 900,
      max_ttl: 43_200,
    });

    const listed = await cli(['aws', 'role', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toBe('deploy\nweb\n');
    expect(JSON.parse((await cli(['aws', 'role', 'list', '-o', 'json'])).stdout)).toEqual({ roles: ['deploy', 'web'] });

    const deleted = await cli(['aws', 'role', 'delete', 'web']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe('deleted aws role web\n');
    const deletedJson = await cli(['aws', 'role', 'delete', 'deploy', '-o', 'json']);
    expect(JSON.parse(deletedJson.stdout)).toEqual({ deleted: 'deploy' });
    expect((await cli(['aws', 'role', 'list'])).stdout).toBe('(none)\n');
    expect(JSON.parse((await cli(['aws', 'role', 'list', '-o', 'json'])).stdout)).toEqual({ roles: [] });

    const gone = await cli(['aws', 'role', 'get', 'deploy']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('aws role deploy not found');
    expect((await cli(['aws', 'role', 'delete', 'deploy'])).code).toBe(3);
  });

  it('refuses bad input with exit 2 and says why', async () => {
    const bothPolicies = await cli([
      'aws',
      'role',
      'put',
      'x',
      '--role-arn',
      'arn:aws:iam::123456789012:role/x',
      '--policy-document',
      POLICY,
      '--policy-file',
      path.join(files.dir, 'policy.json'),
    ]);
    expect(bothPolicies.code).toBe(2);
    expect(bothPolicies.stderr).toContain('--policy-file or --policy-document, not both');

    const notAnArn = await cli(['aws', 'role', 'put', 'x', '--role-arn', 'arn:aws:s3:::bucket']);
    expect(notAnArn.code).toBe(2);
    expect(notAnArn.stderr).toContain('must be an IAM role ARN');

    const missingFile = await cli(['aws', 'role', 'put', 'x', '--policy-file', path.join(files.dir, 'absent.json')]);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('--policy-file: cannot read');
    expect(JSON.parse((await cli(['aws', 'role', 'list', '-o', 'json'])).stdout)).toEqual({ roles: [] });
  });
});

describe('aws/<role> credentials on a node without an AWS region', () => {
  it('answers a named 400 that says what to set, logs no stack, and keeps no lease', async () => {
    const put = await cli(['aws', 'role', 'put', 'ci', '--role-arn', 'arn:aws:iam::123456789012:role/ci']);
    expect(put.code, put.stderr).toBe(0);

    const issued = await cli(['creds', 'get', 'aws/ci']);
    expect(issued.code).toBe(2);
    expect(issued.stderr).toContain(REGION_MESSAGE);

    const { address, rootToken } = current();
    const res = await api(address, rootToken, 'GET', '/v1/aws/creds/ci');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', message: REGION_MESSAGE });

    const leases = await cli(['lease', 'list', '--prefix', 'aws/creds/ci', '-o', 'json']);
    expect(JSON.parse(leases.stdout)).toEqual({ leases: [] });
    // A client error: nothing for the operator to decode in the server's log, and no SDK stack.
    expect(current().output()).not.toContain('Region is missing');
    expect(current().output()).not.toContain('failed:');
  });
});

describe('secret ARNs on a node given no region', () => {
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/region-check', {
      rules: [{ path: 'secrets/region/*', capabilities: ['create', 'read', 'update', 'list'] }],
    });
    const created = await cli([
      'access-key',
      'create',
      '--principal',
      'shell',
      '--policy',
      'region-check',
      '-o',
      'json',
    ]);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
      AWS_MAX_ATTEMPTS: '1',
    };
  });

  function aws(args: string[]): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      execFile(
        'aws',
        ['secretsmanager', ...args, '--region', 'us-east-1', '--endpoint-url', current().address, '--output', 'json'],
        { env, timeout: 60_000 },
        (err, stdout, stderr) => (err === null ? resolve(JSON.parse(stdout)) : reject(new Error(stderr))),
      );
    });
  }

  it('are in us-east-1, the same through `coffer secret` and through the aws CLI signing for us-east-1', async () => {
    const created = await cli(['secret', 'create', 'region/native', '-o', 'json'], 'v1');
    expect(created.code, created.stderr).toBe(0);
    const { arn } = JSON.parse(created.stdout) as { arn: string };
    expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:region\/native-[A-Za-z0-9]{6}$/);
    expect((await aws(['describe-secret', '--secret-id', 'region/native'])).ARN).toBe(arn);
    expect((await aws(['get-secret-value', '--secret-id', arn])).SecretString).toBe('v1');

    const viaSm = await aws(['create-secret', '--name', 'region/sm', '--secret-string', 'v2']);
    const described = await cli(['secret', 'describe', 'region/sm', '-o', 'json']);
    expect(JSON.parse(described.stdout).arn).toBe(viaSm.ARN);
    expect(viaSm.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:region\/sm-/);
  });
});
