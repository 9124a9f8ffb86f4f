import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { FileKeyring } from '../../adapters/local/keyring/file-keyring.ts';
import { PostgresStore } from '../../adapters/postgres/store/postgres-store.ts';
import { TokenService } from '../../core/auth/token/token-service.ts';
import { AlreadyExistsError, InvalidRequestError, ValidationError } from '../../core/errors.ts';
import { systemClock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import { ConditionFailedError, type Store } from '../../core/ports/store.ts';
import { dataPaths, type LocalConfig, redactStoreUrl } from './config.ts';

/**
 * Several local nodes on one PostgreSQL store (docs/ha.md). What every node must agree on lives in the store, in one
 * record written once by whichever node initialises it: the audit salt, sealed under the shared keyring, so no node
 * needs a salt file and a node holding another keyring cannot open it (the sealed salt is the key check value).
 */

/** The cluster record: partition `sys`, beside the single node's `init` record. */
const CLUSTER_PK = 'sys';
const CLUSTER_SK = 'cluster';
/** The encryption context the salt is sealed under: it opens as nothing else. */
const SALT_CONTEXT = { purpose: 'coffer-audit-salt' } as const;

interface ClusterRecord extends Record<string, unknown> {
  readonly initializedAt: string;
  readonly rootAccessor: string;
  /** The audit salt: a data key of the shared keyring, kept wrapped. */
  readonly auditSalt: string;
}

/** Whether this node serves a shared store rather than SQLite in its data dir. */
export function usesSharedStore(config: LocalConfig): config is LocalConfig & { readonly storeUrl: string } {
  return config.storeUrl !== undefined;
}

/** The keyring file of a node: the shared one of a store URL, else the data dir's. */
export function keyringPath(config: LocalConfig): string {
  return (usesSharedStore(config) ? config.keyringFile : undefined) ?? dataPaths(config.dataDir).keyring;
}

/**
 * Opens the shared store. The password comes from the URL, else `COFFER_STORE_PASSWORD_FILE` (its content, without a
 * trailing newline), else `PGPASSWORD`.
 * @throws ValidationError when the URL carries a password and a file gives another
 */
export async function openSharedStore(config: LocalConfig & { readonly storeUrl: string }): Promise<PostgresStore> {
  const inUrl = new URL(config.storeUrl).password !== '';
  if (inUrl && config.storePasswordFile !== undefined) {
    throw new ValidationError(
      'invalid configuration: the store URL carries a password and COFFER_STORE_PASSWORD_FILE gives one too: keep one',
    );
  }
  const fromFile =
    config.storePasswordFile === undefined
      ? undefined
      : (await readFile(config.storePasswordFile, 'utf8')).replace(/\r?\n$/, '');
  const password = inUrl ? undefined : (fromFile ?? config.storePassword);
  return PostgresStore.open({ url: config.storeUrl, password, maxConnections: config.storeMaxConnections });
}

/**
 * Initialises the shared store if nobody has: creates the keyring file when it does not exist yet, a root token, and
 * the cluster record, claimed with an `absent` condition so of several nodes starting together on an empty store
 * exactly one initialises it. The others (and every later node) join: they check their keyring against the store.
 * @returns the root token when this node initialised the store; undefined when it joined
 * @throws InvalidRequestError when the store was initialised under another keyring, or this node has none
 */
export async function initialiseOrJoin(
  config: LocalConfig & { readonly storeUrl: string },
): Promise<{ readonly rootToken?: string }> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  const store = await openSharedStore(config);
  try {
    const existing = await store.get<ClusterRecord>(CLUSTER_PK, CLUSTER_SK);
    const keyring = await openOrCreateKeyring(config, existing === undefined);
    if (existing !== undefined) {
      await clusterSalt(store, keyring, config);
      return {};
    }
    const tokens = new TokenService({ store, clock: systemClock });
    const { token, record } = await tokens.createRoot();
    const salt = await keyring.generateDataKey(SALT_CONTEXT);
    try {
      await store.transact([
        {
          type: 'put',
          pk: CLUSTER_PK,
          sk: CLUSTER_SK,
          data: {
            initializedAt: new Date().toISOString(),
            rootAccessor: record.accessor,
            auditSalt: salt.wrapped,
          } satisfies ClusterRecord,
          condition: { kind: 'absent' },
        },
      ]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      // Another node initialised the store first: its root token stands, ours (never shown to anyone) goes.
      await tokens.revoke({ accessor: record.accessor });
      await clusterSalt(store, keyring, config);
      return {};
    }
    const rootTokenFile = dataPaths(config.dataDir).rootToken;
    await writeFile(rootTokenFile, `${token}\n`, { mode: 0o600 });
    await chmod(rootTokenFile, 0o600);
    return { rootToken: token };
  } finally {
    await store.close();
  }
}

/**
 * The audit salt every node of the store shares, unwrapped with this node's keyring.
 * @throws InvalidRequestError when the store is not initialised, or its salt does not open with this keyring
 */
export async function clusterSalt(store: Store, keyring: KeyProvider, config: LocalConfig): Promise<Buffer> {
  const record = await store.get<ClusterRecord>(CLUSTER_PK, CLUSTER_SK);
  const where = redactStoreUrl(config.storeUrl!);
  if (record === undefined) {
    throw new InvalidRequestError(`the store at ${where} is not initialised: run coffer init with COFFER_STORE_URL`);
  }
  try {
    return await keyring.unwrapDataKey(record.data.auditSalt, SALT_CONTEXT);
  } catch (cause) {
    throw new InvalidRequestError(
      `the store at ${where} was initialised with another keyring than ${keyringPath(config)}: ` +
        'every node must use the keyring the store was initialised with (COFFER_KEYRING_FILE)',
      { cause },
    );
  }
}

async function openOrCreateKeyring(config: LocalConfig, storeIsEmpty: boolean): Promise<FileKeyring> {
  const file = keyringPath(config);
  if (FileKeyring.exists(file)) return FileKeyring.open({ path: file, passphrase: config.passphrase });
  if (!storeIsEmpty) {
    throw new InvalidRequestError(
      `the store at ${redactStoreUrl(config.storeUrl!)} is initialised, and this node has no keyring at ${file}: ` +
        'give it the keyring the store was initialised with (COFFER_KEYRING_FILE)',
    );
  }
  try {
    return await FileKeyring.init({ path: file, passphrase: config.passphrase });
  } catch (error) {
    // Another node on this machine created it a moment ago: share it.
    if (error instanceof AlreadyExistsError) return FileKeyring.open({ path: file, passphrase: config.passphrase });
    throw error;
  }
}
