import { EXPIRY_INDEX_PARTITION, EXPIRY_STATE_PARTITION } from './expiration/expiry-index.ts';
import { CREATION_ORDER_PARTITION } from './secret-creation-order.ts';
import { DELETION_INDEX_PARTITION } from './secret-deletion-index.ts';
import { SECRETS_PARTITION, versionPartition } from './secret-types.ts';

/**
 * Where one region's secrets live in the store. Secrets are regional, as in AWS: a name is unique within its region
 * only, so each region has its own metadata and creation-order partitions. Version partitions need no region of their
 * own: they are keyed by the secret's ARN, which names the region.
 */
export interface SecretPartitions {
  /** One `SecretRecord` per secret, keyed by name. */
  readonly secrets: string;
  /** The creation-order index ListSecrets reads (`secret-creation-order.ts`). */
  readonly creationOrder: string;
  /** The deletion-date index the purge reads (`secret-deletion-index.ts`). */
  readonly deletionIndex: string;
  /** The expiry index the expiry sweep reads (`expiration/expiry-index.ts`). */
  readonly expiryIndex: string;
  /** Read counts and observed conditions of expiration policies. */
  readonly expiryState: string;
}

/** The home region's partitions keep their names from before regions existed, so existing stores stay readable. */
export const HOME_PARTITIONS: SecretPartitions = {
  secrets: SECRETS_PARTITION,
  creationOrder: CREATION_ORDER_PARTITION,
  deletionIndex: DELETION_INDEX_PARTITION,
  expiryIndex: EXPIRY_INDEX_PARTITION,
  expiryState: EXPIRY_STATE_PARTITION,
};

/** The separator of a regional partition name: `secrets@us-west-2`. Not a name character, so never ambiguous. */
const REGION_SEPARATOR = '@';

/** The partitions of `region`'s secrets on a node whose home region is `home`. */
export function secretPartitionsFor(region: string, home: string): SecretPartitions {
  if (region === home) return HOME_PARTITIONS;
  return {
    secrets: `${SECRETS_PARTITION}${REGION_SEPARATOR}${region}`,
    creationOrder: `${CREATION_ORDER_PARTITION}${REGION_SEPARATOR}${region}`,
    deletionIndex: `${DELETION_INDEX_PARTITION}${REGION_SEPARATOR}${region}`,
    expiryIndex: `${EXPIRY_INDEX_PARTITION}${REGION_SEPARATOR}${region}`,
    expiryState: `${EXPIRY_STATE_PARTITION}${REGION_SEPARATOR}${region}`,
  };
}

/** Whether `pk` is a region's secret-metadata partition (`secrets`, `secrets@<region>`). */
export function isSecretsPartition(pk: string): boolean {
  return pk === SECRETS_PARTITION || pk.startsWith(`${SECRETS_PARTITION}${REGION_SEPARATOR}`);
}

const VERSION_PARTITION_PREFIX = versionPartition('');

/** Whether `pk` is a secret's metadata or versions: what a GET reads, kept in memory where the store has one writer. */
export function isSecretReadPartition(pk: string): boolean {
  return isSecretsPartition(pk) || pk.startsWith(VERSION_PARTITION_PREFIX);
}
