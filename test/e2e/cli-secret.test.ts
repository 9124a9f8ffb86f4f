import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

const current = useServer();

const cli = (args: string[], input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken }, input });

const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

describe('coffer secret: values and labels as a newcomer uses them', () => {
  it('create takes its first value from a pipe', async () => {
    const name = unique('piped');
    expect((await cli(['secret', 'create', name], 'x')).code).toBe(0);
    expect((await cli(['secret', 'get', name])).stdout).toBe('x\n');
  });

  it('create and put refuse an empty pipe with the usage exit code, and store nothing', async () => {
    const name = unique('empty');
    const create = await cli(['secret', 'create', name], '');
    expect(create.code).toBe(2);
    expect(create.stderr).toContain('no value: pass --file or pipe it on stdin');
    expect((await cli(['secret', 'describe', name])).code).not.toBe(0);

    const put = await cli(['secret', 'put', name], '');
    expect(put.code).toBe(2);
    expect(put.stderr).toContain('no value: pass --file or pipe it on stdin');
    expect((await cli(['secret', 'describe', name])).code).not.toBe(0);
  });

  it('create --no-value creates a secret without a value even when stdin is a pipe', async () => {
    const name = unique('novalue');
    expect((await cli(['secret', 'create', name, '--no-value'], 'ignored')).code).toBe(0);
    const described = JSON.parse((await cli(['secret', 'describe', name, '-o', 'json'])).stdout);
    expect(described.versionIdsToStages ?? {}).toEqual({});
  });

  it('stage names the --remove-from flag and the version to pass when the label is elsewhere', async () => {
    const name = unique('stage');
    const v1 = JSON.parse((await cli(['secret', 'put', name, '-o', 'json'], 'one')).stdout).versionId as string;
    const v2 = JSON.parse((await cli(['secret', 'put', name, '-o', 'json'], 'two')).stdout).versionId as string;

    const refused = await cli(['secret', 'stage', name, 'AWSCURRENT', '--move-to', v1]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`AWSCURRENT is on version ${v2}: also pass --remove-from ${v2}`);
    expect(refused.stderr).not.toContain('removeFromVersionId');

    const moved = await cli(['secret', 'stage', name, 'AWSCURRENT', '--move-to', v1, '--remove-from', v2]);
    expect(moved.code).toBe(0);
    expect((await cli(['secret', 'get', name])).stdout).toBe('one\n');
  });
});
