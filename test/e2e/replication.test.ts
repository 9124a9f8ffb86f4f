import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, runCli, startServer, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

/**
 * Replication between regions through the real AWS SDK for JavaScript, against a running node: AWS's semantics
 * (API reference: CreateSecret AddReplicaRegions, ReplicateSecretToRegions, RemoveRegionsFromReplication,
 * StopReplicationToReplica, DescribeSecret ReplicationStatus/PrimaryRegion; the user guide "Replicate secrets across
 * Regions"), replicated asynchronously by the node's in-process replicator. A replica region made unreachable through
 * the fault-injection switch shows `Failed`, loses nothing, and catches up once it is back.
 */
const REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1'];
const current = useServer({ COFFER_SIGV4_REGIONS: REGIONS.join(','), COFFER_FAULT_INJECTION: '1' });
const clients = new Map<string, SecretsManagerClient>();
const at = (region: string) => clients.get(region)!;
const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

// moto 5.2.1 (`OperationNotPermittedOnReplica`, `delete_secret`), from AWS's answers.
const REPLICA_REFUSAL = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

function statusesOf(described: DescribeSecretCommandOutput): Record<string, string | undefined> {
  return Object.fromEntries((described.ReplicationStatus ?? []).map((r) => [r.Region!, r.Status]));
}

/** Waits until the primary's replicas all show `status` (replication is asynchronous, as in AWS). */
async function replicasAre(name: string, status: string, regions: readonly string[]) {
  return waitFor(`${name}: replicas ${regions.join(', ')} ${status}`, async () => {
    const described = await at('us-east-1').send(new DescribeSecretCommand({ SecretId: name }));
    const statuses = statusesOf(described);
    return regions.every((r) => statuses[r] === status) && Object.keys(statuses).length === regions.length
      ? described
      : undefined;
  });
}

beforeAll(async () => {
  const { address, rootToken } = current();
  await api(address, rootToken, 'PUT', '/v1/sys/policies/replicator', {
    rules: [{ path: 'secrets/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }],
  });
  const created = await runCli(
    ['access-key', 'create', '--principal', 'repl', '--policy', 'replicator', '-o', 'json'],
    {
      env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken },
    },
  );
  expect(created.code, created.stderr).toBe(0);
  const credentials = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
  for (const region of REGIONS) {
    clients.set(region, new SecretsManagerClient({ endpoint: address, region, credentials, maxAttempts: 1 }));
  }
});

describe('Regional secrets', () => {
  it('keeps names unique per region: dup in us-east-2 after us-east-1, each listed in its own region only', async () => {
    const name = unique('dup');
    const east = await at('us-east-1').send(new CreateSecretCommand({ Name: name, SecretString: 'virginia' }));
    const ohio = await at('us-east-2').send(new CreateSecretCommand({ Name: name, SecretString: 'ohio' }));
    expect(east.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:/);
    expect(ohio.ARN).toMatch(/^arn:aws:secretsmanager:us-east-2:/);
    expect((await at('us-east-2').send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('ohio');
    expect((await at('us-east-1').send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('virginia');
    const listed = await at('us-east-2').send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));
    expect(listed.SecretList?.map((s) => s.ARN)).toEqual([ohio.ARN]);
    expect((await failure(at('us-west-2').send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'ResourceNotFoundException',
    );
  });
});

describe('Replication', () => {
  it('creates with two replicas, replicates each write, and reads the new version in each replica region', async () => {
    const name = unique('repl');
    const created = await at('us-east-1').send(
      new CreateSecretCommand({
        Name: name,
        SecretString: 'v1',
        Description: 'replicated',
        AddReplicaRegions: [{ Region: 'us-west-2' }, { Region: 'eu-west-1' }],
      }),
    );
    expect(created.ReplicationStatus?.map((r) => [r.Region, r.Status])).toEqual([
      ['us-west-2', 'InProgress'],
      ['eu-west-1', 'InProgress'],
    ]);
    const synced = await replicasAre(name, 'InSync', ['us-west-2', 'eu-west-1']);
    expect(synced.PrimaryRegion).toBe('us-east-1');
    expect(synced.ReplicationStatus?.[0]).toMatchObject({
      Region: 'us-west-2',
      KmsKeyId: 'alias/aws/secretsmanager',
      Status: 'InSync',
      StatusMessage: 'Replication succeeded',
    });

    const put = await at('us-east-1').send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' }));
    for (const region of ['us-west-2', 'eu-west-1']) {
      const replicaArn = created.ARN!.replace(':us-east-1:', `:${region}:`);
      const read = await waitFor(`${region} serves v2`, async () => {
        const value = await at(region).send(new GetSecretValueCommand({ SecretId: replicaArn }));
        return value.VersionId === put.VersionId ? value : undefined;
      });
      expect(read).toMatchObject({ ARN: replicaArn, Name: name, SecretString: 'v2', VersionStages: ['AWSCURRENT'] });
      const described = await at(region).send(new DescribeSecretCommand({ SecretId: name }));
      expect(described).toMatchObject({ ARN: replicaArn, Description: 'replicated', PrimaryRegion: 'us-east-1' });
      expect(described.ReplicationStatus).toBeUndefined();
    }
    await replicasAre(name, 'InSync', ['us-west-2', 'eu-west-1']);

    // A replica is read-only, and a primary with replicas cannot be deleted: AWS's answers.
    const write = await failure(at('us-west-2').send(new PutSecretValueCommand({ SecretId: name, SecretString: 'x' })));
    expect(write).toEqual({ name: 'InvalidParameterException', status: 400, message: REPLICA_REFUSAL });
    const remove = await failure(at('us-west-2').send(new DeleteSecretCommand({ SecretId: name })));
    expect(remove.message).toBe(REPLICA_REFUSAL);
    const primaryDelete = await failure(at('us-east-1').send(new DeleteSecretCommand({ SecretId: name })));
    expect(primaryDelete).toEqual({
      name: 'InvalidParameterException',
      status: 400,
      message: `You can't delete secret ${name} that still has replica regions [us-west-2,eu-west-1]`,
    });

    // The replica is listed in its own region, with its primary's region.
    const listed = await at('eu-west-1').send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));
    expect(listed.SecretList?.map((s) => [s.Name, s.PrimaryRegion])).toEqual([[name, 'us-east-1']]);
  });

  it('stops replication to one replica (promoting it), removes the other, then lets the primary go', async () => {
    const name = unique('promote');
    await at('us-east-1').send(
      new CreateSecretCommand({
        Name: name,
        SecretString: 'v1',
        AddReplicaRegions: [{ Region: 'us-west-2' }, { Region: 'eu-west-1' }],
      }),
    );
    await replicasAre(name, 'InSync', ['us-west-2', 'eu-west-1']);

    const stopped = await at('eu-west-1').send(new StopReplicationToReplicaCommand({ SecretId: name }));
    expect(stopped.ARN).toMatch(/^arn:aws:secretsmanager:eu-west-1:/);
    const primary = await replicasAre(name, 'InSync', ['us-west-2']);
    expect(statusesOf(primary)).toEqual({ 'us-west-2': 'InSync' });
    const promoted = await at('eu-west-1').send(new DescribeSecretCommand({ SecretId: name }));
    expect(promoted.PrimaryRegion).toBeUndefined();
    await at('eu-west-1').send(new PutSecretValueCommand({ SecretId: name, SecretString: 'standalone' }));
    const next = await at('us-east-1').send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' }));
    await waitFor('us-west-2 serves v2', async () => {
      const value = await at('us-west-2').send(new GetSecretValueCommand({ SecretId: name }));
      return value.VersionId === next.VersionId;
    });
    expect((await at('eu-west-1').send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('standalone');

    const removed = await at('us-east-1').send(
      new RemoveRegionsFromReplicationCommand({ SecretId: name, RemoveReplicaRegions: ['us-west-2'] }),
    );
    expect(removed.ReplicationStatus).toEqual([]);
    expect((await failure(at('us-west-2').send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'ResourceNotFoundException',
    );
    await at('us-east-1').send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  it('fails a replica whose region is down, loses nothing, and brings it InSync with the latest version', async () => {
    const { address, rootToken } = current();
    const name = unique('fault');
    await at('us-east-1').send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    const replicated = await at('us-east-1').send(
      new ReplicateSecretToRegionsCommand({ SecretId: name, AddReplicaRegions: [{ Region: 'us-west-2' }] }),
    );
    expect(replicated.ReplicationStatus?.map((r) => r.Status)).toEqual(['InProgress']);
    await replicasAre(name, 'InSync', ['us-west-2']);

    const down = await api(address, rootToken, 'POST', '/v1/sys/replication/faults', {
      region: 'us-west-2',
      down: true,
    });
    expect(down.body).toEqual({ down: ['us-west-2'] });
    try {
      await at('us-east-1').send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' }));
      const failed = await replicasAre(name, 'Failed', ['us-west-2']);
      expect(failed.ReplicationStatus?.[0]?.StatusMessage).toMatch(/us-west-2 is unavailable/);
      // The replica keeps what it had; the primary has the new value.
      expect((await at('us-west-2').send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v1');
      await at('us-east-1').send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v3' }));
    } finally {
      await api(address, rootToken, 'POST', '/v1/sys/replication/faults', { region: 'us-west-2', down: false });
    }
    await replicasAre(name, 'InSync', ['us-west-2']);
    expect((await at('us-west-2').send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v3');
    const previous = await at('us-west-2').send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous.SecretString).toBe('v2');
  });

  it("answers a replica in the primary's own region with AWS's message", async () => {
    const name = unique('self');
    await at('us-east-1').send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    const refused = await failure(
      at('us-east-1').send(
        new ReplicateSecretToRegionsCommand({ SecretId: name, AddReplicaRegions: [{ Region: 'us-east-1' }] }),
      ),
    );
    expect(refused).toEqual({ name: 'InvalidParameterException', status: 400, message: 'Invalid replica region.' });
  });
});

describe('The native API and the CLI', () => {
  it('--region: creates in a region, replicates, describes the replica, promotes it', async () => {
    const { address, rootToken } = current();
    const env = { COFFER_ADDR: address, COFFER_TOKEN: rootToken, COFFER_REGION: '' };
    const cli = async (args: string[], input?: string) => {
      const result = await runCli([...args, '-o', 'json'], { env, ...(input === undefined ? {} : { input }) });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, unknown>;
    };
    const name = unique('cli');
    const created = await cli(['--region', 'us-east-2', 'secret', 'create', name, '--file', '-'], 'from the cli');
    expect(created.arn).toMatch(/^arn:aws:secretsmanager:us-east-2:/);
    // Not in the home region: secrets are regional.
    const home = await runCli(['secret', 'get', name], { env });
    expect(home.code).not.toBe(0);

    const replicated = await cli(['--region', 'us-east-2', 'secret', 'replicate', name, '--to', 'eu-west-1']);
    expect(replicated.replication).toEqual([{ region: 'eu-west-1', status: 'InProgress' }]);
    await waitFor('the CLI shows the replica InSync', async () => {
      const described = await cli(['--region', 'us-east-2', 'secret', 'describe', name]);
      return (described.replication as { status: string }[] | undefined)?.[0]?.status === 'InSync';
    });
    const replica = await cli(['--region', 'eu-west-1', 'secret', 'describe', name]);
    expect(replica).toMatchObject({ region: 'eu-west-1', primaryRegion: 'us-east-2' });
    const read = await cli(['--region', 'eu-west-1', 'secret', 'get', name]);
    expect(read.value).toBe('from the cli');

    const promoted = await cli(['--region', 'eu-west-1', 'secret', 'promote', name]);
    expect(promoted.arn).toMatch(/^arn:aws:secretsmanager:eu-west-1:/);
    const primary = await cli(['--region', 'us-east-2', 'secret', 'describe', name]);
    expect(primary.replication).toBeUndefined();
    const bad = await runCli(['--region', 'not a region', 'secret', 'get', name], { env });
    expect(bad.stderr).toMatch(/region must be an AWS region name/);
  });
});

describe('ListSecrets primary-region filter', () => {
  it('matches replicas by their primary region and replicated primaries by their own', async () => {
    const name = unique('filtered');
    await at('us-east-1').send(
      new CreateSecretCommand({ Name: name, SecretString: 'v', AddReplicaRegions: [{ Region: 'us-west-2' }] }),
    );
    await replicasAre(name, 'InSync', ['us-west-2']);
    const byPrimary = (region: string, primary: string) =>
      at(region).send(
        new ListSecretsCommand({
          Filters: [
            { Key: 'name', Values: [name] },
            { Key: 'primary-region', Values: [primary] },
          ],
        }),
      );
    expect((await byPrimary('us-west-2', 'us-east-1')).SecretList?.map((s) => s.Name)).toEqual([name]);
    expect((await byPrimary('us-east-1', 'us-east-1')).SecretList?.map((s) => s.Name)).toEqual([name]);
    expect((await byPrimary('us-west-2', 'eu-west-1')).SecretList).toEqual([]);
  });
});

describe('Replication across a crash', () => {
  it('resumes after SIGKILL: a write its replica had not received reaches it once the node is back', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const env = { COFFER_FAULT_INJECTION: '1' };
    const first = await startServer(dataDir, env);
    const token = first.rootToken;
    const name = unique('crash');
    const replication = async (address: string) =>
      (await api(address, token, 'GET', `/v1/secret/metadata/${name}`)).body.replication as
        | { region: string; status: string }[]
        | undefined;
    try {
      expect((await api(first.address, token, 'POST', '/v1/secrets', { name, value: 'v1' })).status).toBe(201);
      const replicated = await api(first.address, token, 'POST', `/v1/secret/replicate/${name}`, {
        regions: [{ region: 'us-west-2' }],
      });
      expect(replicated.body.replication).toEqual([{ region: 'us-west-2', status: 'InProgress' }]);
      await waitFor('InSync', async () => (await replication(first.address))?.[0]?.status === 'InSync');
      await api(first.address, token, 'POST', '/v1/sys/replication/faults', { region: 'us-west-2', down: true });
      expect((await api(first.address, token, 'PUT', `/v1/secret/data/${name}`, { value: 'v2' })).status).toBe(200);
      await waitFor('Failed', async () => (await replication(first.address))?.[0]?.status === 'Failed');
    } finally {
      await first.stop('SIGKILL');
    }
    // The fault lived in the dead process; the primary's record still says the replica is behind.
    const second = await startServer(dataDir, env);
    try {
      await waitFor(
        'InSync after the restart',
        async () => (await replication(second.address))?.[0]?.status === 'InSync',
      );
      const read = await fetch(`${second.address}/v1/secret/data/${name}`, {
        headers: { 'x-coffer-token': token, 'x-coffer-region': 'us-west-2' },
      });
      expect(((await read.json()) as { value: string }).value).toBe('v2');
    } finally {
      await second.stop();
      tmp.cleanup();
    }
  });
});
