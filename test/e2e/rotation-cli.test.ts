import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

/**
 * `coffer rotation ...` and `coffer secret rotate` against the real server, with the built-in `api-key-coffer`
 * rotation type (keys issued and validated by Coffer itself), so no outside service is needed.
 */

function cliOn(server: () => { address: string; rootToken: string }) {
  return (args: string[], input?: string) =>
    runCli(args, {
      env: { COFFER_ADDR: server().address, COFFER_TOKEN: server().rootToken },
      ...(input === undefined ? {} : { input }),
    });
}

type Rotation = { rotationId: string; status: string; trigger: string; secrets: string[]; versionId: string };

describe('coffer rotation (api-key-coffer)', () => {
  const server = useServer();
  const cli = cliOn(server);

  function untilEnded(rotationId: string): Promise<Rotation> {
    return waitFor(
      `rotation ${rotationId} to end`,
      async () => {
        const got = await api(server().address, server().rootToken, 'GET', `/v1/rotation/rotations/${rotationId}`);
        expect(got.status).toBe(200);
        const rotation = got.body as unknown as Rotation;
        return rotation.status === 'succeeded' || rotation.status === 'failed' ? rotation : undefined;
      },
      { intervalMs: 100, timeoutMs: 60_000 },
    );
  }

  /** Set-up through the API (each CLI run costs a process start); the CLI itself is what the tests exercise. */
  async function keyedSecret(prefix: string, value = '{"endpoint":"https://billing.example"}') {
    const { address, rootToken } = server();
    const name = `${prefix}/${randomUUID().slice(0, 8)}`;
    expect((await api(address, rootToken, 'PUT', `/v1/secret/data/${name}`, { value })).status).toBe(200);
    const configured = await api(address, rootToken, 'PUT', `/v1/rotation/configs/${name}`, {
      type: 'api-key-coffer',
      settings: { overlapSeconds: 600 },
      rules: { automaticallyAfterDays: 30, duration: '2h' },
    });
    expect(configured.status).toBe(200);
    return name;
  }

  it('configures, then rotates with `secret rotate --wait`: a new working key, the old value as AWSPREVIOUS', async () => {
    const name = `svc/${randomUUID().slice(0, 8)}`;
    const old = '{"endpoint":"https://billing.example"}';
    expect(
      (await api(server().address, server().rootToken, 'PUT', `/v1/secret/data/${name}`, { value: old })).status,
    ).toBe(200);
    const configured = await cli([
      'rotation',
      'configure',
      name,
      '--type',
      'api-key-coffer',
      '--settings',
      '{"overlapSeconds":600}',
      '--after-days',
      '30',
      '--window',
      '2h',
    ]);
    expect(configured.code, configured.stderr).toBe(0);
    expect(configured.stdout).toMatch(/type\s+api-key-coffer/);
    expect(configured.stdout).toMatch(/schedule\s+every 30d \(window 2h\)/);
    const rotated = await cli(['secret', 'rotate', name, '--wait', '-o', 'json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const rotation = JSON.parse(rotated.stdout) as Rotation;
    expect(rotation).toMatchObject({ status: 'succeeded', trigger: 'on-demand', secrets: [name] });

    const read = (await api(server().address, server().rootToken, 'GET', `/v1/secret/data/${name}`)).body as {
      value: string;
      versionId: string;
    };
    expect(read.versionId).toBe(rotation.versionId);
    const value = JSON.parse(read.value) as { endpoint: string; keyId: string; apiKey: string };
    expect(value.endpoint).toBe('https://billing.example');
    expect(value.apiKey.length).toBeGreaterThanOrEqual(32);
    const previous = await api(
      server().address,
      server().rootToken,
      'GET',
      `/v1/secret/data/${name}?stage=AWSPREVIOUS`,
    );
    expect(previous.body.value).toBe(old);
    const valid = await api(server().address, server().rootToken, 'POST', '/v1/apikeys/validate', {
      key: value.apiKey,
    });
    expect(valid.body).toMatchObject({ valid: true, secret: name });

    const show = await cli(['rotation', 'show', name, '-o', 'json']);
    expect(JSON.parse(show.stdout)).toMatchObject({
      name,
      lastStatus: 'succeeded',
      lastRotationId: rotation.rotationId,
    });
    const history = await cli(['rotation', 'history', name]);
    expect(history.stdout).toMatch(new RegExp(`${rotation.rotationId}\\s+\\S+\\s+on-demand\\s+succeeded`));
    const one = await cli(['rotation', 'get', rotation.rotationId]);
    expect(one.stdout).toMatch(/status\s+succeeded/);
    expect(one.stdout).not.toContain(value.apiKey);
    expect(history.stdout).not.toContain(value.apiKey);
  });

  it('names a rotation after --request-token: the same token does not start another', async () => {
    const name = await keyedSecret('idem');
    const token = randomUUID();
    const first = await cli(['secret', 'rotate', name, '--request-token', token, '--wait', '-o', 'json']);
    expect(JSON.parse(first.stdout).rotationId).toBe(token);
    const again = await cli(['secret', 'rotate', name, '--request-token', token, '-o', 'json']);
    expect(JSON.parse(again.stdout)).toEqual({ rotationId: token, secrets: [name], started: false });
  });

  it('exits non-zero with the failure message when the rotation fails, and leaves the value as it was', async () => {
    const name = await keyedSecret('broken', 'not json at all');
    const rotated = await cli(['secret', 'rotate', name, '--wait']);
    expect(rotated.code).toBe(1);
    expect(rotated.stderr).toMatch(/rotation \S+ failed at createSecret: .*not JSON/);
    expect((await cli(['secret', 'get', name])).stdout).toBe('not json at all\n');
    const described = await cli(['secret', 'describe', name, '-o', 'json']);
    expect(described.stdout).not.toContain('AWSPENDING');
    const history = await cli(['rotation', 'history', name, '-o', 'json']);
    expect(JSON.parse(history.stdout).rotations[0]).toMatchObject({ status: 'failed', step: 'createSecret' });
  });

  it('answers a breach: rotates at once and the old key stops validating immediately', async () => {
    const name = await keyedSecret('leak');
    const { address, rootToken } = server();
    const first = await api(address, rootToken, 'POST', '/v1/rotation/rotate', { secretId: name });
    await untilEnded(first.body.rotationId as string);
    const read = await api(address, rootToken, 'GET', `/v1/secret/data/${name}`);
    const leaked = JSON.parse(read.body.value as string) as { apiKey: string };
    const reported = await cli(['rotation', 'compromised', name, '--reason', 'pasted in a ticket', '-o', 'json']);
    expect(reported.code, reported.stderr).toBe(0);
    const started = JSON.parse(reported.stdout) as { rotationId: string; started: boolean };
    expect(started.started).toBe(true);
    expect(await untilEnded(started.rotationId)).toMatchObject({ status: 'succeeded', trigger: 'breach' });
    const check = await api(server().address, server().rootToken, 'POST', '/v1/apikeys/validate', {
      key: leaked.apiKey,
    });
    expect(check.body).toEqual({ valid: false });
    const history = JSON.parse((await cli(['rotation', 'history', name, '-o', 'json'])).stdout) as {
      rotations: Rotation[];
    };
    expect(history.rotations.map((r) => r.trigger)).toEqual(['breach', 'on-demand']);
    const queued = JSON.parse((await cli(['rotation', 'revocations', '-o', 'json'])).stdout) as {
      revocations: { secretName: string }[];
    };
    expect(queued.revocations.map((r) => r.secretName)).not.toContain(name);
  });

  it('lists configs, groups secrets, and disables rotation', async () => {
    const a = await keyedSecret('grp');
    const b = await keyedSecret('grp');
    const grouped = await cli(['rotation', 'group', 'billing', a, b]);
    expect(grouped.code, grouped.stderr).toBe(0);
    const rotated = await cli(['secret', 'rotate', a, '--wait', '-o', 'json']);
    expect(JSON.parse(rotated.stdout).secrets).toEqual([a, b]);
    const list = await cli(['rotation', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${a}\\s+api-key-coffer\\s+true\\s+every 30d`));
    expect((await cli(['rotation', 'disable', b])).stdout).toContain(`rotation disabled for ${b}`);
    const listed = JSON.parse((await cli(['rotation', 'list', '-o', 'json'])).stdout) as {
      configs: { name: string; enabled: boolean }[];
    };
    expect(listed.configs.find((c) => c.name === b)?.enabled).toBe(false);
    // A group member without rotation stops the group from rotating.
    const refused = await cli(['secret', 'rotate', a]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`member ${b} has no rotation configured`);
  });

  it('refuses bad input with usage errors', async () => {
    const name = await keyedSecret('usage');
    expect((await cli(['rotation', 'configure', name, '--type', 'api-key-coffer', '--settings', '[1]'])).code).toBe(2);
    const both = await cli([
      'rotation',
      'configure',
      name,
      '--type',
      'api-key-coffer',
      '--after-days',
      '3',
      '--schedule',
      'rate(4 hours)',
    ]);
    expect(both.code).toBe(2);
    expect((await cli(['rotation', 'configure', name, '--type', 'nope'])).code).toBe(2);
    expect((await cli(['rotation', 'show', 'no/such/secret'])).code).toBe(3);
  });
});

describe('coffer rotation status', () => {
  const server = useServer();
  const cli = cliOn(server);

  it('shows the compliance figures as a table, and raw with --output json', async () => {
    const { address, rootToken } = server();
    for (const [name, value] of [
      ['ok/one', '{}'],
      ['bad/one', 'not json'],
    ] as const) {
      expect((await api(address, rootToken, 'PUT', `/v1/secret/data/${name}`, { value })).status).toBe(200);
      const body = { type: 'api-key-coffer', rules: { automaticallyAfterDays: 7 } };
      expect((await api(address, rootToken, 'PUT', `/v1/rotation/configs/${name}`, body)).status).toBe(200);
    }
    expect((await cli(['secret', 'rotate', 'ok/one', '--wait'])).code).toBe(0);
    expect((await cli(['secret', 'rotate', 'bad/one', '--wait'])).code).toBe(1);

    const json = await cli(['rotation', 'status', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const figures = JSON.parse(json.stdout);
    expect(figures).toMatchObject({
      secretsWithRotation: 2,
      onSchedule: 2,
      onScheduleShare: 1,
      overdue: [],
      rotations: { total: 2, succeeded: 1, failed: 1, running: 0, successRate: 0.5 },
    });
    expect(figures.meanTimeToRotateMs).toBeGreaterThanOrEqual(0);
    expect(figures.p95TimeToRotateMs).toBe(figures.meanTimeToRotateMs);

    const table = await cli(['rotation', 'status']);
    expect(table.stdout).toMatch(/secrets with rotation\s+2/);
    expect(table.stdout).toMatch(/on schedule\s+100\.0% \(2 of 2\)/);
    expect(table.stdout).toMatch(/success rate\s+50\.0% \(1 succeeded, 1 failed, 0 running\)/);
    expect(table.stdout).toMatch(/mean time to rotate\s+\d/);
    expect(table.stdout).toMatch(/p95 time to rotate\s+\d/);
  });
});
