import { randomUUID } from 'node:crypto';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidRequestError,
  LimitExceededError,
  NotFoundError,
  ThrottledError,
  ValidationError,
} from '../errors.ts';
import { assertLeaseId } from '../leases/lease-fns.ts';
import { LEASE_PK } from '../leases/lease-types.ts';
import { parseResourcePolicy } from '../policy/resource-policy.ts';
import type { Clock } from '../ports/clock.ts';
import type { KeyProvider } from '../ports/key-provider.ts';
import type { KeyRing } from '../ports/key-ring.ts';
import {
  ConditionFailedError,
  MAX_TRANSACTION_OPS,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../ports/store.ts';
import { retryOnConflict } from '../retry.ts';
import { ExpirationGuard } from './expiration/expiration-guard.ts';
import { type ExpirationInput, toExpirationPolicy } from './expiration/expiration-input.ts';
import { type ExpirationPolicy, expirationStatus } from './expiration/expiration-policy.ts';
import type { ExpiryEventPublisher } from './expiration/expiry-events.ts';
import {
  type ReadCountItem,
  readCountKey,
  reindexExpiry,
  type WatchItem,
  watchKey,
} from './expiration/expiry-index.ts';
import { markingReplicasStale, type ReplicatedWriteHook } from './replication/replica-marking-store.ts';
import { assertDeletable, assertWritable, replicationView } from './replication/replication-rules.ts';
import {
  CREATION_ORDER_COMPLETE,
  type CreationOrder,
  type CreationOrderItem,
  creationOrderKey,
  creationOrderPrefix,
  indexCreation,
  isCreationOrderKey,
  unindexCreation,
} from './secret-creation-order.ts';
import {
  DELETION_INDEX_COMPLETE,
  type DeletionIndexItem,
  parseDeletionIndexKey,
  reindexDeletion,
} from './secret-deletion-index.ts';
import { matchesFilters, type SecretFilter } from './secret-filters.ts';
import {
  applyStageUpdate,
  arnMatches,
  assertLabelLimit,
  decodeCursor,
  deletionDateFor,
  encodeCursor,
  folderPrefix,
  isExpired,
  isPendingDeletion,
  labelsByVersion,
  labelsOf,
  moveLabels,
  newSecretArn,
  parseSecretId,
  pastFolder,
  sameValue,
  type VersionLimits,
  versionsToPrune,
  youngDeprecatedCount,
} from './secret-fns.ts';
import { HOME_PARTITIONS, type SecretPartitions } from './secret-partitions.ts';
import {
  ClientRequestTokenSchema,
  CustomMetadataSchema,
  DescriptionSchema,
  PageLimitSchema,
  RecoveryWindowDaysSchema,
  ResourcePolicyTextSchema,
  SecretNameSchema,
  SecretValueSchema,
  StagingLabelSchema,
  TagKeySchema,
  TagsSchema,
  VersionIdSchema,
  VersionStagesSchema,
  validate,
} from './secret-schema.ts';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  type CreateSecretInput,
  type CreateSecretResult,
  type DeleteSecretInput,
  type DeleteSecretResult,
  type GetSecretValueInput,
  type GetSecretValueResult,
  type ListEntry,
  type ListSecretsInput,
  type ListSecretsResult,
  type ListVersionsInput,
  type ListVersionsResult,
  type PutSecretValueInput,
  type PutSecretValueResult,
  SECRET_LIMITS,
  type SecretDescription,
  type SecretRecord,
  type SecretRef,
  type SecretValue,
  type UpdateSecretInput,
  type UpdateSecretValueInput,
  type UpdateSecretValueResult,
  type UpdateVersionStageInput,
  type VersionRecord,
  versionPartition,
} from './secret-types.ts';
import { openVersion, providerFor, resealVersion, sealVersion, type VersionKeys } from './version-sealing.ts';
import { type WriteRate, WriteRateLimiter } from './write-rate.ts';

export interface SecretServiceOptions {
  readonly store: Store;
  /** Wraps each version's data key; in production a caching decorator, since `get` unwraps on every read. */
  readonly keyProvider: KeyProvider;
  /** The customer keys a secret may name (`kmsKeyId`). @default none: a secret naming a key is refused */
  readonly keyRing?: KeyRing | undefined;
  readonly clock: Clock;
  /** Region part of the ARNs. @default 'us-east-1' (a real region, as the local node's default; see its config) */
  readonly region?: string | undefined;
  /** Account part of the ARNs. @default '000000000000' */
  readonly account?: string | undefined;
  /**
   * Attempts of a conditional write that lost a race, before giving up with `ConflictError`. Each retry re-reads and
   * re-checks every rule (including check-and-set), so a retry can never lose another writer's update.
   * @default 20
   */
  readonly maxWriteAttempts?: number | undefined;
  /**
   * Deprecated (unlabelled) versions a secret keeps; beyond them the oldest are pruned as part of writes. Also the most
   * deprecated versions younger than `minPruneAgeMs` a secret may hold: a write that would exceed it is refused with
   * `LimitExceededError`, as AWS refuses more than 100 versions in 24 hours.
   * @default 100
   */
  readonly maxDeprecatedVersions?: number | undefined;
  /** A deprecated version younger than this is never pruned. @default 86_400_000 (24 hours) */
  readonly minPruneAgeMs?: number | undefined;
  /**
   * Versions carrying a staging label a secret may hold. Labelled versions are never pruned, so without this a writer
   * giving every new version a label of its own would grow the secret without bound.
   * @default 100
   */
  readonly maxLabelledVersions?: number | undefined;
  /**
   * Writes per secret (value, metadata, labels) allowed per second, and their burst, in this process; a write beyond
   * them is refused at once with `ThrottledError`, so a hot writer gets an answer it can back off on instead of
   * slowing everyone down with lost races. `'unlimited'` turns the limit off.
   * @default { perSecond: 10, burst: 20 }
   */
  readonly writeRate?: WriteRate | 'unlimited' | undefined;
  /** The region's partitions (`RegionalSecrets` gives each region its own). @default HOME_PARTITIONS */
  readonly partitions?: SecretPartitions | undefined;
  /** Told after each committed write to a primary with replicas (the local replication runner). @default none */
  readonly onReplicatedWrite?: ReplicatedWriteHook | undefined;
  /** Where `SecretReadDuringGrace` goes (the events port). @default not published */
  readonly expiryEvents?: ExpiryEventPublisher | undefined;
  /** Told when a grace-period event could not be published. @default ignored */
  readonly onExpiryEventError?: ((err: unknown) => void) | undefined;
}

const DEFAULT_MAX_LABELLED_VERSIONS = 100;

/** See `SecretServiceOptions.writeRate`. */
export const DEFAULT_WRITE_RATE: WriteRate = { perSecond: 10, burst: 20 };

type SecretItem = StoredItem<SecretRecord>;

/** Two ops of a value write are the version and the metadata; the rest of the transaction is free for pruning. */
const PRUNE_BUDGET_WITH_VERSION = MAX_TRANSACTION_OPS - 2;
const PRUNE_BUDGET_METADATA_ONLY = MAX_TRANSACTION_OPS - 1;
const ARN_MAX_LENGTH = 2048;
const DEFAULT_PAGE = 100;
/** Index entries one creation-order page reads at most, however few of them the caller may see or the filters keep. */
const SCAN_BUDGET = 1000;

/** Records a background sweep reads between turns of the event loop: about a millisecond of work at 1–2 KiB each. */
const BACKGROUND_SCAN_PAGE = 100;

export interface CreationOrderListInput {
  readonly order: CreationOrder;
  /** 1–1000. */
  readonly limit: number;
  /** The `position` of the previous page. */
  readonly after?: string | undefined;
  readonly includePlannedDeletion?: boolean | undefined;
  readonly filters?: readonly SecretFilter[] | undefined;
  /** The caller's decision on a name, asked before its record is read (a listing's authorisation). */
  readonly visible: (name: string) => Promise<boolean>;
}

export interface CreationOrderPage {
  readonly secrets: SecretDescription[];
  /** Where the next page starts; absent when none follows. */
  readonly position?: string;
}

/**
 * Secrets with versions and staging labels, following AWS Secrets Manager's rules: client request tokens as version
 * ids, AWSCURRENT/AWSPREVIOUS movement, UpdateSecretVersionStage, recovery windows, pruning of deprecated versions.
 * Adds check-and-set (`ifVersionId`, `ifAbsent`) and a folder view for listing.
 *
 * Every write is read → compute → one conditional transaction on the metadata item's revision, retried on a lost
 * race. Every version is sealed under its own data key, bound to `{ secretId: arn, versionId }`.
 *
 * @example
 * ```ts
 * const secrets = new SecretService({ store, keyProvider, clock: systemClock });
 * await secrets.create({ name: 'prod/db', value: { kind: 'string', string: 'hunter2' } });
 * const { value } = await secrets.get({ secretId: 'prod/db' });
 * ```
 */
export class SecretService {
  private readonly store: Store;
  private readonly keyProvider: KeyProvider;
  private readonly keys: VersionKeys;
  private readonly clock: Clock;
  private readonly region: string;
  private readonly account: string;
  private readonly maxWriteAttempts: number;
  private readonly versionLimits: VersionLimits;
  private readonly maxLabelledVersions: number;
  private readonly writeLimiter: WriteRateLimiter | undefined;
  private readonly partitions: SecretPartitions;
  private readonly expiry: ExpirationGuard;
  /** The store's marker was seen: every secret has its creation-order items (see `indexCreationOrder`). */
  private creationOrderIndexed = false;
  /** The store's marker was seen: every secret scheduled for deletion has its entry (see `indexDeletions`). */
  private deletionsIndexed = false;

  constructor(options: SecretServiceOptions) {
    this.keyProvider = options.keyProvider;
    this.keys = { defaultKey: options.keyProvider, keyRing: options.keyRing };
    this.clock = options.clock;
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '000000000000';
    this.partitions = options.partitions ?? HOME_PARTITIONS;
    this.store = markingReplicasStale(
      options.store,
      this.partitions.secrets,
      options.onReplicatedWrite,
      this.partitions === HOME_PARTITIONS ? undefined : this.region,
    );
    this.expiry = new ExpirationGuard({
      store: this.store,
      clock: this.clock,
      partitions: this.partitions,
      region: this.region,
      events: options.expiryEvents,
      onEventError: options.onExpiryEventError,
    });
    this.maxWriteAttempts = options.maxWriteAttempts ?? 20;
    const maxDeprecated = options.maxDeprecatedVersions ?? SECRET_LIMITS.maxDeprecatedVersions;
    const minPruneAgeMs = options.minPruneAgeMs ?? SECRET_LIMITS.pruneMinAgeMs;
    if (!Number.isInteger(maxDeprecated) || maxDeprecated < 1) {
      throw new RangeError('maxDeprecatedVersions must be a whole number of at least 1');
    }
    if (!Number.isFinite(minPruneAgeMs) || minPruneAgeMs < 0) {
      throw new RangeError('minPruneAgeMs must be a finite number of milliseconds, at least 0');
    }
    this.versionLimits = { maxDeprecated, minPruneAgeMs };
    this.maxLabelledVersions = options.maxLabelledVersions ?? DEFAULT_MAX_LABELLED_VERSIONS;
    if (!Number.isInteger(this.maxLabelledVersions) || this.maxLabelledVersions < 1) {
      throw new RangeError('maxLabelledVersions must be a whole number of at least 1');
    }
    const rate = options.writeRate ?? DEFAULT_WRITE_RATE;
    this.writeLimiter = rate === 'unlimited' ? undefined : new WriteRateLimiter(rate, this.clock);
  }

  /**
   * Creates a secret, with a first version labelled AWSCURRENT when a value is given. A retry with the same token and
   * value returns the first call's result, but only for a caller that `mayRead` the secret (see `CreateSecretInput`).
   *
   * @throws AlreadyExistsError when a live secret has this name (and the call is not an idempotent retry)
   * @throws InvalidRequestError when a secret of this name is scheduled for deletion
   * @throws ThrottledError when the secret's write rate is exceeded
   */
  async create(input: CreateSecretInput): Promise<CreateSecretResult> {
    const name = validate(SecretNameSchema, input.name);
    const description = input.description === undefined ? '' : validate(DescriptionSchema, input.description);
    const tags = input.tags === undefined ? {} : validate(TagsSchema, input.tags);
    const metadata = input.metadata === undefined ? {} : validate(CustomMetadataSchema, input.metadata);
    const value = input.value === undefined ? undefined : validate(SecretValueSchema, input.value);
    const token =
      input.clientRequestToken === undefined ? undefined : validate(ClientRequestTokenSchema, input.clientRequestToken);
    const versionId = token ?? randomUUID();
    const arn = newSecretArn(this.regionFor(input.region), this.account, name);
    const kmsKeyId = input.kmsKeyId;
    // Before anything is written: a key this node does not have is refused at once.
    if (kmsKeyId !== undefined) providerFor(this.keys, kmsKeyId);
    let sealed: VersionRecord | undefined;
    this.chargeWrite(name);

    return this.retrying(async () => {
      const now = this.clock.now();
      let existing = await this.store.get<SecretRecord>(this.partitions.secrets, name);
      if (existing !== undefined && isExpired(existing.data, now)) {
        await this.purge(existing);
        existing = undefined;
      }
      if (existing !== undefined) {
        const current = existing.data;
        if (isPendingDeletion(current)) {
          throw new InvalidRequestError(`secret ${name} is scheduled for deletion; restore it or wait for the purge`, {
            details: { reason: 'scheduled_for_deletion' },
          });
        }
        // Only a reader may learn that a retry matches: to anyone else, "same value" and "different value" must read
        // alike, or a create-only caller could confirm guesses of the value through the version id it can list.
        if (input.mayRead === true && value !== undefined && token !== undefined && hasVersion(current, versionId)) {
          if (await this.holdsValue(current.arn, versionId, value)) return { arn: current.arn, name, versionId };
        }
        throw new AlreadyExistsError(`secret ${name} already exists`, { details: { reason: 'secret_exists', name } });
      }
      const expiration =
        input.expiration === undefined ? undefined : await this.expirationPolicy(name, input.expiration, now);
      const record: SecretRecord = {
        arn,
        name,
        description,
        tags,
        metadata,
        createdAt: now,
        updatedAt: now,
        stages: {},
        versions: [],
        ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
        ...(expiration === undefined ? {} : { expiration }),
      };
      const ops: WriteOp[] = [];
      if (value !== undefined) {
        sealed ??= await this.sealVersion(arn, versionId, value, kmsKeyId);
        record.stages = { [AWSCURRENT]: versionId };
        record.versions = [{ versionId, createdAt: sealed.createdAt }];
        ops.push({
          type: 'put',
          pk: versionPartition(arn),
          sk: versionId,
          data: sealed,
          condition: { kind: 'absent' },
        });
      }
      ops.push({ type: 'put', pk: this.partitions.secrets, sk: name, data: record, condition: { kind: 'absent' } });
      ops.push(...indexCreation(name, now, this.partitions.creationOrder));
      ops.push(...reindexExpiry(this.partitions, undefined, record));
      await this.store.transact(ops);
      return value === undefined ? { arn, name } : { arn, name, versionId };
    });
  }

  /**
   * Stores a new version and moves its labels to it (AWS PutSecretValue), pruning deprecated versions beyond the
   * limit in the same transaction. The idempotency check (same token) comes before check-and-set, so a client
   * retrying after a lost response succeeds; it is a no-op only for a caller that `mayRead` the secret.
   *
   * @throws AlreadyExistsError when the token is already a version id (with a different value, for a reader)
   * @throws ConflictError when `ifVersionId` / `ifAbsent` does not hold
   * @throws NotFoundError when the secret does not exist and `createIfMissing` is not set
   * @throws InvalidRequestError when the secret is scheduled for deletion
   * @throws LimitExceededError when the secret already holds the most deprecated versions too young to prune
   * @throws ThrottledError when the secret's write rate is exceeded
   */
  async put(input: PutSecretValueInput): Promise<PutSecretValueResult> {
    const value = validate(SecretValueSchema, input.value);
    const token =
      input.clientRequestToken === undefined ? undefined : validate(ClientRequestTokenSchema, input.clientRequestToken);
    const requested = [...new Set(validate(VersionStagesSchema, input.versionStages ?? [AWSCURRENT]))];
    const ifVersionId = input.ifVersionId === undefined ? undefined : validate(VersionIdSchema, input.ifVersionId);
    const description = input.description === undefined ? undefined : validate(DescriptionSchema, input.description);
    if (ifVersionId !== undefined && input.ifAbsent === true) {
      throw new ValidationError('give ifVersionId or ifAbsent, not both');
    }
    const versionId = token ?? randomUUID();
    let newArn: string | undefined;
    let sealed: { arn: string; kmsKeyId: string | undefined; record: VersionRecord } | undefined;
    const sealFor = async (arn: string, kmsKeyId?: string): Promise<VersionRecord> => {
      // The binding includes the ARN, so a retry that lands on another ARN (the name was recreated) must re-seal; one
      // that finds the secret's key changed meanwhile re-seals under the new key.
      if (sealed?.arn !== arn || sealed.kmsKeyId !== kmsKeyId) {
        sealed = { arn, kmsKeyId, record: await this.sealVersion(arn, versionId, value, kmsKeyId) };
      }
      return sealed.record;
    };

    let charged = false;

    return this.retrying(async () => {
      const now = this.clock.now();
      let item = await this.find(input.secretId);
      if (!charged && (item !== undefined || input.createIfMissing === true)) {
        // Before sealing (a key provider call) and before the store sees the write: a refusal must be cheap.
        this.chargeWrite(item?.data.name ?? input.secretId);
        charged = true;
      }
      if (item !== undefined && isExpired(item.data, now)) {
        if (input.createIfMissing !== true) throw notFound(input.secretId);
        await this.purge(item);
        item = undefined;
      }
      if (item === undefined) {
        if (input.createIfMissing !== true || input.secretId.startsWith('arn:')) throw notFound(input.secretId);
        if (ifVersionId !== undefined) {
          throw new ConflictError(`check-and-set failed: secret ${input.secretId} has no current version`);
        }
        const name = input.secretId;
        newArn ??= newSecretArn(this.regionFor(input.region), this.account, name);
        const record = await sealFor(newArn);
        // The first version of a secret always becomes current, as in AWS.
        const stages = moveLabels({}, withCurrent(requested), versionId);
        const secret: SecretRecord = {
          arn: newArn,
          name,
          description: description ?? '',
          tags: {},
          metadata: {},
          createdAt: now,
          updatedAt: now,
          stages,
          versions: [{ versionId, createdAt: record.createdAt }],
        };
        await this.store.transact([
          { type: 'put', pk: versionPartition(newArn), sk: versionId, data: record, condition: { kind: 'absent' } },
          { type: 'put', pk: this.partitions.secrets, sk: name, data: secret, condition: { kind: 'absent' } },
          ...indexCreation(name, now, this.partitions.creationOrder),
        ]);
        return { arn: newArn, name, versionId, versionStages: labelsOf(stages, versionId) };
      }

      const secret = item.data;
      assertWritable(secret);
      if (isPendingDeletion(secret)) throw markedForDeletion(input.secretId);
      if (hasVersion(secret, versionId)) {
        // One answer for a non-reader whatever the value, so the token cannot test guesses of a value it may not read.
        if (input.mayRead !== true || !(await this.holdsValue(secret.arn, versionId, value))) {
          throw new AlreadyExistsError(
            `version ${versionId} already exists; a new value needs a new clientRequestToken`,
            { details: { reason: 'token_in_use', versionId, arn: secret.arn } },
          );
        }
        if (description !== undefined && description !== secret.description) {
          // A retry whose description differs from the stored one still gets it, as the first call would have.
          await this.store.transact([
            {
              type: 'put',
              pk: this.partitions.secrets,
              sk: secret.name,
              data: { ...secret, description, updatedAt: now },
              condition: { kind: 'rev', rev: item.rev },
            },
          ]);
        }
        return { arn: secret.arn, name: secret.name, versionId, versionStages: labelsOf(secret.stages, versionId) };
      }
      const current = secret.stages[AWSCURRENT];
      if (ifVersionId !== undefined && current !== ifVersionId) {
        throw new ConflictError(`check-and-set failed: the current version differs from ${ifVersionId}`);
      }
      if (input.ifAbsent === true && current !== undefined) {
        throw new ConflictError(`check-and-set failed: secret ${input.secretId} already has a current version`);
      }
      const labels = secret.versions.length === 0 ? withCurrent(requested) : requested;
      const stages = moveLabels(secret.stages, labels, versionId);
      assertLabelLimit(stages);
      const unsealed = [...secret.versions, { versionId, createdAt: now }];
      if (youngDeprecatedCount(unsealed, stages, now, this.versionLimits) > this.versionLimits.maxDeprecated) {
        throw this.tooManyVersions(input.secretId);
      }
      if (new Set(Object.values(stages)).size > this.maxLabelledVersions) {
        throw new LimitExceededError(
          `secret ${input.secretId} already has ${this.maxLabelledVersions} versions with staging labels; ` +
            'remove labels from some before adding another',
        );
      }
      const record = await sealFor(secret.arn, secret.kmsKeyId);
      const versions = [...secret.versions, { versionId, createdAt: record.createdAt }];
      const pruned = versionsToPrune(versions, stages, now, PRUNE_BUDGET_WITH_VERSION, this.versionLimits);
      const next: SecretRecord = {
        ...secret,
        ...(description === undefined ? {} : { description }),
        stages,
        versions: versions.filter((v) => !pruned.includes(v.versionId)),
        updatedAt: now,
      };
      await this.store.transact([
        { type: 'put', pk: versionPartition(secret.arn), sk: versionId, data: record, condition: { kind: 'absent' } },
        {
          type: 'put',
          pk: this.partitions.secrets,
          sk: secret.name,
          data: next,
          condition: { kind: 'rev', rev: item.rev },
        },
        ...pruned.map((id): WriteOp => ({ type: 'delete', pk: versionPartition(secret.arn), sk: id })),
      ]);
      return { arn: secret.arn, name: secret.name, versionId, versionStages: labelsOf(stages, versionId) };
    });
  }

  /**
   * AWS UpdateSecret: a new description and a new current value are one conditional transaction, so a refused or
   * failed write changes neither; with only a description it is `update`, with neither it changes nothing. The value
   * follows `put`'s rules (idempotency by token, version caps, write rate, pending deletion).
   *
   * With `kmsKeyId`, the secret's key changes first (so a value given with it is sealed under the new key), then,
   * with `reencrypt`, its labelled versions are re-encrypted under it (see `reencryptLabelled`).
   *
   * @throws AlreadyExistsError, LimitExceededError, ThrottledError, InvalidRequestError as `put` and `update` do
   * @throws NotFoundError when the key is not one the key ring has
   */
  async updateSecret(input: UpdateSecretValueInput): Promise<UpdateSecretValueResult> {
    if (input.kmsKeyId !== undefined) {
      // The key first, so the new value below is sealed under it; the labelled versions follow, AWSPREVIOUS included.
      const kmsKeyId = input.kmsKeyId ?? undefined;
      await this.setKey(input.secretId, kmsKeyId);
      const result = await this.updateSecret({ ...input, kmsKeyId: undefined });
      if (input.reencrypt === true) await this.reencryptLabelled(result.arn, kmsKeyId);
      return result;
    }
    if (input.value !== undefined) {
      const put = await this.put({
        secretId: input.secretId,
        value: input.value,
        description: input.description,
        clientRequestToken: input.clientRequestToken,
        mayRead: input.mayRead,
      });
      return { arn: put.arn, name: put.name, versionId: put.versionId };
    }
    if (input.description !== undefined)
      return this.update({ secretId: input.secretId, description: input.description });
    const { arn, name } = await this.describe({ secretId: input.secretId });
    return { arn, name };
  }

  /**
   * Reads a value: AWSCURRENT by default, or a version by id and/or stage. The hot path: two store reads, one
   * unwrap, one open.
   *
   * @throws NotFoundError when the secret, version or stage is unknown, or the stage is not on the given version
   * @throws InvalidRequestError when the secret is scheduled for deletion
   * @throws DecryptionFailureError when the stored ciphertext or wrapped key fails authentication
   */
  async get(input: GetSecretValueInput): Promise<GetSecretValueResult> {
    const askedVersion = input.versionId === undefined ? undefined : validate(VersionIdSchema, input.versionId);
    const askedStage = input.versionStage === undefined ? undefined : validate(StagingLabelSchema, input.versionStage);
    const secret = await this.live(input.secretId);
    if (isPendingDeletion(secret.data)) throw markedForDeletion(input.secretId);
    const { arn, name, stages } = secret.data;
    let versionId: string;
    if (askedVersion !== undefined) {
      if (!hasVersion(secret.data, askedVersion)) throw versionNotFound(input.secretId, askedVersion);
      if (askedStage !== undefined && stages[askedStage] !== askedVersion) {
        throw new NotFoundError(`version ${askedVersion} doesn't have staging label ${askedStage}`, {
          details: { reason: 'stage_not_on_version' },
        });
      }
      versionId = askedVersion;
    } else {
      const stage = askedStage ?? AWSCURRENT;
      const labelled = stages[stage];
      if (labelled === undefined) {
        throw new NotFoundError(`secret ${input.secretId} has no version with staging label ${stage}`, {
          details: { reason: 'stage_not_found', stage },
        });
      }
      versionId = labelled;
    }
    const version = await this.store.get<VersionRecord>(versionPartition(arn), versionId);
    if (version === undefined) throw versionNotFound(input.secretId, versionId);
    // Before the value is opened: a refused read learns nothing, and a counted one is committed first.
    const expiry = await this.expiry.admit(secret.data);
    const value = await this.openVersion(arn, version.data);
    return {
      arn,
      name,
      versionId,
      value,
      versionStages: labelsOf(stages, versionId),
      createdAt: version.data.createdAt,
      ...(expiry === undefined ? {} : { expiry }),
    };
  }

  /**
   * An ARN as this service would give a new secret named `name` (a fresh random suffix), for answers about a secret
   * that does not exist: AWS's force-delete of a missing secret succeeds with one.
   */
  arnFor(name: string, region?: string): string {
    return newSecretArn(this.regionFor(region), this.account, name);
  }

  /** Metadata, tags and the version-to-stage map. Readable while pending deletion, as in AWS. */
  async describe(input: { secretId: string }): Promise<SecretDescription> {
    const { data } = await this.live(input.secretId);
    const described = describeRecord(data);
    if (data.expiration === undefined) return described;
    return { ...described, expiration: await this.expirationOf(data, data.expiration) };
  }

  /** A policy and where it stands, from what reads and observations recorded (observing nothing itself). */
  private async expirationOf(data: SecretRecord, policy: ExpirationPolicy) {
    const [count, watch] = await Promise.all([
      policy.maxReads === undefined
        ? undefined
        : this.store.get<ReadCountItem>(this.partitions.expiryState, readCountKey(data.arn)),
      policy.whenRotated === undefined && policy.whenLeaseRevoked === undefined
        ? undefined
        : this.store.get<WatchItem>(this.partitions.expiryState, watchKey(data.name)),
    ]);
    const reads = count !== undefined && count.data.setAt === policy.setAt ? count.data.reads : 0;
    const triggered = watch !== undefined && watch.data.arn === data.arn && watch.data.setAt === policy.setAt;
    const facts = {
      reads,
      ...(triggered ? { triggeredAt: watch.data.triggeredAt, trigger: watch.data.trigger } : {}),
    };
    return { policy, status: expirationStatus(policy, this.clock.now(), facts) };
  }

  /**
   * The policy `input` asks for on secret `name`, checked against what it names: the secret whose rotation ends it
   * must exist (its current version is where the rotation is counted from) and be another; the lease must exist.
   */
  private async expirationPolicy(name: string, input: ExpirationInput, now: number, previous?: ExpirationPolicy) {
    let watchedVersion: string | undefined;
    if (input.expireWhenRotated !== undefined) {
      const watched = validate(SecretNameSchema, input.expireWhenRotated);
      if (watched === name) throw new ValidationError('a secret cannot expire when it itself rotates');
      const item = await this.store.get<SecretRecord>(this.partitions.secrets, watched);
      if (item === undefined || isExpired(item.data, now) || isPendingDeletion(item.data)) throw notFound(watched);
      watchedVersion = item.data.stages[AWSCURRENT];
    }
    if (input.expireWhenLeaseRevoked !== undefined) {
      const lease = await this.store.get(LEASE_PK, assertLeaseId(input.expireWhenLeaseRevoked));
      if (lease === undefined) {
        throw new NotFoundError(`lease ${input.expireWhenLeaseRevoked} not found`, {
          details: { reason: 'lease_not_found' },
        });
      }
    }
    // A rewrite must read as one: its time is after the previous policy's, even within one millisecond.
    const setAt = previous === undefined ? now : Math.max(now, previous.setAt + 1);
    return toExpirationPolicy(input, setAt, watchedVersion);
  }

  /** The ARN and resource policy of a live secret, by name; `undefined` when there is no such secret. */
  async resourcePolicyOf(name: string): Promise<{ arn: string; account: string; policy?: string } | undefined> {
    const item = await this.store.get<SecretRecord>(this.partitions.secrets, name);
    if (item === undefined || isExpired(item.data, this.clock.now())) return undefined;
    const { arn, resourcePolicy } = item.data;
    return { arn, account: this.account, ...(resourcePolicy === undefined ? {} : { policy: resourcePolicy }) };
  }

  /**
   * Every live secret's description, in name order: what AWS-style filtered and sorted listings start from. Secrets
   * pending deletion only with `includePlannedDeletion`; expired ones never.
   */
  async listDescriptions(
    input: {
      includePlannedDeletion?: boolean;
      /**
       * Asked first for every secret the scan meets, before its state is looked at, so that no record is read
       * without the caller's decision (a listing's authorisation). @default every secret is visible
       */
      visible?: (name: string) => Promise<boolean>;
    } = {},
  ): Promise<SecretDescription[]> {
    const now = this.clock.now();
    const out: SecretDescription[] = [];
    for await (const { data } of this.scan<SecretRecord>(this.partitions.secrets)) {
      if (input.visible !== undefined && !(await input.visible(data.name))) continue;
      if (isExpired(data, now)) continue;
      if (isPendingDeletion(data) && input.includePlannedDeletion !== true) continue;
      out.push(describeRecord(data));
    }
    return out;
  }

  /**
   * The live secrets whose expiration policy has ended (in grace or expired), as the compliance report counts them:
   * each policy judged with the reads and observations recorded for it, as `describe` does, at the service's now.
   */
  async endedByExpiration(): Promise<{ name: string; state: 'grace' | 'expired'; expiresAt?: number }[]> {
    const now = this.clock.now();
    const out: { name: string; state: 'grace' | 'expired'; expiresAt?: number }[] = [];
    for await (const { data } of this.scan<SecretRecord>(this.partitions.secrets)) {
      if (data.expiration === undefined || isExpired(data, now) || isPendingDeletion(data)) continue;
      const { status } = await this.expirationOf(data, data.expiration);
      if (status.state !== 'grace' && status.state !== 'expired') continue;
      out.push({
        name: data.name,
        state: status.state,
        ...(status.expiresAt !== undefined && { expiresAt: status.expiresAt }),
      });
    }
    return out;
  }

  /**
   * One page of live secrets in creation order (AWS ListSecrets), the order ties broken by name, starting after
   * `after` (the `position` a previous page returned). Reads the creation-order index page by page: `visible` decides
   * first for every name it meets, before its record is read; state and filters then narrow what it allowed. A page
   * stops at `limit` secrets or after `SCAN_BUDGET` index entries, so it may hold fewer than `limit` with a position
   * to go on from, as AWS's pages may. The first listing on a store from before the index indexes it.
   *
   * @throws ValidationError when `after` is not a position of this order
   */
  async listInCreationOrder(input: CreationOrderListInput): Promise<CreationOrderPage> {
    const limit = validate(PageLimitSchema, input.limit);
    if (input.after !== undefined && !isCreationOrderKey(input.order, input.after)) {
      throw new ValidationError('cursor is invalid');
    }
    await this.indexCreationOrder();
    const now = this.clock.now();
    const secrets: SecretDescription[] = [];
    let position = input.after;
    let scanned = 0;
    for (;;) {
      const page = await this.store.query<CreationOrderItem>(this.partitions.creationOrder, {
        prefix: creationOrderPrefix(input.order),
        ...(position === undefined ? {} : { startAfter: position }),
        limit: Math.min(1000, limit + 1),
      });
      for (const entry of page.items) {
        // Another entry exists beyond a full page: the caller goes on from here.
        if (secrets.length >= limit || scanned >= SCAN_BUDGET) return { secrets, position };
        position = entry.sk;
        scanned++;
        if (!(await input.visible(entry.data.name))) continue;
        const item = await this.store.get<SecretRecord>(this.partitions.secrets, entry.data.name);
        // An entry left by an indexing that raced a purge, or of an earlier secret of this name, is no secret's.
        if (item === undefined || creationOrderKey(input.order, item.data.name, item.data.createdAt) !== entry.sk) {
          continue;
        }
        if (isExpired(item.data, now)) continue;
        if (isPendingDeletion(item.data) && input.includePlannedDeletion !== true) continue;
        const described = describeRecord(item.data);
        if (matchesFilters(described, input.filters ?? [])) secrets.push(described);
      }
      if (page.lastKey === undefined) return { secrets };
    }
  }

  /**
   * Writes the creation-order items of every secret that predates the index, then marks the store indexed. Once per
   * store, and one read of the marker per service instance after that. Idempotent, and safe beside writes: new
   * secrets index themselves, and an entry of a secret purged meanwhile is skipped by listings.
   */
  async indexCreationOrder(): Promise<void> {
    if (this.creationOrderIndexed) return;
    if ((await this.store.get(this.partitions.creationOrder, CREATION_ORDER_COMPLETE)) !== undefined) {
      this.creationOrderIndexed = true;
      return;
    }
    await this.indexEverySecret((data) => indexCreation(data.name, data.createdAt, this.partitions.creationOrder), {
      pk: this.partitions.creationOrder,
      sk: CREATION_ORDER_COMPLETE,
    });
    this.creationOrderIndexed = true;
  }

  /** Versions newest first; deprecated (unlabelled) ones only with `includeDeprecated`. */
  async listVersions(input: ListVersionsInput): Promise<ListVersionsResult> {
    const limit = validate(PageLimitSchema, input.limit ?? DEFAULT_PAGE);
    const { data } = await this.live(input.secretId);
    const byVersion = labelsByVersion(data.stages);
    const newestFirst = [...data.versions]
      .reverse()
      .filter((v) => input.includeDeprecated === true || byVersion[v.versionId] !== undefined);
    let start = 0;
    if (input.cursor !== undefined) {
      const [createdAt, versionId] = parseVersionPosition(decodeCursor(input.cursor));
      const at = newestFirst.findIndex((v) => v.versionId === versionId);
      // The version may have been pruned between pages: resume at the first older one.
      start = at >= 0 ? at + 1 : newestFirst.findIndex((v) => v.createdAt < createdAt);
      if (start < 0) start = newestFirst.length;
    }
    const page = newestFirst.slice(start, start + limit);
    const last = page[page.length - 1];
    const more = start + limit < newestFirst.length;
    return {
      versions: page.map((v) => ({
        versionId: v.versionId,
        versionStages: byVersion[v.versionId] ?? [],
        createdAt: v.createdAt,
      })),
      ...(more && last !== undefined ? { nextCursor: encodeCursor(`${last.createdAt}/${last.versionId}`) } : {}),
    };
  }

  /**
   * Moves or removes a staging label (AWS UpdateSecretVersionStage). Moving a label that sits on another version
   * must name that version in `removeFromVersionId`; AWSCURRENT can only move, and drags AWSPREVIOUS along.
   *
   * @throws ValidationError when `removeFromVersionId` is missing or wrong, or AWSCURRENT would be removed
   * @throws NotFoundError when `moveToVersionId` is not a version of the secret
   * @throws LimitExceededError when the target version would carry more than 20 labels
   */
  async updateVersionStage(input: UpdateVersionStageInput): Promise<SecretRef> {
    const update = {
      versionStage: validate(StagingLabelSchema, input.versionStage),
      moveToVersionId:
        input.moveToVersionId === undefined ? undefined : validate(VersionIdSchema, input.moveToVersionId),
      removeFromVersionId:
        input.removeFromVersionId === undefined ? undefined : validate(VersionIdSchema, input.removeFromVersionId),
    };
    let charged = false;
    return this.retrying(async () => {
      const item = await this.live(input.secretId);
      const secret = item.data;
      if (!charged) {
        this.chargeWrite(secret.name);
        charged = true;
      }
      assertWritable(secret);
      if (isPendingDeletion(secret)) throw markedForDeletion(input.secretId);
      if (update.moveToVersionId !== undefined && !hasVersion(secret, update.moveToVersionId)) {
        throw versionNotFound(input.secretId, update.moveToVersionId);
      }
      const stages = applyStageUpdate(secret.stages, update);
      if (stages === undefined) return { arn: secret.arn, name: secret.name };
      await this.writeStages(item, stages);
      return { arn: secret.arn, name: secret.name };
    });
  }

  /**
   * Sets the three rotation labels in one conditional write: finishSecret (AWSCURRENT to the new version, AWSPREVIOUS
   * to the old current, AWSPENDING removed) and a rollback (the labels as they were before the rotation). One write,
   * so a crash can never leave AWSPENDING on the current version or AWSCURRENT moved without AWSPREVIOUS.
   * Idempotent: setting the labels they already have writes nothing. `undefined` removes a label.
   *
   * @throws NotFoundError when a named version is not a version of the secret
   * @throws InvalidRequestError when the secret is scheduled for deletion
   */
  async setRotationStages(input: {
    secretId: string;
    current: string;
    previous: string | undefined;
    pending: string | undefined;
  }): Promise<SecretRef> {
    return this.retrying(async () => {
      const item = await this.live(input.secretId);
      const secret = item.data;
      assertWritable(secret);
      if (isPendingDeletion(secret)) throw markedForDeletion(input.secretId);
      const wanted: Record<string, string | undefined> = {
        [AWSCURRENT]: input.current,
        [AWSPREVIOUS]: input.previous,
        [AWSPENDING]: input.pending,
      };
      for (const versionId of Object.values(wanted)) {
        if (versionId !== undefined && !hasVersion(secret, versionId)) throw versionNotFound(input.secretId, versionId);
      }
      if (Object.entries(wanted).every(([label, versionId]) => secret.stages[label] === versionId)) {
        return { arn: secret.arn, name: secret.name };
      }
      const stages: Record<string, string> = { ...secret.stages };
      for (const [label, versionId] of Object.entries(wanted)) {
        if (versionId === undefined) delete stages[label];
        else stages[label] = versionId;
      }
      assertLabelLimit(stages);
      await this.writeStages(item, stages);
      return { arn: secret.arn, name: secret.name };
    });
  }

  /**
   * Updates the description, replaces the custom metadata, adds and removes tags.
   *
   * @throws ValidationError when a key is both added and removed, or the result has more than 50 tags
   * @throws InvalidRequestError when the secret is scheduled for deletion
   */
  async update(input: UpdateSecretInput): Promise<SecretRef> {
    const description = input.description === undefined ? undefined : validate(DescriptionSchema, input.description);
    const metadata = input.metadata === undefined ? undefined : validate(CustomMetadataSchema, input.metadata);
    const addTags = input.addTags === undefined ? {} : validate(TagsSchema, input.addTags);
    const removeTagKeys = (input.removeTagKeys ?? []).map((key) => validate(TagKeySchema, key));
    if (removeTagKeys.some((key) => Object.hasOwn(addTags, key))) {
      throw new ValidationError('a tag key cannot be both added and removed');
    }
    if (typeof input.resourcePolicy === 'string') validate(ResourcePolicyTextSchema, input.resourcePolicy);
    let charged = false;
    return this.retrying(async () => {
      const item = await this.live(input.secretId);
      const secret = item.data;
      if (!charged) {
        this.chargeWrite(secret.name);
        charged = true;
      }
      assertWritable(secret);
      if (isPendingDeletion(secret)) throw markedForDeletion(input.secretId);
      const tags = { ...secret.tags, ...addTags };
      for (const key of removeTagKeys) delete tags[key];
      validate(TagsSchema, tags);
      const now = this.clock.now();
      const next: SecretRecord = {
        ...secret,
        description: description ?? secret.description,
        metadata: metadata ?? secret.metadata,
        tags,
        updatedAt: now,
      };
      if (input.resourcePolicy === null) delete next.resourcePolicy;
      else if (input.resourcePolicy !== undefined) next.resourcePolicy = input.resourcePolicy;
      if (input.expiration === null) delete next.expiration;
      else if (input.expiration !== undefined) {
        next.expiration = await this.expirationPolicy(secret.name, input.expiration, now, secret.expiration);
      }
      await this.store.transact([
        {
          type: 'put',
          pk: this.partitions.secrets,
          sk: secret.name,
          data: next,
          condition: { kind: 'rev', rev: item.rev },
        },
        ...reindexExpiry(this.partitions, secret, next),
      ]);
      return { arn: secret.arn, name: secret.name };
    });
  }

  /**
   * Attaches a resource policy (AWS PutResourcePolicy) once it parses as one Coffer can enforce; with
   * `blockPublicPolicy` (AWS's default) a statement allowing anyone is refused.
   *
   * @throws ValidationError (`MalformedPolicyDocumentException`, `PublicPolicyException`) when it may not be stored
   */
  async putResourcePolicy(input: { secretId: string; policy: string; blockPublicPolicy?: boolean | undefined }) {
    parseResourcePolicy(input.policy, { blockPublicPolicy: input.blockPublicPolicy ?? true });
    return this.update({ secretId: input.secretId, resourcePolicy: input.policy });
  }

  /** Removes a secret's resource policy (AWS DeleteResourcePolicy). */
  async deleteResourcePolicy(input: { secretId: string }): Promise<SecretRef> {
    return this.update({ secretId: input.secretId, resourcePolicy: null });
  }

  /** Adds or replaces tags (AWS TagResource). */
  async tag(input: { secretId: string; tags: Record<string, string> }): Promise<SecretRef> {
    return this.update({ secretId: input.secretId, addTags: input.tags });
  }

  /** Removes tags (AWS UntagResource). */
  async untag(input: { secretId: string; tagKeys: readonly string[] }): Promise<SecretRef> {
    return this.update({ secretId: input.secretId, removeTagKeys: input.tagKeys });
  }

  /**
   * Schedules deletion after a recovery window, or purges at once with `forceDeleteWithoutRecovery`.
   *
   * @throws ValidationError when the window is outside 7–30 days or combined with force
   * @throws InvalidRequestError when already scheduled (unless forced)
   */
  async delete(input: DeleteSecretInput): Promise<DeleteSecretResult> {
    const force = input.forceDeleteWithoutRecovery === true;
    if (force && input.recoveryWindowDays !== undefined) {
      throw new ValidationError('give recoveryWindowDays or forceDeleteWithoutRecovery, not both', {
        details: { reason: 'window_with_force' },
      });
    }
    const days =
      input.recoveryWindowDays === undefined
        ? SECRET_LIMITS.defaultRecoveryWindowDays
        : validate(RecoveryWindowDaysSchema, input.recoveryWindowDays);
    return this.retrying(async () => {
      const item = await this.live(input.secretId);
      const secret = item.data;
      assertDeletable(secret, input.secretId);
      const now = this.clock.now();
      if (force) {
        await this.purge(item);
        return { arn: secret.arn, name: secret.name, deletionDate: now };
      }
      if (isPendingDeletion(secret)) {
        throw new InvalidRequestError(`secret ${input.secretId} is already scheduled for deletion`, {
          details: { reason: 'already_scheduled' },
        });
      }
      const deletionDate = deletionDateFor(now, days);
      const next: SecretRecord = { ...secret, deletedAt: now, deletionDate, updatedAt: now };
      await this.store.transact([
        {
          type: 'put',
          pk: this.partitions.secrets,
          sk: secret.name,
          data: next,
          condition: { kind: 'rev', rev: item.rev },
        },
        ...reindexDeletion(this.partitions.deletionIndex, secret, next),
      ]);
      return { arn: secret.arn, name: secret.name, deletionDate };
    });
  }

  /** Cancels a scheduled deletion; a no-op on a live secret. */
  async restore(input: { secretId: string }): Promise<SecretRef> {
    return this.retrying(async () => {
      const item = await this.live(input.secretId);
      assertWritable(item.data);
      const { deletedAt: _deletedAt, deletionDate: _deletionDate, ...secret } = item.data;
      if (!isPendingDeletion(item.data)) return { arn: secret.arn, name: secret.name };
      const next: SecretRecord = { ...secret, updatedAt: this.clock.now() };
      await this.store.transact([
        {
          type: 'put',
          pk: this.partitions.secrets,
          sk: secret.name,
          data: next,
          condition: { kind: 'rev', rev: item.rev },
        },
        ...reindexDeletion(this.partitions.deletionIndex, item.data, next),
      ]);
      return { arn: secret.arn, name: secret.name };
    });
  }

  /**
   * Purges every secret whose deletion date has passed; returns how many. Safe to run concurrently with writes.
   * It reads the deletion-date index up to now, so a sweep costs what is due, not a read of every secret's record
   * (1.2 s of CPU at 100,000 secrets, every purge interval, which moved the GET p99; docs/BENCHMARKS.md). An entry
   * whose record no longer carries its date (restored meanwhile, or purged with the name reused) is removed.
   */
  async purgeExpired(): Promise<number> {
    await this.indexDeletions();
    const now = this.clock.now();
    let purged = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.query<DeletionIndexItem>(this.partitions.deletionIndex, {
        limit: BACKGROUND_SCAN_PAGE,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const entry of page.items) {
        const due = parseDeletionIndexKey(entry.sk);
        // Entries sort by date and the marker after them all: nothing further is due.
        if (due === undefined || due.deletionDate > now) return purged;
        const item = await this.store.get<SecretRecord>(this.partitions.secrets, due.name);
        try {
          if (item !== undefined && item.data.deletionDate === due.deletionDate) {
            await this.purge(item);
            purged++;
          } else {
            await this.store.transact([{ type: 'delete', pk: this.partitions.deletionIndex, sk: entry.sk }]);
          }
        } catch (err) {
          // Changed since it was read (purged by another sweep, restored, recreated): the next sweep decides.
          if (!(err instanceof ConditionFailedError)) throw err;
        }
      }
      if (page.lastKey === undefined) return purged;
      startAfter = page.lastKey;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Writes the deletion-date entry of every secret scheduled for deletion before the index existed, then marks the
   * store indexed. Once per store (a pass over every record, in background pages), and one read of the marker per
   * service instance after that. Idempotent, and safe beside writes: an entry written for a secret restored meanwhile
   * is stale, and the purge removes stale entries.
   */
  async indexDeletions(): Promise<void> {
    if (this.deletionsIndexed) return;
    if ((await this.store.get(this.partitions.deletionIndex, DELETION_INDEX_COMPLETE)) !== undefined) {
      this.deletionsIndexed = true;
      return;
    }
    // In background pages: it runs from the purge's timer, beside live requests.
    await this.indexEverySecret(
      (data) => reindexDeletion(this.partitions.deletionIndex, undefined, data),
      { pk: this.partitions.deletionIndex, sk: DELETION_INDEX_COMPLETE },
      { background: true },
    );
    this.deletionsIndexed = true;
  }

  /**
   * Writes an index's items for every secret record, then its `marker`. Batched, so that indexing a large store is a
   * few hundred transactions, not one per secret.
   */
  private async indexEverySecret(
    itemsOf: (record: SecretRecord) => WriteOp[],
    marker: { pk: string; sk: string },
    options: { background?: boolean } = {},
  ): Promise<void> {
    let batch: WriteOp[] = [];
    for await (const { data } of this.scan<SecretRecord>(this.partitions.secrets, options)) {
      const ops = itemsOf(data);
      if (batch.length + ops.length > MAX_TRANSACTION_OPS) {
        await this.store.transact(batch);
        batch = [];
      }
      batch.push(...ops);
    }
    if (batch.length > 0) await this.store.transact(batch);
    await this.store.transact([{ type: 'put', ...marker, data: { at: this.clock.now() } }]);
  }

  /**
   * Lists a folder: its direct children (secrets and one entry per subfolder), or with `recursive` every secret
   * below it. Secrets pending deletion are hidden unless `includePlannedDeletion`; expired ones always are.
   */
  async list(input: ListSecretsInput = {}): Promise<ListSecretsResult> {
    const prefix = folderPrefix(input.prefix ?? '');
    if (prefix !== '') validate(SecretNameSchema, prefix.slice(0, -1));
    const limit = validate(PageLimitSchema, input.limit ?? DEFAULT_PAGE);
    const now = this.clock.now();
    const visible = (s: SecretRecord) =>
      !isExpired(s, now) && (input.includePlannedDeletion === true || !isPendingDeletion(s));
    const entries: ListEntry[] = [];
    let position = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
    let exhausted = false;

    pages: while (entries.length < limit) {
      const page = await this.store.query<SecretRecord>(this.partitions.secrets, {
        ...(prefix === '' ? {} : { prefix }),
        ...(position === undefined ? {} : { startAfter: position }),
        limit: Math.min(1000, limit - entries.length + 1),
      });
      for (const item of page.items) {
        const slash = input.recursive === true ? -1 : item.sk.indexOf('/', prefix.length);
        if (slash >= 0 && visible(item.data)) {
          const folder = item.sk.slice(0, slash + 1);
          entries.push({ name: folder, kind: 'folder' });
          // Skip the folder's contents in one jump rather than reading them.
          position = pastFolder(folder);
          continue pages;
        }
        position = item.sk;
        if (slash < 0 && visible(item.data)) entries.push({ name: item.sk, arn: item.data.arn, kind: 'secret' });
        if (entries.length >= limit) break pages;
      }
      if (page.lastKey === undefined) {
        exhausted = true;
        break;
      }
    }
    if (!exhausted && position !== undefined) {
      const peek = await this.store.query(this.partitions.secrets, {
        ...(prefix === '' ? {} : { prefix }),
        startAfter: position,
        limit: 1,
      });
      if (peek.items.length > 0) return { entries, nextCursor: encodeCursor(position) };
    }
    return { entries };
  }

  /**
   * Re-wraps every data key not wrapped by the current root key, so the old root key can be retired. Each version
   * is a revision-conditioned put, so a version pruned or purged meanwhile is skipped, never resurrected.
   */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    let rewrapped = 0;
    for await (const secret of this.scan<SecretRecord>(this.partitions.secrets)) {
      const pk = versionPartition(secret.data.arn);
      for await (const version of this.scan<VersionRecord>(pk)) {
        // A customer key's data keys are not under the root key: rotation re-seals the customer key itself.
        if (version.data.kmsKeyId !== undefined) continue;
        if (this.keyProvider.isCurrent(version.data.wrappedKey)) continue;
        const context = { secretId: secret.data.arn, versionId: version.data.versionId };
        const wrappedKey = await this.keyProvider.rewrapDataKey(version.data.wrappedKey, context);
        try {
          await this.store.transact([
            {
              type: 'put',
              pk,
              sk: version.sk,
              data: { ...version.data, wrappedKey },
              condition: { kind: 'rev', rev: version.rev },
            },
          ]);
          rewrapped++;
        } catch (err) {
          if (!(err instanceof ConditionFailedError)) throw err;
        }
      }
    }
    return { rewrapped };
  }

  /** A caller-supplied ARN region (an AWS-compatible caller's credential scope) or the configured one. */
  private regionFor(region: string | undefined): string {
    if (region === undefined) return this.region;
    if (!/^[a-z0-9-]{1,64}$/.test(region)) throw new ValidationError('region must be lower-case letters, digits and -');
    return region;
  }

  /** The metadata item for a secretId, including pending and expired secrets; `undefined` when there is none. */
  private async find(secretId: string): Promise<SecretItem | undefined> {
    if (typeof secretId !== 'string' || secretId.length > ARN_MAX_LENGTH) {
      throw new ValidationError('secretId must be a name or an ARN');
    }
    const lookup = parseSecretId(secretId, this.region, this.account);
    if (lookup.by === 'name') {
      return this.store.get<SecretRecord>(this.partitions.secrets, validate(SecretNameSchema, lookup.name));
    }
    for (const candidate of lookup.candidates) {
      const item = await this.store.get<SecretRecord>(this.partitions.secrets, candidate.name);
      if (item !== undefined && arnMatches(item.data.arn, candidate)) return item;
    }
    return undefined;
  }

  /** Like `find`, but a secret past its deletion date is gone. */
  private async live(secretId: string): Promise<SecretItem> {
    const item = await this.find(secretId);
    if (item === undefined || isExpired(item.data, this.clock.now())) throw notFound(secretId);
    return item;
  }

  /**
   * Removes a secret and all its versions. The metadata and its creation-order items go first, in the first batch:
   * if a later batch fails, the leftover versions are unreachable (their partition is keyed by this ARN, which no new
   * secret gets).
   */
  private async purge(item: SecretItem): Promise<void> {
    const pk = versionPartition(item.data.arn);
    const unindex = [
      ...unindexCreation(item.data.name, item.data.createdAt, this.partitions.creationOrder),
      ...reindexDeletion(this.partitions.deletionIndex, item.data, undefined),
      ...reindexExpiry(this.partitions, item.data, undefined),
    ];
    const first = item.data.versions.slice(0, MAX_TRANSACTION_OPS - 1 - unindex.length);
    await this.store.transact([
      { type: 'delete', pk: this.partitions.secrets, sk: item.sk, condition: { kind: 'rev', rev: item.rev } },
      ...unindex,
      ...first.map((v): WriteOp => ({ type: 'delete', pk, sk: v.versionId })),
    ]);
    for (;;) {
      const page = await this.store.query(pk, { limit: MAX_TRANSACTION_OPS });
      if (page.items.length === 0) return;
      await this.store.transact(page.items.map((v): WriteOp => ({ type: 'delete', pk, sk: v.sk })));
    }
  }

  /**
   * Every item of a partition, page by page. A `background` scan (a sweep beside live requests) reads smaller pages
   * and lets the event loop turn before each next one, so requests are answered between pages.
   */
  private async *scan<T extends Record<string, unknown>>(
    pk: string,
    options: { background?: boolean } = {},
  ): AsyncGenerator<StoredItem<T>> {
    const limit = options.background === true ? BACKGROUND_SCAN_PAGE : 1000;
    let startAfter: string | undefined;
    do {
      if (options.background === true && startAfter !== undefined) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const page = await this.store.query<T>(pk, { limit, ...(startAfter === undefined ? {} : { startAfter }) });
      yield* page.items;
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
  }

  private sealVersion(
    arn: string,
    versionId: string,
    value: SecretValue,
    kmsKeyId: string | undefined,
  ): Promise<VersionRecord> {
    return sealVersion(this.keys, { arn, versionId, value, now: this.clock.now(), kmsKeyId });
  }

  private openVersion(arn: string, version: VersionRecord): Promise<SecretValue> {
    return openVersion(this.keys, arn, version);
  }

  /**
   * Makes `kmsKeyId` (a key ARN; `undefined`: the default key) the key new versions of the secret are sealed under.
   *
   * @throws NotFoundError when the secret or the key does not exist
   * @throws InvalidRequestError when the secret is scheduled for deletion
   */
  private async setKey(secretId: string, kmsKeyId: string | undefined): Promise<void> {
    if (kmsKeyId !== undefined) providerFor(this.keys, kmsKeyId);
    let charged = false;
    await this.retrying(async () => {
      const item = await this.live(secretId);
      // A replica's key is its own, set when it was replicated; like its other writes, only the replicator makes it.
      assertWritable(item.data);
      if (!charged) {
        this.chargeWrite(item.data.name);
        charged = true;
      }
      if (isPendingDeletion(item.data)) throw markedForDeletion(secretId);
      if (item.data.kmsKeyId === kmsKeyId) return;
      const { kmsKeyId: _previous, ...rest } = item.data;
      const next: SecretRecord = {
        ...rest,
        ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
        updatedAt: this.clock.now(),
      };
      await this.store.transact([
        {
          type: 'put',
          pk: this.partitions.secrets,
          sk: item.sk,
          data: next,
          condition: { kind: 'rev', rev: item.rev },
        },
      ]);
    });
  }

  /**
   * Re-seals the versions labelled AWSCURRENT, AWSPENDING and AWSPREVIOUS under `kmsKeyId`, as AWS re-encrypts them
   * when a secret's key changes (userguide/manage_update-encryption-key.html); other versions stay under the key that
   * sealed them. Each version is one revision-conditioned put: it opens under its old key until the put, under the new
   * one after, so a crash anywhere leaves every version readable, and running again finishes the job. A version
   * changed or pruned meanwhile is skipped.
   */
  private async reencryptLabelled(arn: string, kmsKeyId: string | undefined): Promise<number> {
    const item = await this.live(arn);
    const pk = versionPartition(arn);
    const labelled = new Set([AWSCURRENT, AWSPENDING, AWSPREVIOUS].flatMap((label) => item.data.stages[label] ?? []));
    let resealed = 0;
    for (const versionId of labelled) {
      const version = await this.store.get<VersionRecord>(pk, versionId);
      if (version === undefined || version.data.kmsKeyId === kmsKeyId) continue;
      const record = await resealVersion(this.keys, arn, version.data, kmsKeyId);
      try {
        await this.store.transact([
          { type: 'put', pk, sk: versionId, data: record, condition: { kind: 'rev', rev: version.rev } },
        ]);
        resealed++;
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    return resealed;
  }

  /** Whether a stored version holds exactly `value` (kind and bytes), compared in constant time. */
  private async holdsValue(arn: string, versionId: string, value: SecretValue): Promise<boolean> {
    const version = await this.store.get<VersionRecord>(versionPartition(arn), versionId);
    if (version === undefined) return false;
    return sameValue(await this.openVersion(arn, version.data), value);
  }

  /** One conditional write of a secret's new labels, pruning what they leave deprecated beyond the budget. */
  private async writeStages(item: SecretItem, stages: Record<string, string>): Promise<void> {
    const secret = item.data;
    const now = this.clock.now();
    const pruned = versionsToPrune(secret.versions, stages, now, PRUNE_BUDGET_METADATA_ONLY, this.versionLimits);
    const next: SecretRecord = {
      ...secret,
      stages,
      versions: secret.versions.filter((v) => !pruned.includes(v.versionId)),
      updatedAt: now,
    };
    await this.store.transact([
      {
        type: 'put',
        pk: this.partitions.secrets,
        sk: secret.name,
        data: next,
        condition: { kind: 'rev', rev: item.rev },
      },
      ...pruned.map((id): WriteOp => ({ type: 'delete', pk: versionPartition(secret.arn), sk: id })),
    ]);
  }

  /** Takes one write from the secret's rate budget, or refuses at once. */
  private chargeWrite(name: string): void {
    if (this.writeLimiter !== undefined && !this.writeLimiter.tryTake(name)) {
      throw new ThrottledError(`too many writes to secret ${name}; retry after a pause`);
    }
  }

  private tooManyVersions(secretId: string): LimitExceededError {
    const hours = Math.round((this.versionLimits.minPruneAgeMs / 3_600_000) * 10) / 10;
    return new LimitExceededError(
      `secret ${secretId} already has ${this.versionLimits.maxDeprecated} versions without a staging label created ` +
        `in the last ${hours} hours, which cannot be pruned yet; write it less often`,
    );
  }

  private retrying<T>(attempt: () => Promise<T>): Promise<T> {
    return retryOnConflict(attempt, {
      maxAttempts: this.maxWriteAttempts,
      // Waits drawn from [0, 2^n) ms, at most 64: a lost race on one secret clears within a few milliseconds.
      baseDelayMs: 2,
      maxDelayMs: 64,
      onExhausted: (last) => new ConflictError('too many concurrent writes to this secret; retry', { cause: last }),
    });
  }
}

function hasVersion(secret: SecretRecord, versionId: string): boolean {
  return secret.versions.some((v) => v.versionId === versionId);
}

function withCurrent(labels: readonly string[]): string[] {
  return labels.includes(AWSCURRENT) ? [...labels] : [...labels, AWSCURRENT];
}

function parseVersionPosition(position: string): [number, string] {
  const slash = position.indexOf('/');
  const createdAt = Number(position.slice(0, slash));
  if (slash < 0 || !Number.isFinite(createdAt)) throw new ValidationError('cursor is invalid');
  return [createdAt, position.slice(slash + 1)];
}

function notFound(secretId: string): NotFoundError {
  return new NotFoundError(`secret ${secretId} not found`, { details: { reason: 'secret_not_found' } });
}

function versionNotFound(secretId: string, versionId: string): NotFoundError {
  return new NotFoundError(`version ${versionId} of secret ${secretId} not found`, {
    details: { reason: 'version_not_found', versionId },
  });
}

/** The refusal of any operation but describe and restore on a secret pending deletion. */
export function markedForDeletion(secretId: string): InvalidRequestError {
  return new InvalidRequestError(`secret ${secretId} is marked for deletion; restore it to use it`, {
    details: { reason: 'marked_for_deletion' },
  });
}

function describeRecord(data: SecretRecord): SecretDescription {
  return {
    arn: data.arn,
    name: data.name,
    description: data.description,
    tags: { ...data.tags },
    metadata: { ...data.metadata },
    createdAt: data.createdAt,
    updatedAt: data.updatedAt,
    ...(data.deletedAt === undefined ? {} : { deletedAt: data.deletedAt }),
    ...(data.deletionDate === undefined ? {} : { deletionDate: data.deletionDate }),
    ...(data.resourcePolicy === undefined ? {} : { resourcePolicy: data.resourcePolicy }),
    ...(data.kmsKeyId === undefined ? {} : { kmsKeyId: data.kmsKeyId }),
    versionIdsToStages: labelsByVersion(data.stages),
    ...replicationView(data),
  };
}
