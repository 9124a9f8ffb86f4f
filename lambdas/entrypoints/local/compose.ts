import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClientNodeTokenReviewer } from '../../adapters/kubernetes/client-node-token-reviewer.ts';
import { AuditFileWindow } from '../../adapters/local/audit-file/audit-file-window.ts';
import { FileAuditSink, readAuditTail, verifyAuditFile } from '../../adapters/local/audit-file/file-audit-sink.ts';
import { FileKeyring } from '../../adapters/local/keyring/file-keyring.ts';
import { LocalKeyRing } from '../../adapters/local/keyring/local-key-ring.ts';
import { SealedCaKeyStore } from '../../adapters/local/pki-keys/sealed-ca-key-store.ts';
import { MemoryRateLimitCounters } from '../../adapters/local/rate-limits/memory-rate-limit-counters.ts';
import { LocalReplicationRunner } from '../../adapters/local/replication-runner/replication-runner.ts';
import { FileEventPublisher, storeBackedSchedules } from '../../adapters/local/rotation-runner/file-event-publisher.ts';
import { LocalRotationRunner } from '../../adapters/local/rotation-runner/local-rotation-runner.ts';
import { SqliteStore } from '../../adapters/local/store/sqlite-store.ts';
import { Broker } from '../../broker/broker.ts';
import type { BrokerDeps } from '../../broker/broker-deps.ts';
import { nativeRoutes } from '../../broker/routes/index.ts';
import { LoginCounters } from '../../core/auth/methods/login-counters.ts';
import { TokenService } from '../../core/auth/token/token-service.ts';
import { computeReportLazily } from '../../core/compliance/compute-report.ts';
import { type Claims, StoreClaims, soleNodeClaims } from '../../core/coordination/claims.ts';
import type { EgressGuard } from '../../core/egress/egress-policy.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import type { AuditDeviceOpener } from '../../core/ports/audit-sink.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { KeyRing } from '../../core/ports/key-ring.ts';
import type { Store } from '../../core/ports/store.ts';
import type { RotationService } from '../../core/rotation/rotation-service.ts';
import rotationDefinition from '../../core/rotation/workflow/rotation-state-machine.asl.json' with { type: 'json' };
import type { ExpirySweepOutcome } from '../../core/secrets/expiration/expiry-sweep.ts';
import { stsClientFor } from '../../engines/aws/sts-client.ts';
import { composeServices } from '../compose-services.ts';
import { composeExpirySweep } from '../expiry-sweep.ts';
import { NETWORK_AUDIT_DEVICE_TYPES, openNetworkAuditDevice } from '../network-audit-devices.ts';
import { dataPaths, type LocalConfig, secretLimits } from './config.ts';
import { NodeJobs } from './node-jobs.ts';
import { servedHosts, servedRegions } from './served-names.ts';
import { clusterSalt, keyringPath, openSharedStore, usesSharedStore } from './shared-store.ts';

/** The local runtime's composition root: the only place that knows which adapters the local node uses. */
export interface LocalNode {
  readonly broker: Broker;
  readonly deps: BrokerDeps;
  readonly store: Store;
  readonly rotation: RotationService;
  /** The in-process workflow runner (tests wait on `idle()`). */
  readonly rotationRunner: LocalRotationRunner;
  /** The in-process replicator (tests wait on `idle()`). */
  readonly replicationRunner: LocalReplicationRunner;
  /** Re-opens the audit file (log rotation, SIGHUP). */
  reopenAudit(): Promise<void>;
  /** One pass of the deletion purge (the server's timer); 0 when another node sharing the store ran this interval's. */
  purgeExpired(): Promise<number>;
  /** One pass of the expiry sweep (its timer runs it every `expirySweepIntervalMs`). */
  sweepExpiry(): Promise<ExpirySweepOutcome>;
  close(): Promise<void>;
}

/** The partition of the local node's initialisation record (sk `init`): written once, by `coffer init`. */
export const INIT_PK = 'sys';
const INIT_SK = 'init';

export function isInitialised(dataDir: string): boolean {
  return FileKeyring.exists(dataPaths(dataDir).keyring);
}

/**
 * Creates the keyring, the audit salt and the root token. The root token is returned once and, for development
 * convenience, written to `<dataDir>/root-token` (mode 0600).
 */
export async function initialise(config: LocalConfig): Promise<{ rootToken: string }> {
  const paths = dataPaths(config.dataDir);
  if (isInitialised(config.dataDir)) {
    throw new InvalidRequestError(`already initialised: ${paths.keyring} exists`);
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  await writeCreateOnly(paths.auditSalt, randomBytes(32));
  const store = SqliteStore.open({ path: paths.database });
  try {
    const tokens = new TokenService({ store, clock: systemClock });
    const { token, record } = await tokens.createRoot();
    await store.transact([
      {
        type: 'put',
        pk: INIT_PK,
        sk: INIT_SK,
        data: { initializedAt: new Date().toISOString(), rootAccessor: record.accessor },
        condition: { kind: 'absent' },
      },
    ]);
    await writeFile(paths.rootToken, `${token}\n`, { mode: 0o600 });
    await chmod(paths.rootToken, 0o600);
    // The keyring is written last: its presence is what marks the node as initialised.
    await FileKeyring.init({ path: paths.keyring, passphrase: config.passphrase });
    return { rootToken: token };
  } finally {
    await store.close();
  }
}

/** A key ring that offers its keys but creates none (a shared keyring is changed offline, on every node at once). */
function withoutKeyCreation(ring: KeyRing): KeyRing {
  return {
    describe: () => ring.describe(),
    resolve: (keyId) => ring.resolve(keyId),
    provider: (keyArn) => ring.provider(keyArn),
    list: () => ring.list(),
  };
}

async function writeCreateOnly(file: string, data: Buffer): Promise<void> {
  const handle = await open(file, 'wx', 0o600).catch(async (err: NodeJS.ErrnoException) => {
    // A previous, interrupted init may have left the salt: keep it, so existing audit hashes stay searchable.
    if (err.code === 'EEXIST') return undefined;
    throw err;
  });
  if (handle === undefined) return;
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * How long the local node serves a presented token's record from memory. Its own writes invalidate at once; the bound
 * only limits how long a store changed behind its back (restored from a backup while it ran) could be misread.
 */
const PRESENTED_TOKEN_CACHE_MS = 30_000;

/**
 * The devices the local node opens besides its audit file: syslog and socket, and more files in its audit directory.
 * Two devices never append to one file (nor to the built-in log): their chains would interleave.
 */
function localAuditDevices(auditDir: string, builtinLog: string, egress: EgressGuard): AuditDeviceOpener {
  const inUse = new Set([path.resolve(builtinLog)]);
  return {
    types: ['file', ...NETWORK_AUDIT_DEVICE_TYPES],
    async open(device) {
      const network = openNetworkAuditDevice(device, egress);
      if (network !== undefined) return network;
      if (device.type !== 'file') throw new Error(`${device.type} audit devices are not offered by the local server`);
      const file = path.resolve(auditDir, device.options.file_name ?? `${device.path}.log`);
      if (inUse.has(file)) {
        throw Object.assign(new Error('another audit device writes this file'), { name: 'AuditFileInUse' });
      }
      const opened = await FileAuditSink.open({ path: file });
      inUse.add(file);
      return {
        append: (record, options) => opened.append(record, options),
        close: () => opened.close().finally(() => inUse.delete(file)),
      };
    },
  };
}

export async function openLocalNode(config: LocalConfig, clock: Clock = systemClock): Promise<LocalNode> {
  const paths = dataPaths(config.dataDir);
  // With a store URL this node is one of several on one PostgreSQL store: the store and the keyring are shared, the
  // data dir keeps only what is the node's own (its audit log, its lock, its events file).
  const shared = usesSharedStore(config);
  const keyring = await FileKeyring.open({ path: keyringPath(config), passphrase: config.passphrase });
  const store: Store = shared ? await openSharedStore(config) : SqliteStore.open({ path: paths.database });
  let sink: FileAuditSink;
  let salt: Buffer;
  try {
    salt = shared ? await clusterSalt(store, keyring, config) : await readFile(paths.auditSalt);
    await mkdir(path.dirname(paths.auditLog), { recursive: true, mode: 0o700 });
    sink = await FileAuditSink.open({ path: paths.auditLog });
  } catch (error) {
    await store.close();
    throw error;
  }
  const events = new FileEventPublisher(paths.events, clock);
  // Alone on its store (SQLite, the data-dir lock) the node claims nothing; nodes sharing one coordinate through it.
  const claims: Claims = shared ? new StoreClaims({ store, clock }) : soleNodeClaims;
  let runner: LocalRotationRunner | undefined;
  const services = composeServices({
    runtime: 'local',
    clock,
    store,
    // Other nodes write the shared store too: nothing may be served from a cache of this node's own writes.
    soleWriter: !shared,
    rateLimitCounters: new MemoryRateLimitCounters(),
    envelopeKey: keyring,
    audit: {
      sink,
      salt,
      filters: config.auditExclude.map((operation) => ({ operation })),
      devices: (egress) => localAuditDevices(path.dirname(paths.auditLog), paths.auditLog, egress),
    },
    caKeys: (shared) => new SealedCaKeyStore(shared),
    // Credentials and endpoint come from the standard AWS environment, the region from it too or a named error.
    sts: stsClientFor(config.awsRegion),
    settings: {
      region: config.region,
      account: config.account,
      publicUrl: config.publicUrl,
      egressAllow: config.egressAllow,
      secretLimits: secretLimits(config),
      leases: {
        maxLeasesPerRole: config.leaseMaxPerRole,
        maxLeasesPerPrincipal: config.leaseMaxPerPrincipal,
        retryBaseMs: config.leaseRetryBaseMs,
        retryMaxMs: config.leaseRetryMaxMs,
      },
      rotationFault: config.rotationFault,
      maxBodyBytes: config.maxBodyBytes,
      // Alone on its store, this process sees every revocation pass through the cache it would invalidate; beside other
      // nodes it would not (a token revoked on one must fail on all at once), so it reads every token from the store.
      ...(!shared && { presentedTokenCacheMs: PRESENTED_TOKEN_CACHE_MS }),
      regions: config.regions,
      replicationFaults: config.faultInjection,
    },
    rotation: {
      launcher: (step) => {
        runner = new LocalRotationRunner({
          definition: rotationDefinition as Record<string, unknown>,
          step,
          events,
          retryIntervalMs: config.rotationRetryIntervalMs,
          claims,
          onError: (rotationId, error) =>
            process.stderr.write(
              `rotation ${rotationId}: execution error: ${error instanceof Error ? error.name : 'unknown'}\n`,
            ),
        });
        return runner;
      },
      schedules: storeBackedSchedules,
      events,
    },
    // The native API is signed as 'coffer'; the Secrets Manager-compatible one as 'secretsmanager'.
    signedRequests: {
      services: ['coffer', 'secretsmanager'],
      regions: servedRegions(config),
      hosts: servedHosts(config),
    },
    auditWindow: new AuditFileWindow(paths.auditLog),
    computeComplianceReport: computeReportLazily,
    auditFile: {
      verify: () => verifyAuditFile(paths.auditLog),
      tail: (lines) => readAuditTail(paths.auditLog, lines),
    },
    // The shared keyring is a file every node reads (a mounted Secret): a key rotated or created on one node would be
    // missing on the others, and data sealed under it unreadable there. Those changes are made offline (docs/ha.md).
    ...(!shared && { rootKeyring: keyring }),
    keyRing: shared
      ? withoutKeyCreation(new LocalKeyRing({ keyring, region: config.region, account: config.account }))
      : new LocalKeyRing({ keyring, region: config.region, account: config.account }),
    kubernetesTokenReview: (egress) => new ClientNodeTokenReviewer(egress),
    loginCounters: new LoginCounters(clock.now()),
    claims,
  });
  const { deps } = services;
  // Replication runs after the write is acknowledged, as AWS's does; first what a crash left behind.
  const replicationRunner = new LocalReplicationRunner({
    replicator: services.replicator,
    onError: (primary, error) =>
      process.stderr.write(`replication ${primary}: ${error instanceof Error ? error.name : 'error'}\n`),
  });
  deps.regionalSecrets.onReplicatedWrite((region, name) => replicationRunner.trigger(region, name));
  await replicationRunner.start();
  const rotation = deps.rotation!;
  const rotationRunner = runner!;
  const expirySweep = composeExpirySweep({
    store,
    clock,
    secrets: deps.regionalSecrets,
    events,
    // The entry stays claimed and is published by a later pass; the name is enough to see the events file failing.
    onError: (error) =>
      process.stderr.write(`expiry event not published: ${error instanceof Error ? error.name : 'error'}\n`),
  });
  // Expiry enforcement starts with the node (its first passes finish revocations a crash interrupted and publish
  // expiry events that came due while it was down); interrupted rotations resume before the scheduler's first tick.
  const jobs = new NodeJobs({
    claims,
    clock,
    leases: deps.leases!,
    expirySweep,
    purge: () => deps.regionalSecrets.purgeExpired(),
    rotation,
    runner: rotationRunner,
    intervals: {
      leaseSweepMs: config.leaseSweepIntervalMs,
      expirySweepMs: config.expirySweepIntervalMs,
      purgeMs: config.purgeIntervalMs,
      rotationTickMs: config.rotationTickMs,
    },
    onError: (job, error) => {
      // A lease pass that threw (the store closing) is retried by the next; its failures are on the leases themselves.
      if (job === 'lease sweep') return;
      process.stderr.write(`${job}: ${error instanceof Error ? `${error.name}: ${error.message}` : 'error'}\n`);
    },
  });
  await jobs.start();
  return {
    broker: new Broker(deps, nativeRoutes()),
    deps,
    store,
    reopenAudit: () => sink.reopen(),
    purgeExpired: async () => (await jobs.purge.sweep()) ?? 0,
    sweepExpiry: () => expirySweep.sweep(),
    replicationRunner,
    rotation,
    rotationRunner,
    async close() {
      await replicationRunner.close();
      await jobs.stop();
      await rotationRunner.close();
      await services.close();
      await store.close();
      await sink.close();
    },
  };
}
