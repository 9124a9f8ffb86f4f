import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { LimitExceededError, ValidationError } from '../errors.ts';
import {
  AWSCURRENT,
  AWSPREVIOUS,
  SECRET_LIMITS,
  type SecretRecord,
  type SecretValue,
  type VersionRef,
} from './secret-types.ts';

/**
 * Pure rules of the secrets domain: ARNs, staging-label moves, pruning, deletion state and cursors. No I/O, so each
 * rule is tested on its own.
 */

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

/** A fresh `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random chars>`. */
export function newSecretArn(region: string, account: string, name: string): string {
  let suffix = '';
  for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return `${arnPrefix(region, account)}${name}-${suffix}`;
}

function arnPrefix(region: string, account: string): string {
  return `arn:aws:secretsmanager:${region}:${account}:secret:`;
}

/**
 * How a `secretId` may be found: by name, or by an ARN. An ARN candidate must then match the stored ARN exactly
 * (`arn`, a full ARN) or be the stored ARN without its suffix (`partialArn`).
 */
export type SecretLookup =
  | { readonly by: 'name'; readonly name: string }
  | {
      readonly by: 'arn';
      readonly candidates: readonly { readonly name: string; readonly arn?: string; readonly partialArn?: string }[];
    };

const ARN_SHAPE = /^arn:aws:secretsmanager:([a-z0-9-]{1,64}):([^:]+):secret:(.+)$/;

/**
 * Reads a `secretId`. A full ARN and a partial ARN look alike when a name itself ends in `-xxxxxx`, so an ARN yields
 * up to two candidates: the name without the suffix (matching only that exact ARN), then the whole tail as a name
 * (matching only an ARN that is this one plus a suffix). The region is the one the secret was created in (an
 * AWS-compatible caller's credential scope), so any region parses, but only the stored ARN matches; an ARN of
 * another account matches nothing.
 */
export function parseSecretId(secretId: string, _region: string, account: string): SecretLookup {
  if (!secretId.startsWith('arn:')) return { by: 'name', name: secretId };
  const match = ARN_SHAPE.exec(secretId);
  if (match === null || match[2] !== account) return { by: 'arn', candidates: [] };
  const tail = match[3]!;
  const candidates: { name: string; arn?: string; partialArn?: string }[] = [];
  if (ARN_SUFFIX.test(tail)) candidates.push({ name: tail.slice(0, -7), arn: secretId });
  candidates.push({ name: tail, partialArn: secretId });
  return { by: 'arn', candidates };
}

/** Whether a stored ARN is the one an ARN lookup candidate asks for. */
export function arnMatches(
  stored: string,
  candidate: { readonly arn?: string; readonly partialArn?: string },
): boolean {
  if (candidate.arn !== undefined) return stored === candidate.arn;
  if (candidate.partialArn !== undefined) {
    return stored.length === candidate.partialArn.length + 7 && stored.startsWith(`${candidate.partialArn}-`);
  }
  return true;
}

/** Labels per version, for versions carrying at least one; label order follows `stages`. */
export function labelsByVersion(stages: Readonly<Record<string, string>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [label, versionId] of Object.entries(stages)) {
    const labels = out[versionId];
    if (labels === undefined) out[versionId] = [label];
    else labels.push(label);
  }
  return out;
}

export function labelsOf(stages: Readonly<Record<string, string>>, versionId: string): string[] {
  return Object.entries(stages)
    .filter(([, v]) => v === versionId)
    .map(([label]) => label);
}

/**
 * Moves each label to `versionId` (a label is on at most one version). When AWSCURRENT moves, AWSPREVIOUS goes to the
 * version AWSCURRENT left, as AWS does; if AWSCURRENT was nowhere, AWSPREVIOUS is left alone.
 */
export function moveLabels(
  stages: Readonly<Record<string, string>>,
  labels: readonly string[],
  versionId: string,
): Record<string, string> {
  const next = { ...stages };
  const leftBehind = stages[AWSCURRENT];
  for (const label of labels) next[label] = versionId;
  if (labels.includes(AWSCURRENT) && leftBehind !== undefined && leftBehind !== versionId) {
    next[AWSPREVIOUS] = leftBehind;
  }
  return next;
}

/** Throws `LimitExceededError` if any version would carry more than 20 labels. */
export function assertLabelLimit(stages: Readonly<Record<string, string>>): void {
  for (const [versionId, labels] of Object.entries(labelsByVersion(stages))) {
    if (labels.length > SECRET_LIMITS.maxLabelsPerVersion) {
      throw new LimitExceededError(
        `version ${versionId} would carry more than ${SECRET_LIMITS.maxLabelsPerVersion} staging labels`,
      );
    }
  }
}

export interface StageUpdate {
  readonly versionStage: string;
  readonly moveToVersionId?: string | undefined;
  readonly removeFromVersionId?: string | undefined;
}

/**
 * AWS `UpdateSecretVersionStage` on the label map. Returns the new map, or `undefined` when nothing changes (the
 * label is already on `moveToVersionId`). `moveToVersionId` must be a known version: the caller checks that, since
 * it alone knows the version list.
 *
 * @throws ValidationError when the request contradicts where the label is, or would remove AWSCURRENT
 * @throws LimitExceededError when the target would carry more than 20 labels
 */
export function applyStageUpdate(
  stages: Readonly<Record<string, string>>,
  update: StageUpdate,
): Record<string, string> | undefined {
  const { versionStage: label, moveToVersionId: moveTo, removeFromVersionId: removeFrom } = update;
  const holder = stages[label];
  if (moveTo === undefined && removeFrom === undefined) {
    throw new ValidationError('give moveToVersionId, removeFromVersionId or both');
  }
  if (removeFrom !== undefined && holder !== removeFrom) {
    throw new ValidationError(`staging label ${label} is not attached to version ${removeFrom}`, {
      details: { reason: 'label_not_on_version', label, versionId: removeFrom },
    });
  }
  if (moveTo !== undefined && holder === moveTo) return undefined;
  if (moveTo === undefined) {
    // AWSCURRENT marks the value every reader gets; a secret with versions must always have one.
    if (label === AWSCURRENT)
      throw new ValidationError(`${AWSCURRENT} can only be moved to another version, not removed`);
    const next = { ...stages };
    delete next[label];
    return next;
  }
  if (holder !== undefined && removeFrom === undefined) {
    throw new ValidationError(
      `staging label ${label} is attached to version ${holder}; specify removeFromVersionId to move it`,
      { details: { reason: 'label_attached_elsewhere', label, versionId: holder } },
    );
  }
  const next = moveLabels(stages, [label], moveTo);
  assertLabelLimit(next);
  return next;
}

/** How many deprecated versions a secret keeps, and how old one must be before it may be pruned. */
export interface VersionLimits {
  /** Deprecated (unlabelled) versions kept before the oldest are pruned. */
  readonly maxDeprecated: number;
  /** A deprecated version younger than this is never pruned, whatever the count. */
  readonly minPruneAgeMs: number;
}

export const DEFAULT_VERSION_LIMITS: VersionLimits = {
  maxDeprecated: SECRET_LIMITS.maxDeprecatedVersions,
  minPruneAgeMs: SECRET_LIMITS.pruneMinAgeMs,
};

function deprecatedOldestFirst(versions: readonly VersionRef[], stages: Readonly<Record<string, string>>) {
  const labelled = new Set(Object.values(stages));
  // `versions` is in creation order; the stable sort only matters if the clock ever went backwards.
  return versions.filter((v) => !labelled.has(v.versionId)).sort((a, b) => a.createdAt - b.createdAt);
}

/**
 * Deprecated versions (no label) to delete: while more than `maxDeprecated` exist, the oldest first, but never one
 * younger than `minPruneAgeMs`. At most `maxDeletes`, so the deletes fit in the writer's transaction; the rest go on
 * a later write.
 */
export function versionsToPrune(
  versions: readonly VersionRef[],
  stages: Readonly<Record<string, string>>,
  now: number,
  maxDeletes: number,
  limits: VersionLimits = DEFAULT_VERSION_LIMITS,
): string[] {
  const deprecated = deprecatedOldestFirst(versions, stages);
  const excess = deprecated.length - limits.maxDeprecated;
  if (excess <= 0) return [];
  return deprecated
    .slice(0, excess)
    .filter((v) => now - v.createdAt > limits.minPruneAgeMs)
    .slice(0, Math.max(0, maxDeletes))
    .map((v) => v.versionId);
}

/**
 * Deprecated versions too young to prune. When a new version would take them past `maxDeprecated`, pruning cannot
 * keep up with the writers and the write is refused (AWS's LimitExceededException): otherwise a busy secret grows
 * without bound, and with it the metadata item every write rewrites.
 */
export function youngDeprecatedCount(
  versions: readonly VersionRef[],
  stages: Readonly<Record<string, string>>,
  now: number,
  limits: VersionLimits = DEFAULT_VERSION_LIMITS,
): number {
  return deprecatedOldestFirst(versions, stages).filter((v) => now - v.createdAt <= limits.minPruneAgeMs).length;
}

/** Scheduled for deletion, whether or not the date has passed. */
export function isPendingDeletion(record: Pick<SecretRecord, 'deletionDate'>): boolean {
  return record.deletionDate !== undefined;
}

/** Past its deletion date: it reads as absent even before `purgeExpired` removes it. */
export function isExpired(record: Pick<SecretRecord, 'deletionDate'>, now: number): boolean {
  return record.deletionDate !== undefined && now >= record.deletionDate;
}

export function deletionDateFor(now: number, recoveryWindowDays: number): number {
  return now + recoveryWindowDays * 24 * 60 * 60 * 1000;
}

export function valueBytes(value: SecretValue): Buffer {
  return value.kind === 'string' ? Buffer.from(value.string, 'utf8') : value.binary;
}

/**
 * Constant-time equality of two values. Both sides are hashed first so that `timingSafeEqual` gets equal lengths
 * and the comparison time does not reveal the stored value's length either.
 */
export function sameValue(a: SecretValue, b: SecretValue): boolean {
  const digest = (v: SecretValue) => createHash('sha256').update(v.kind).update('\0').update(valueBytes(v)).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Opaque pagination cursor: base64url JSON of a position. */
export function encodeCursor(position: string): string {
  return Buffer.from(JSON.stringify({ p: position }), 'utf8').toString('base64url');
}

/** @throws ValidationError when the cursor was not made by `encodeCursor` */
export function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { p?: unknown }).p === 'string') {
      return (parsed as { p: string }).p;
    }
  } catch {
    // fall through to the one error below
  }
  throw new ValidationError('cursor is invalid');
}

/**
 * A key just past every name inside `folder` (which ends in '/'). Name characters are all below 0x7f, so no name
 * under the folder sorts after `folder + '\x7f'`.
 */
export function pastFolder(folder: string): string {
  return `${folder}\x7f`;
}

/** The folder form of a list prefix: '' or ending in '/'. */
export function folderPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}
