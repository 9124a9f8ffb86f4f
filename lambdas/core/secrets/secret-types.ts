import type { ExpirationInput } from './expiration/expiration-input.ts';
import type { ExpirationPolicy, ExpirationStatus, ExpiryNotice } from './expiration/expiration-policy.ts';

/**
 * The vocabulary of the secrets domain: values, stored records, requests and results.
 *
 * Rules follow AWS Secrets Manager (staging labels, client request tokens, recovery windows); see
 * `/work/shared/REFERENCE.md`. Stored records are `type` aliases, not interfaces, so they satisfy the store's
 * `ItemData` (`Record<string, unknown>`) without casts.
 */

/** A secret value: UTF-8 text or raw bytes, exactly as AWS's `SecretString` / `SecretBinary`. */
export type SecretValue =
  | { readonly kind: 'string'; readonly string: string }
  | { readonly kind: 'binary'; readonly binary: Buffer };

/** The label on the version that reads return by default. */
export const AWSCURRENT = 'AWSCURRENT';
/** Follows `AWSCURRENT`: whenever AWSCURRENT moves, AWSPREVIOUS goes to the version it left. */
export const AWSPREVIOUS = 'AWSPREVIOUS';
/** The label rotation puts on a new value before it becomes current. */
export const AWSPENDING = 'AWSPENDING';

/** Store partition holding one metadata item per secret, keyed by name. */
export const SECRETS_PARTITION = 'secrets';

/**
 * Store partition of one secret's versions. Keyed by ARN, not name, so a deleted-and-recreated secret (new ARN)
 * can never pick up a version of its predecessor.
 */
export const versionPartition = (arn: string): string => `secret-versions#${arn}`;

/** Limits from the AWS Secrets Manager quotas, shared by the schema and the service. */
export const SECRET_LIMITS = {
  nameMaxLength: 512,
  valueMaxBytes: 65_536,
  descriptionMaxLength: 2048,
  maxTags: 50,
  tagKeyMaxLength: 128,
  tagValueMaxLength: 256,
  maxMetadataKeys: 64,
  metadataKeyMaxLength: 128,
  metadataValueMaxLength: 512,
  labelMaxLength: 256,
  maxLabelsPerVersion: 20,
  /** Deprecated (unlabelled) versions kept before the oldest are pruned. */
  maxDeprecatedVersions: 100,
  /** A deprecated version younger than this is never pruned, whatever the count. */
  pruneMinAgeMs: 24 * 60 * 60 * 1000,
  minRecoveryWindowDays: 7,
  maxRecoveryWindowDays: 30,
  defaultRecoveryWindowDays: 30,
} as const;

/** One entry of a secret's version history, in creation order (oldest first). */
export type VersionRef = { versionId: string; createdAt: number };

/**
 * The metadata item of a secret (pk `secrets`, sk = name). Staging labels live here rather than on the versions,
 * so that every label move is one conditional write of one item and concurrent writers can never lose an update.
 */
export type SecretRecord = {
  arn: string;
  name: string;
  description: string;
  tags: Record<string, string>;
  /** Custom metadata, as Vault KV v2's `custom_metadata`. */
  metadata: Record<string, string>;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds. */
  updatedAt: number;
  /** Label -> the one version carrying it. */
  stages: Record<string, string>;
  /** Every stored version, oldest first. */
  versions: VersionRef[];
  /** When the deletion was requested; present only while pending deletion. */
  deletedAt?: number;
  /** When the secret is purged; from then on it reads as absent. */
  deletionDate?: number;
  /** An AWS-style resource policy document (JSON text), as PutResourcePolicy stored it. */
  resourcePolicy?: string;
  /** The ARN of the customer key new versions are sealed under (`KmsKeyId`); absent: the default key. */
  kmsKeyId?: string;
  /** On a replica only: the region of its primary. A replica is read-only; the replicator alone writes it. */
  primaryRegion?: string;
  /** On a primary only: the regions it is replicated to, each with its replication state. */
  replicas?: ReplicaRecord[];
  /** When reads of its value end (`core/secrets/expiration/`); absent: never. */
  expiration?: ExpirationPolicy;
};

/** AWS's `ReplicationStatus[].Status`. */
export type ReplicaStatus = 'InSync' | 'InProgress' | 'Failed';

/** One replica region of a primary, as the primary's record keeps it (see `core/secrets/replication/`). */
export type ReplicaRecord = {
  region: string;
  /** The replica's own key. @default the default key */
  kmsKeyId?: string;
  status: ReplicaStatus;
  statusMessage?: string;
  /** ReplicateSecretToRegions' `ForceOverwriteReplicaSecret`: a secret of this name in the region is replaced. */
  forceOverwrite?: boolean;
  /** A failure retrying cannot clear (a secret of this name already in the region): only a new write retries it. */
  permanent?: boolean;
};

/** A replica region as DescribeSecret shows it (AWS's `ReplicationStatus` entry). */
export interface ReplicaStatusView {
  readonly region: string;
  readonly kmsKeyId?: string | undefined;
  readonly status: ReplicaStatus;
  readonly statusMessage?: string | undefined;
  readonly lastAccessedDate?: number | undefined;
}

/** A version item (pk `secret-versions#<arn>`, sk = versionId). Holds only ciphertext and a wrapped data key. */
export type VersionRecord = {
  versionId: string;
  createdAt: number;
  kind: SecretValue['kind'];
  /** `envelope.seal` blob, bound to `{ secretId: arn, versionId }`. */
  sealed: string;
  /** The version's own data key, wrapped by the key provider under the same binding as encryption context. */
  wrappedKey: string;
  /** The ARN of the customer key that wrapped `wrappedKey`; absent: the default key (and every older version). */
  kmsKeyId?: string;
};

export interface CreateSecretInput {
  name: string;
  description?: string | undefined;
  tags?: Record<string, string> | undefined;
  metadata?: Record<string, string> | undefined;
  value?: SecretValue | undefined;
  /** Becomes the first version's id. @default crypto.randomUUID() */
  clientRequestToken?: string | undefined;
  /** The region in the new ARN (an AWS-compatible caller's credential scope). @default the service's region */
  region?: string | undefined;
  /**
   * Whether the caller may read this secret's values. Only then is a retry with a token that is already a version id
   * answered by comparing values (same value: an idempotent no-op; different: `AlreadyExistsError`). Otherwise every
   * such retry is refused alike, so that a caller who may write but not read cannot test guesses of a value.
   * @default false
   */
  mayRead?: boolean | undefined;
  /** The ARN of a customer key (as `KeyRing.resolve` returned it) to seal every version under. @default the default key */
  kmsKeyId?: string | undefined;
  /** When reads of its value end. @default never */
  expiration?: ExpirationInput | undefined;
}

export interface CreateSecretResult {
  arn: string;
  name: string;
  /** Present when a value was given. */
  versionId?: string;
}

export interface PutSecretValueInput {
  /** Name, full ARN or partial ARN (the ARN without its `-xxxxxx` suffix). */
  secretId: string;
  value: SecretValue;
  /** Becomes the version id; a retry with the same token and value is a no-op. @default crypto.randomUUID() */
  clientRequestToken?: string | undefined;
  /** Labels to move to the new version. @default ['AWSCURRENT'] */
  versionStages?: readonly string[] | undefined;
  /** Check-and-set: the AWSCURRENT version must be exactly this one. */
  ifVersionId?: string | undefined;
  /** Check-and-set: the secret must not exist or must have no AWSCURRENT version. */
  ifAbsent?: boolean | undefined;
  /** Create the secret when it does not exist (upsert). Only by name, not by ARN. @default false */
  createIfMissing?: boolean | undefined;
  /** The region in the ARN of a secret created by `createIfMissing`. @default the service's region */
  region?: string | undefined;
  /**
   * Whether the caller may read this secret's values. Only then is a retry with a token that is already a version id
   * answered by comparing values (same value: an idempotent no-op; different: `AlreadyExistsError`). Otherwise every
   * such retry is refused alike, so that a caller who may write but not read cannot test guesses of a value.
   * @default false
   */
  mayRead?: boolean | undefined;
  /** A new description, written in the same transaction as the version. @default unchanged */
  description?: string | undefined;
}

/** AWS UpdateSecret: a new description, a new current value, or both in one write. */
export interface UpdateSecretValueInput {
  /** Name, full ARN or partial ARN. */
  secretId: string;
  description?: string | undefined;
  /** Becomes the new version, labelled AWSCURRENT. */
  value?: SecretValue | undefined;
  /** Becomes the new version's id; see `PutSecretValueInput.clientRequestToken`. */
  clientRequestToken?: string | undefined;
  /** See `PutSecretValueInput.mayRead`. @default false */
  mayRead?: boolean | undefined;
  /**
   * A new key for the secret: a customer key's ARN, or `null` for the default key. New versions are sealed under it;
   * see `reencrypt` for the existing ones. @default unchanged
   */
  kmsKeyId?: string | null | undefined;
  /**
   * With a new `kmsKeyId`: re-encrypt the versions labelled AWSCURRENT, AWSPENDING and AWSPREVIOUS under it, as AWS
   * does (other versions stay under the key that sealed them). AWS skips this when the caller may not use the
   * previous key; the route decides. @default false
   */
  reencrypt?: boolean | undefined;
}

export interface UpdateSecretValueResult {
  arn: string;
  name: string;
  /** Present when a value was given. */
  versionId?: string;
}

export interface PutSecretValueResult {
  arn: string;
  name: string;
  versionId: string;
  versionStages: string[];
}

export interface GetSecretValueInput {
  secretId: string;
  versionId?: string | undefined;
  /** @default 'AWSCURRENT' when no versionId is given */
  versionStage?: string | undefined;
}

export interface GetSecretValueResult {
  arn: string;
  name: string;
  versionId: string;
  value: SecretValue;
  versionStages: string[];
  createdAt: number;
  /** Present while the secret's expiration policy warns: expiring soon, or read during its grace period. */
  expiry?: ExpiryNotice;
}

export interface SecretDescription {
  arn: string;
  name: string;
  description: string;
  tags: Record<string, string>;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  deletedAt?: number;
  deletionDate?: number;
  resourcePolicy?: string;
  /** The ARN of the customer key the secret names; absent for the default key, which AWS shows by omitting it. */
  readonly kmsKeyId?: string | undefined;
  /** Only versions that carry at least one label, as AWS's `VersionIdsToStages`. */
  versionIdsToStages: Record<string, string[]>;
  /** The region the secret lives in. */
  readonly region: string;
  /** Set on replicas only: the primary's region. */
  readonly primaryRegion?: string | undefined;
  /** On primaries with replicas: each replica region and its state. */
  readonly replication?: readonly ReplicaStatusView[] | undefined;
  /** The expiration policy and where it stands. */
  readonly expiration?: { readonly policy: ExpirationPolicy; readonly status: ExpirationStatus } | undefined;
}

export interface ListVersionsInput {
  secretId: string;
  /** Include versions without labels. @default false */
  includeDeprecated?: boolean | undefined;
  /** @default 100 (maximum 1000) */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface VersionSummary {
  versionId: string;
  versionStages: string[];
  createdAt: number;
}

export interface ListVersionsResult {
  /** Newest first. */
  versions: VersionSummary[];
  nextCursor?: string;
}

export interface UpdateVersionStageInput {
  secretId: string;
  versionStage: string;
  moveToVersionId?: string | undefined;
  /** Required when the label sits on another version than `moveToVersionId`; must name that version. */
  removeFromVersionId?: string | undefined;
}

export interface UpdateSecretInput {
  secretId: string;
  description?: string | undefined;
  /** Replaces the custom metadata as a whole. */
  metadata?: Record<string, string> | undefined;
  addTags?: Record<string, string> | undefined;
  removeTagKeys?: readonly string[] | undefined;
  /** A resource policy document to store; `null` removes it. */
  resourcePolicy?: string | null | undefined;
  /** A new expiration policy (starts afresh: read count and observed conditions reset); `null` removes it. */
  expiration?: ExpirationInput | null | undefined;
}

export interface DeleteSecretInput {
  secretId: string;
  /** 7–30. @default 30 */
  recoveryWindowDays?: number | undefined;
  /** Purge at once; cannot be combined with `recoveryWindowDays`. @default false */
  forceDeleteWithoutRecovery?: boolean | undefined;
}

export interface DeleteSecretResult {
  arn: string;
  name: string;
  deletionDate: number;
}

export interface SecretRef {
  arn: string;
  name: string;
}

export interface ListSecretsInput {
  /**
   * A folder path: empty for the root, otherwise ending in '/' (added when missing, so `prod` never matches
   * `production/...`: a list permission on one folder must not reveal names in a sibling).
   * @default ''
   */
  prefix?: string | undefined;
  /** Every secret under the prefix instead of its direct children. @default false */
  recursive?: boolean | undefined;
  /** @default false */
  includePlannedDeletion?: boolean | undefined;
  /** @default 100 (maximum 1000) */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type ListEntry = { name: string; arn: string; kind: 'secret' } | { name: string; kind: 'folder' };

export interface ListSecretsResult {
  entries: ListEntry[];
  nextCursor?: string;
}
