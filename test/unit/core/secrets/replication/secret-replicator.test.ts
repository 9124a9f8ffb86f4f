import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { NotFoundError, ValidationError } from '../../../../../lambdas/core/errors.ts';
import { ReplicaFaults } from '../../../../../lambdas/core/secrets/replication/replica-faults.ts';
import { REPLICATION_PARTITION } from '../../../../../lambdas/core/secrets/replication/replication-index.ts';
import { arnInRegion } from '../../../../../lambdas/core/secrets/replication/secret-replicator.ts';
import { matchesFilters } from '../../../../../lambdas/core/secrets/secret-filters.ts';
import { type SecretRecord, versionPartition } from '../../../../../lambdas/core/secrets/secret-types.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';
import { MemoryKeyRing } from '../../../../support/memory-key-ring.ts';
import { regionalSecretsDeps } from '../../../../support/regional-secrets.ts';

const text = (string: string) => ({ kind: 'string' as const, string });

function setup() {
  let now = Date.UTC(2026, 11, 1);
  const clock = { now: () => now };
  const store = new MemoryStore();
  const faults = new ReplicaFaults();
  const written: string[] = [];
  const keyProvider = new FakeKeyProvider();
  const deps = regionalSecretsDeps({
    store,
    keyProvider,
    clock,
    writeRate: 'unlimited',
    availability: faults.availability,
  });
  deps.regionalSecrets.onReplicatedWrite((region, name) => written.push(`${region}/${name}`));
  const east = deps.regionalSecrets.in('us-east-1');
  const west = deps.regionalSecrets.in('us-west-2');
  const eu = deps.regionalSecrets.in('eu-west-1');
  const replicate = async (name = 'app/db') => deps.replicator.replicate('us-east-1', name);
  const statuses = async (name = 'app/db') =>
    Object.fromEntries(((await east.describe({ secretId: name })).replication ?? []).map((r) => [r.region, r.status]));
  return {
    store,
    keyProvider,
    faults,
    written,
    ...deps,
    east,
    west,
    eu,
    replicate,
    statuses,
    advance: (ms: number) => (now += ms),
  };
}

describe('Class: RegionalSecrets', () => {
  it('keeps names unique per region: dup in us-east-2 beside dup in us-east-1', async () => {
    const t = setup();
    const first = await t.east.create({ name: 'dup', value: text('east') });
    const second = await t.regionalSecrets.in('us-east-2').create({ name: 'dup', value: text('ohio') });
    expect(first.arn).toMatch(/^arn:aws:secretsmanager:us-east-1:/);
    expect(second.arn).toMatch(/^arn:aws:secretsmanager:us-east-2:/);
    expect((await t.regionalSecrets.in('us-east-2').get({ secretId: 'dup' })).value).toEqual(text('ohio'));
    expect((await t.east.get({ secretId: 'dup' })).value).toEqual(text('east'));
    // Listing is regional, and an ARN of one region is not found in another.
    expect((await t.east.list()).entries.map((e) => e.name)).toEqual(['dup']);
    await expect(t.west.get({ secretId: first.arn })).rejects.toBeInstanceOf(NotFoundError);
    expect(await t.regionalSecrets.regions()).toEqual(['us-east-1', 'us-east-2']);
  });

  it('keeps the home region in the partitions stores had before regions', async () => {
    const t = setup();
    await t.east.create({ name: 'home', value: text('v') });
    expect(await t.store.get('secrets', 'home')).toBeDefined();
    await t.west.create({ name: 'away', value: text('v') });
    expect(await t.store.get('secrets@us-west-2', 'away')).toBeDefined();
    expect(await t.store.get('secrets', 'away')).toBeUndefined();
  });

  it('refuses a region that is not a region name, or one the node does not serve', () => {
    const t = setup();
    expect(() => t.regionalSecrets.in('local')).toThrow(ValidationError);
    expect(() => t.regionalSecrets.in('us-east-1; drop')).toThrow(ValidationError);
    const limited = regionalSecretsDeps({
      store: t.store,
      keyProvider: new FakeKeyProvider(),
      clock: { now: () => 0 },
      regions: ['eu-west-1'],
    });
    expect(() => limited.regionalSecrets.in('us-west-2')).toThrow(/not served/);
    expect(limited.regionalSecrets.in('eu-west-1')).toBeDefined();
    expect(limited.regionalSecrets.home).toBeDefined();
  });
});

describe('Class: SecretReplicator', () => {
  let t: ReturnType<typeof setup>;
  beforeEach(() => {
    t = setup();
  });

  it('copies metadata, labels and versions to each replica, re-sealed under the replica ARN, then marks it InSync', async () => {
    const created = await t.east.create({
      name: 'app/db',
      value: text('v1'),
      description: 'the db',
      tags: { team: 'core' },
    });
    const added = await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'app/db',
      replicas: [{ region: 'us-west-2' }, { region: 'eu-west-1' }],
    });
    expect(added.replication.map((r) => [r.region, r.status])).toEqual([
      ['us-west-2', 'InProgress'],
      ['eu-west-1', 'InProgress'],
    ]);
    expect(await t.replicate()).toEqual({ behind: [] });
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InSync', 'eu-west-1': 'InSync' });

    const replica = await t.west.describe({ secretId: 'app/db' });
    expect(replica).toMatchObject({
      arn: arnInRegion(created.arn, 'us-west-2'),
      description: 'the db',
      tags: { team: 'core' },
      region: 'us-west-2',
      primaryRegion: 'us-east-1',
    });
    expect(replica.arn.slice(-7)).toBe(created.arn.slice(-7));
    const read = await t.west.get({ secretId: replica.arn });
    expect(read).toMatchObject({ value: text('v1'), versionId: created.versionId, versionStages: ['AWSCURRENT'] });
    // The replica's ciphertext is its own: the primary's sealed bytes are bound to the primary's ARN.
    const primaryVersion = await t.store.get(versionPartition(created.arn), created.versionId!);
    const replicaVersion = await t.store.get(versionPartition(replica.arn), created.versionId!);
    expect(replicaVersion?.data.sealed).not.toBe(primaryVersion?.data.sealed);
    expect((await t.eu.describe({ secretId: 'app/db' })).primaryRegion).toBe('us-east-1');
  });

  it('marks replicas InProgress in the transaction of every write to the primary, then follows it', async () => {
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-west-2' }] });
    await t.replicate();
    t.written.length = 0;
    const put = await t.east.put({ secretId: 'app/db', value: text('v2') });
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InProgress' });
    expect(t.written).toEqual(['us-east-1/app/db']);
    await t.east.tag({ secretId: 'app/db', tags: { env: 'prod' } });
    await t.replicate();
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InSync' });
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('v2'));
    expect((await t.west.get({ secretId: 'app/db', versionStage: 'AWSPREVIOUS' })).value).toEqual(text('v1'));
    expect((await t.west.describe({ secretId: 'app/db' })).versionIdsToStages[put.versionId]).toEqual(['AWSCURRENT']);
    expect((await t.west.describe({ secretId: 'app/db' })).tags).toEqual({ env: 'prod' });
  });

  it('removes from the replica the versions the primary pruned', async () => {
    const store = new MemoryStore();
    let now = Date.UTC(2026, 0, 1);
    const deps = regionalSecretsDeps({
      store,
      keyProvider: new FakeKeyProvider(),
      clock: { now: () => (now += 1000) },
      writeRate: 'unlimited',
      maxDeprecatedVersions: 1,
      minPruneAgeMs: 0,
    });
    const east = deps.regionalSecrets.in('us-east-1');
    const first = await east.create({ name: 'p', value: text('v1') });
    await deps.replication.addReplicas({ region: 'us-east-1', secretId: 'p', replicas: [{ region: 'us-west-2' }] });
    await deps.replicator.replicate('us-east-1', 'p');
    const replicaArn = arnInRegion(first.arn, 'us-west-2');
    expect(await store.get(versionPartition(replicaArn), first.versionId!)).toBeDefined();
    for (const v of ['v2', 'v3', 'v4']) await east.put({ secretId: 'p', value: text(v) });
    await deps.replicator.replicate('us-east-1', 'p');
    expect(await store.get(versionPartition(replicaArn), first.versionId!)).toBeUndefined();
    const versions = (
      await deps.regionalSecrets.in('us-west-2').listVersions({ secretId: 'p', includeDeprecated: true })
    ).versions;
    const primaryVersions = (await east.listVersions({ secretId: 'p', includeDeprecated: true })).versions;
    expect(versions.map((v) => v.versionId)).toEqual(primaryVersions.map((v) => v.versionId));
  });

  it('copies again when the primary moved during a round, and ends in sync with the latest value', async () => {
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-west-2' }] });
    // A write lands between the replicator's read of the primary and its status write.
    const store = t.store;
    const original = store.transact.bind(store);
    let raced = false;
    store.transact = async (ops) => {
      if (!raced && ops.some((op) => op.pk === 'secrets@us-west-2' && op.type === 'put')) {
        raced = true;
        await original(ops);
        await t.east.put({ secretId: 'app/db', value: text('v2') });
        return;
      }
      return original(ops);
    };
    await t.replicate();
    expect(raced).toBe(true);
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InSync' });
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('v2'));
  });

  it('never writes over a replica promoted while it was being copied', async () => {
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-west-2' }] });
    await t.replicate();
    await t.east.put({ secretId: 'app/db', value: text('v2') });
    const store = t.store;
    const original = store.transact.bind(store);
    let promoted = false;
    store.transact = async (ops) => {
      if (!promoted && ops.some((op) => op.type === 'put' && op.pk === 'secrets@us-west-2' && op.sk === 'app/db')) {
        promoted = true;
        await t.replication.stopReplication({ region: 'us-west-2', secretId: 'app/db' });
      }
      return original(ops);
    };
    expect(await t.replicate()).toEqual({ behind: [] });
    expect(promoted).toBe(true);
    expect((await t.west.describe({ secretId: 'app/db' })).primaryRegion).toBeUndefined();
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('v1'));
    expect((await t.east.describe({ secretId: 'app/db' })).replication).toBeUndefined();
  });

  it('records Failed for a region that is down, loses nothing, and catches up once it is back', async () => {
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'app/db',
      replicas: [{ region: 'us-west-2' }, { region: 'eu-west-1' }],
    });
    t.faults.set('eu-west-1', true);
    expect(await t.replicate()).toEqual({ behind: ['eu-west-1'] });
    await t.east.put({ secretId: 'app/db', value: text('v2') });
    expect(await t.replicate()).toEqual({ behind: ['eu-west-1'] });
    const view = (await t.east.describe({ secretId: 'app/db' })).replication;
    expect(view).toEqual([
      { region: 'us-west-2', status: 'InSync', statusMessage: 'Replication succeeded' },
      { region: 'eu-west-1', status: 'Failed', statusMessage: expect.stringContaining('eu-west-1 is unavailable') },
    ]);
    await expect(t.eu.describe({ secretId: 'app/db' })).rejects.toBeInstanceOf(NotFoundError);
    t.faults.set('eu-west-1', false);
    expect(await t.replicator.reconcile()).toEqual({ behind: [] });
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InSync', 'eu-west-1': 'InSync' });
    expect((await t.eu.get({ secretId: 'app/db' })).value).toEqual(text('v2'));
  });

  it('reconciles what a crash left InProgress, found through the replication index', async () => {
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-west-2' }] });
    expect((await t.store.query(REPLICATION_PARTITION)).items.map((i) => i.sk)).toEqual(['us-east-1/app/db']);
    // No runner heard the write: a fresh replicator over the same store finishes it.
    const restarted = regionalSecretsDeps({ store: t.store, keyProvider: t.keyProvider, clock: { now: () => 1 } });
    expect(await restarted.replicator.reconcile()).toEqual({ behind: [] });
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InSync' });
  });

  it('is harmless run by several nodes at once at their start-up (one store): replicas in sync, each version once', async () => {
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.east.put({ secretId: 'app/db', value: text('v2') });
    await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'app/db',
      replicas: [{ region: 'us-west-2' }, { region: 'eu-west-1' }],
    });
    // Three nodes start together over the store the crash left: each reconciles, none coordinated.
    const nodes = [1, 2, 3].map(() =>
      regionalSecretsDeps({ store: t.store, keyProvider: t.keyProvider, clock: { now: () => 1 } }),
    );
    const results = await Promise.all(nodes.map((n) => n.replicator.reconcile()));
    expect(results).toEqual([{ behind: [] }, { behind: [] }, { behind: [] }]);
    expect(await t.statuses()).toEqual({ 'us-west-2': 'InSync', 'eu-west-1': 'InSync' });
    const primaryVersions = Object.keys((await t.east.describe({ secretId: 'app/db' })).versionIdsToStages).sort();
    for (const replica of [t.west, t.eu]) {
      expect((await replica.get({ secretId: 'app/db' })).value).toEqual(text('v2'));
      expect(Object.keys((await replica.describe({ secretId: 'app/db' })).versionIdsToStages).sort()).toEqual(
        primaryVersions,
      );
    }
  });

  it('fails a replica whose region holds another secret of the name, unless ForceOverwriteReplicaSecret', async () => {
    await t.east.create({ name: 'app/db', value: text('primary') });
    await t.west.create({ name: 'app/db', value: text('someone else') });
    await t.eu.create({ name: 'app/db', value: text('old copy') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-west-2' }] });
    await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'app/db',
      replicas: [{ region: 'eu-west-1' }],
      forceOverwrite: true,
    });
    // A failure no retry can clear leaves nothing behind to retry.
    expect(await t.replicate()).toEqual({ behind: [] });
    const [west, eu] = (await t.east.describe({ secretId: 'app/db' })).replication ?? [];
    // moto 5.2.1 `create_replicas`, from AWS's answer.
    expect(west).toMatchObject({
      status: 'Failed',
      statusMessage: 'Replication failed: Secret name app/db already exists in region us-west-2.',
    });
    expect(eu).toMatchObject({ status: 'InSync' });
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('someone else'));
    expect((await t.eu.get({ secretId: 'app/db' })).value).toEqual(text('primary'));
    // Asked again with ForceOverwriteReplicaSecret, the failed replica starts over and replaces the other secret.
    const again = await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'app/db',
      replicas: [{ region: 'us-west-2' }],
      forceOverwrite: true,
    });
    expect(again.replication.map((r) => [r.region, r.status])).toEqual([
      ['eu-west-1', 'InSync'],
      ['us-west-2', 'InProgress'],
    ]);
    await t.replicate();
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('primary'));
    expect((await t.west.describe({ secretId: 'app/db' })).primaryRegion).toBe('us-east-1');
  });
});

describe('Replication rules', () => {
  let t: ReturnType<typeof setup>;
  beforeEach(async () => {
    t = setup();
    await t.east.create({ name: 'app/db', value: text('v1') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-west-2' }] });
    await t.replicate();
  });

  // moto 5.2.1 `OperationNotPermittedOnReplica`, from AWS's answer.
  const REPLICA = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

  it('refuses every write to a replica with AWS message', async () => {
    const refusals = [
      t.west.put({ secretId: 'app/db', value: text('v2') }),
      t.west.update({ secretId: 'app/db', description: 'x' }),
      t.west.updateSecret({ secretId: 'app/db', value: text('v3') }),
      t.west.tag({ secretId: 'app/db', tags: { a: 'b' } }),
      t.west.untag({ secretId: 'app/db', tagKeys: ['a'] }),
      t.west.delete({ secretId: 'app/db' }),
      t.west.delete({ secretId: 'app/db', forceDeleteWithoutRecovery: true }),
      t.west.updateVersionStage({ secretId: 'app/db', versionStage: 'blue', moveToVersionId: 'x'.repeat(32) }),
      t.replication.addReplicas({ region: 'us-west-2', secretId: 'app/db', replicas: [{ region: 'eu-west-1' }] }),
    ];
    for (const refusal of refusals) {
      await expect(refusal).rejects.toThrow(REPLICA);
    }
    await expect(t.west.put({ secretId: 'app/db', value: text('v2') })).rejects.toBeInstanceOf(ValidationError);
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('v1'));
  });

  it("refuses to delete a primary that still has replicas, with AWS's message", async () => {
    await expect(t.east.delete({ secretId: 'app/db' })).rejects.toThrow(
      "You can't delete secret app/db that still has replica regions [us-west-2]",
    );
    await expect(t.east.delete({ secretId: 'app/db', forceDeleteWithoutRecovery: true })).rejects.toThrow(
      ValidationError,
    );
    const removed = await t.replication.removeReplicas({
      region: 'us-east-1',
      secretId: 'app/db',
      regions: ['us-west-2'],
    });
    expect(removed.replication).toEqual([]);
    await expect(t.west.describe({ secretId: 'app/db' })).rejects.toBeInstanceOf(NotFoundError);
    expect((await t.store.query(REPLICATION_PARTITION)).items).toEqual([]);
    await t.east.delete({ secretId: 'app/db', forceDeleteWithoutRecovery: true });
  });

  it("gives the primary-region filter a replica's primary region and a replicated primary's own", async () => {
    const filter = [{ key: 'primary-region' as const, values: ['us-east-1'] }];
    const [replica] = await t.west.listDescriptions();
    const [primary] = await t.east.listDescriptions();
    expect(matchesFilters(replica!, filter)).toBe(true);
    expect(matchesFilters(primary!, filter)).toBe(true);
    expect(matchesFilters(replica!, [{ key: 'primary-region', values: ['eu-west-1'] }])).toBe(false);
    await t.east.create({ name: 'alone', value: text('v') });
    const alone = (await t.east.listDescriptions()).find((d) => d.name === 'alone');
    expect(matchesFilters(alone!, filter)).toBe(false);
  });

  it('refuses a replica in the primary region itself', async () => {
    await expect(
      t.replication.addReplicas({ region: 'us-east-1', secretId: 'app/db', replicas: [{ region: 'us-east-1' }] }),
    ).rejects.toThrow('Invalid replica region.');
  });

  it('promotes a replica: writable in its region, no longer listed or fed by the primary', async () => {
    const { arn } = await t.replication.stopReplication({ region: 'us-west-2', secretId: 'app/db' });
    expect(arn).toMatch(/:us-west-2:/);
    expect((await t.east.describe({ secretId: 'app/db' })).replication).toBeUndefined();
    const promoted = await t.west.describe({ secretId: 'app/db' });
    expect(promoted.primaryRegion).toBeUndefined();
    await t.west.put({ secretId: 'app/db', value: text('standalone') });
    await t.east.put({ secretId: 'app/db', value: text('primary only') });
    await t.replicate();
    expect((await t.west.get({ secretId: 'app/db' })).value).toEqual(text('standalone'));
    await expect(t.replication.stopReplication({ region: 'us-west-2', secretId: 'app/db' })).rejects.toThrow(
      /not a replica/,
    );
    const record = await t.store.get<SecretRecord>('secrets', 'app/db');
    expect(record?.data.replicas).toBeUndefined();
  });
});

describe('Class: SecretReplicator (customer keys)', () => {
  async function keyed() {
    const store = new MemoryStore();
    const keyRing = new MemoryKeyRing();
    const blue = await keyRing.create('blue');
    const green = await keyRing.create('green');
    const deps = regionalSecretsDeps({
      store,
      keyProvider: new FakeKeyProvider(),
      keyRing,
      clock: { now: () => Date.UTC(2026, 11, 1) },
      writeRate: 'unlimited',
    });
    const east = deps.regionalSecrets.in('us-east-1');
    const west = deps.regionalSecrets.in('us-west-2');
    return { store, keyRing, blue, green, ...deps, east, west };
  }

  it('opens a primary version under its customer key and seals the replica under the replica’s own key', async () => {
    const t = await keyed();
    await t.east.create({ name: 'k', value: text('v1'), kmsKeyId: t.blue.arn });
    await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'k',
      replicas: [{ region: 'us-west-2', kmsKeyId: t.green.arn }],
    });
    await t.replicator.replicate('us-east-1', 'k');
    const replica = await t.west.describe({ secretId: 'k' });
    // The replica shows its own key, never the primary's.
    expect(replica.kmsKeyId).toBe(t.green.arn);
    expect((await t.west.get({ secretId: 'k' })).value).toEqual(text('v1'));
    const [version] = (await t.store.query<{ kmsKeyId?: string }>(versionPartition(replica.arn), { limit: 10 })).items;
    expect(version?.data.kmsKeyId).toBe(t.green.arn);
    // Without the green key the replica's version no longer opens: it really is sealed under it.
    t.keyRing.forget(t.green.arn);
    await expect(t.west.get({ secretId: 'k' })).rejects.toThrow(/not available/);
  });

  it('refuses a key change on a replica, as every other write to it', async () => {
    const t = await keyed();
    await t.east.create({ name: 'k', value: text('v1') });
    await t.replication.addReplicas({ region: 'us-east-1', secretId: 'k', replicas: [{ region: 'us-west-2' }] });
    await t.replicator.replicate('us-east-1', 'k');
    await expect(t.west.updateSecret({ secretId: 'k', kmsKeyId: t.blue.arn, reencrypt: true })).rejects.toThrow(
      /Operation not permitted on a replica secret/,
    );
    expect((await t.west.describe({ secretId: 'k' })).kmsKeyId).toBeUndefined();
  });

  it('marks a replica Failed while its key cannot seal, and catches up once the key is back', async () => {
    const t = await keyed();
    await t.east.create({ name: 'k', value: text('v1') });
    await t.replication.addReplicas({
      region: 'us-east-1',
      secretId: 'k',
      replicas: [{ region: 'us-west-2', kmsKeyId: t.green.arn }],
    });
    const green = t.keyRing.keys.get(t.green.arn)!;
    t.keyRing.forget(t.green.arn);
    const { behind } = await t.replicator.replicate('us-east-1', 'k');
    expect(behind).toEqual(['us-west-2']);
    const failed = (await t.east.describe({ secretId: 'k' })).replication?.[0];
    expect(failed).toMatchObject({ region: 'us-west-2', status: 'Failed' });
    expect(failed?.statusMessage).toMatch(/^Replication failed: /);
    t.keyRing.keys.set(t.green.arn, green);
    await t.replicator.replicate('us-east-1', 'k');
    expect((await t.east.describe({ secretId: 'k' })).replication?.[0]?.status).toBe('InSync');
    expect((await t.west.get({ secretId: 'k' })).value).toEqual(text('v1'));
  });
});

describe('RegionalSecrets.storeRegion (a replica region’s broker on a global table)', () => {
  it('names each region’s partitions as the primary deployment does, whatever the node’s own region', async () => {
    const store = new MemoryStore();
    const clock = { now: () => Date.UTC(2026, 11, 1) };
    const keyProvider = new FakeKeyProvider();
    const primary = regionalSecretsDeps({ store, keyProvider, clock, homeRegion: 'us-east-1' });
    const replicaBroker = regionalSecretsDeps({
      store,
      keyProvider,
      clock,
      homeRegion: 'eu-west-1',
      storeRegion: 'us-east-1',
    });
    expect(replicaBroker.regionalSecrets.partitionsOf('us-east-1')).toEqual(
      primary.regionalSecrets.partitionsOf('us-east-1'),
    );
    expect(replicaBroker.regionalSecrets.partitionsOf('eu-west-1').secrets).toBe('secrets@eu-west-1');
    // A secret the replica region's broker creates at home is where the primary's broker looks for eu-west-1's.
    await replicaBroker.secrets.create({ name: 'local', value: text('v') });
    expect((await primary.regionalSecrets.in('eu-west-1').get({ secretId: 'local' })).value).toEqual(text('v'));
    await expect(primary.secrets.get({ secretId: 'local' })).rejects.toBeInstanceOf(NotFoundError);
  });
});
