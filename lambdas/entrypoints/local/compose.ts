import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { STSClient } from '@aws-sdk/client-sts';
import { DnsEgressGuard, guardedFetch } from '../../adapters/egress/dns-egress-guard.ts';
import { FileAuditSink, readAuditTail, verifyAuditFile } from '../../adapters/local/audit-file/file-audit-sink.ts';
import { FileKeyring } from '../../adapters/local/keyring/file-keyring.ts';
import { SealedCaKeyStore } from '../../adapters/local/pki-keys/sealed-ca-key-store.ts';
import { FileEventPublisher, storeBackedSchedules } from '../../adapters/local/rotation-runner/file-event-publisher.ts';
import { LocalRotationRunner } from '../../adapters/local/rotation-runner/local-rotation-runner.ts';
import { SqliteStore } from '../../adapters/local/store/sqlite-store.ts';
import { Broker } from '../../broker/broker.ts';
import type { BrokerDeps } from '../../broker/broker-deps.ts';
import { API_VERSION, nativeRoutes } from '../../broker/routes/index.ts';
import { AuditHasher } from '../../core/audit/audit-hmac.ts';
import { AuditLog } from '../../core/audit/audit-log.ts';
import { AccessKeyService } from '../../core/auth/sigv4/access-key-service.ts';
import { SigV4Verifier } from '../../core/auth/sigv4/sigv4-verifier.ts';
import { TokenService } from '../../core/auth/token/token-service.ts';
import { CachingKeyProvider } from '../../core/crypto/data-key-cache.ts';
import { EgressPolicy } from '../../core/egress/egress-policy.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import { LeaseService } from '../../core/leases/lease-service.ts';
import { LeaseSweeper } from '../../core/leases/lease-sweeper.ts';
import type { ProviderRegistry } from '../../core/leases/lease-types.ts';
import { PolicyService } from '../../core/policy/policy-service.ts';
import { type Clock, systemClock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import { parseRotationFaults, withRotationFaults } from '../../core/rotation/rotation-faults.ts';
import { RotationScheduler } from '../../core/rotation/rotation-scheduler.ts';
import { RotationService } from '../../core/rotation/rotation-service.ts';
import rotationDefinition from '../../core/rotation/workflow/rotation-state-machine.asl.json' with { type: 'json' };
import { SecretService } from '../../core/secrets/secret-service.ts';
import { AwsEngine } from '../../engines/aws/aws-engine.ts';
import { DatabaseEngine } from '../../engines/database/database-engine.ts';
import { PostgresPlugin } from '../../engines/database/postgres/postgres-plugin.ts';
import { PkiService } from '../../engines/pki/pki-service.ts';
import { ApiKeyRegistry } from '../../engines/rotation/api-key/index.ts';
import { closeAdminSessions } from '../../engines/rotation/postgres/index.ts';
import { createRotators } from '../../engines/rotation/registry.ts';
import { dataPaths, type LocalConfig, secretLimits } from './config.ts';
import { servedHosts, servedRegions } from './served-names.ts';

/** The local runtime's composition root: the only place that knows which adapters the local node uses. */
export interface LocalNode {
  readonly broker: Broker;
  readonly deps: BrokerDeps;
  readonly store: Store;
  readonly rotation: RotationService;
  /** The in-process workflow runner (tests wait on `idle()`). */
  readonly rotationRunner: LocalRotationRunner;
  /** Re-opens the audit file (log rotation, SIGHUP). */
  reopenAudit(): Promise<void>;
  purgeExpired(): Promise<number>;
  close(): Promise<void>;
}

const INIT_PK = 'sys';
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

export async function openLocalNode(config: LocalConfig, clock: Clock = systemClock): Promise<LocalNode> {
  const paths = dataPaths(config.dataDir);
  const keyring = await FileKeyring.open({ path: paths.keyring, passphrase: config.passphrase });
  const keyProvider = new CachingKeyProvider(keyring, { clock });
  const salt = await readFile(paths.auditSalt);
  await mkdir(path.dirname(paths.auditLog), { recursive: true, mode: 0o700 });
  const sink = await FileAuditSink.open({ path: paths.auditLog });
  const store = SqliteStore.open({ path: paths.database });
  const audit = new AuditLog({
    sink,
    hasher: new AuditHasher(salt),
    filters: config.auditExclude.map((operation) => ({ operation })),
  });
  const secrets = new SecretService({
    store,
    keyProvider,
    clock,
    region: config.region,
    account: config.account,
    ...secretLimits(config),
  });
  const egress = new DnsEgressGuard(EgressPolicy.parse(config.egressAllow));
  const accessKeys = new AccessKeyService({ store, keyProvider, clock });
  const caKeys = new SealedCaKeyStore({ store, keyProvider, clock });
  const pki = new PkiService({ store, keyProvider, caKeys, clock, publicUrl: config.publicUrl });
  const database = new DatabaseEngine({ store, clock, secrets, plugin: new PostgresPlugin(egress), audit });
  // Credentials, region and endpoint come from the standard AWS environment; nothing is called until a role is used.
  const aws = new AwsEngine({ store, sts: new STSClient({}) });
  const providers = { database, aws } satisfies ProviderRegistry;
  const leases = new LeaseService({
    store,
    clock,
    providers,
    maxLeasesPerRole: config.leaseMaxPerRole,
    maxLeasesPerPrincipal: config.leaseMaxPerPrincipal,
    retryBaseMs: config.leaseRetryBaseMs,
    retryMaxMs: config.leaseRetryMaxMs,
  });
  // Expiry enforcement starts with the node (its first pass finishes revocations a crash interrupted).
  const sweeper = new LeaseSweeper(leases, { intervalMs: config.leaseSweepIntervalMs });
  sweeper.start();
  const events = new FileEventPublisher(paths.events, clock);
  const rotators = withRotationFaults(
    createRotators({ store, clock, pki, fetch: guardedFetch(egress, 'api-key-http provider') }),
    parseRotationFaults(config.rotationFault),
  );
  let rotation: RotationService | undefined;
  const runner = new LocalRotationRunner({
    definition: rotationDefinition as Record<string, unknown>,
    step: (input) => {
      if (rotation === undefined) throw new Error('rotation service not ready');
      return rotation.runStep(input);
    },
    events,
    retryIntervalMs: config.rotationRetryIntervalMs,
    onError: (rotationId, error) =>
      process.stderr.write(
        `rotation ${rotationId}: execution error: ${error instanceof Error ? error.name : 'unknown'}\n`,
      ),
  });
  rotation = new RotationService({
    store,
    secrets,
    clock,
    rotators,
    launcher: runner,
    schedules: storeBackedSchedules,
    events,
    audit,
    egress,
  });
  // Rotations a crash interrupted resume (or finish rolling back) before anything new starts; then the scheduler's
  // first tick starts what came due while the node was down.
  for (const input of await rotation.interrupted()) await runner.launch(input);
  const scheduler = new RotationScheduler({
    rotation,
    intervalMs: config.rotationTickMs,
    onError: (error) =>
      process.stderr.write(
        `rotation scheduler: ${error instanceof Error ? `${error.name}: ${error.message}` : 'error'}\n`,
      ),
  });
  scheduler.start();
  const deps: BrokerDeps = {
    secrets,
    accessKeys,
    // The Secrets Manager-compatible facade will add 'secretsmanager'; the native API is signed as 'coffer'.
    sigv4: new SigV4Verifier({
      accessKeys,
      clock,
      services: ['coffer', 'secretsmanager'],
      regions: servedRegions(config),
      hosts: servedHosts(config),
    }),
    tokens: new TokenService({ store, clock }),
    policies: new PolicyService({ store, clock }),
    audit,
    clock,
    maxBodyBytes: config.maxBodyBytes,
    leases,
    database,
    aws,
    pki,
    rotation,
    apiKeys: new ApiKeyRegistry({ store, clock }),
    system: {
      version: API_VERSION,
      runtime: 'local',
      auditVerify: () => verifyAuditFile(paths.auditLog),
      auditTail: (lines) => readAuditTail(paths.auditLog, lines),
      async rotateRootKey() {
        const previous = keyring.describe().keyId;
        const keyId = await keyring.rotate();
        // A write that generated its data key just before the rotation may commit after the first pass has
        // passed its secret, so sweep until a pass finds nothing left under the old key.
        let rewrapped = 0;
        for (let pass = 0; pass < 5; pass++) {
          const count =
            (await secrets.rewrapAll()).rewrapped +
            (await accessKeys.rewrapAll()).rewrapped +
            (await caKeys.rewrapAll()).rewrapped +
            (await pki.rewrapAll()).rewrapped;
          rewrapped += count;
          if (count === 0 && pass > 0) break;
        }
        const retired = [previous];
        await keyring.retire(previous);
        // Cached plaintext keys were unwrapped under the retired key; drop them so nothing depends on it.
        keyProvider.clear();
        return { keyId, rewrapped, retired };
      },
    },
  };
  return {
    broker: new Broker(deps, nativeRoutes()),
    deps,
    store,
    reopenAudit: () => sink.reopen(),
    purgeExpired: () => secrets.purgeExpired(),
    rotation,
    rotationRunner: runner,
    async close() {
      await scheduler.stop();
      await runner.close();
      await closeAdminSessions();
      await sweeper.stop();
      await leases.drain();
      await database.close();
      await store.close();
      await sink.close();
      keyProvider.clear();
    },
  };
}
