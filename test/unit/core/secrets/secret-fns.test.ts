import { describe, expect, it } from 'vitest';
import { LimitExceededError, ValidationError } from '../../../../lambdas/core/errors.ts';
import {
  applyStageUpdate,
  arnMatches,
  decodeCursor,
  encodeCursor,
  labelsByVersion,
  moveLabels,
  parseSecretId,
  pastFolder,
  sameValue,
  versionsToPrune,
  youngDeprecatedCount,
} from '../../../../lambdas/core/secrets/secret-fns.ts';
import { DAY } from './fixtures.ts';

describe('Function: moveLabels', () => {
  it('moves AWSPREVIOUS to the version AWSCURRENT left', () => {
    expect(moveLabels({ AWSCURRENT: 'v1', AWSPREVIOUS: 'v0' }, ['AWSCURRENT'], 'v2')).toEqual({
      AWSCURRENT: 'v2',
      AWSPREVIOUS: 'v1',
    });
  });

  it('leaves AWSPREVIOUS alone when AWSCURRENT does not move', () => {
    expect(moveLabels({ AWSCURRENT: 'v1', AWSPREVIOUS: 'v0' }, ['AWSPENDING'], 'v2')).toEqual({
      AWSCURRENT: 'v1',
      AWSPREVIOUS: 'v0',
      AWSPENDING: 'v2',
    });
  });

  it('sets no AWSPREVIOUS for the first current version', () => {
    expect(moveLabels({}, ['AWSCURRENT'], 'v1')).toEqual({ AWSCURRENT: 'v1' });
  });
});

describe('Function: applyStageUpdate', () => {
  const stages = { AWSCURRENT: 'v2', AWSPREVIOUS: 'v1', AWSPENDING: 'v3' };

  it('returns undefined when the label is already on the target', () => {
    expect(applyStageUpdate(stages, { versionStage: 'AWSPENDING', moveToVersionId: 'v3' })).toBeUndefined();
  });

  it('refuses a wrong removeFromVersionId even when the move would be a no-op', () => {
    expect(() =>
      applyStageUpdate(stages, { versionStage: 'AWSPENDING', moveToVersionId: 'v3', removeFromVersionId: 'v1' }),
    ).toThrow(ValidationError);
  });

  it('refuses a label limit overflow', () => {
    const crowded = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`L${i}`, 'v1']));
    expect(() => applyStageUpdate(crowded, { versionStage: 'extra', moveToVersionId: 'v1' })).toThrow(
      LimitExceededError,
    );
  });
});

describe('Function: versionsToPrune', () => {
  const now = 10 * DAY;
  const versions = Array.from({ length: 104 }, (_, i) => ({ versionId: `v${i}`, createdAt: i < 2 ? 0 : now }));

  it('prunes nothing at or below 100 deprecated versions', () => {
    expect(versionsToPrune(versions.slice(0, 102), { AWSCURRENT: 'v101', AWSPREVIOUS: 'v100' }, now, 98)).toEqual([]);
  });

  it('prunes the oldest excess only when older than 24 hours', () => {
    // 103 deprecated: 3 over; only v0 and v1 are old enough.
    expect(versionsToPrune(versions, { AWSCURRENT: 'v103' }, now, 98)).toEqual(['v0', 'v1']);
  });

  it('never prunes more than the budget', () => {
    expect(versionsToPrune(versions, { AWSCURRENT: 'v103' }, now, 1)).toEqual(['v0']);
  });

  it('never prunes a labelled version', () => {
    expect(versionsToPrune(versions, { AWSCURRENT: 'v103', keep: 'v0' }, now, 98)).toEqual(['v1']);
  });

  it('takes its limits as an argument', () => {
    const limits = { maxDeprecated: 1, minPruneAgeMs: DAY };
    // 103 deprecated, 102 over a limit of 1; only v0 and v1 are old enough.
    expect(versionsToPrune(versions, { AWSCURRENT: 'v103' }, now, 98, limits)).toEqual(['v0', 'v1']);
    const youngAllowed = { maxDeprecated: 100, minPruneAgeMs: 0 };
    expect(versionsToPrune(versions, { AWSCURRENT: 'v103' }, now + 1, 98, youngAllowed)).toEqual(['v0', 'v1', 'v2']);
  });
});

describe('Function: youngDeprecatedCount', () => {
  const now = 10 * DAY;
  const versions = Array.from({ length: 6 }, (_, i) => ({ versionId: `v${i}`, createdAt: i < 2 ? 0 : now - DAY }));

  it('counts unlabelled versions not older than the prune age', () => {
    // v2..v5 are exactly 24 hours old: not yet prunable. v5 is labelled.
    expect(youngDeprecatedCount(versions, { AWSCURRENT: 'v5' }, now)).toBe(3);
    expect(youngDeprecatedCount(versions, { AWSCURRENT: 'v5' }, now + 1)).toBe(0);
    expect(
      youngDeprecatedCount(versions, { AWSCURRENT: 'v5' }, now, { maxDeprecated: 1, minPruneAgeMs: 11 * DAY }),
    ).toBe(5);
  });
});

describe('Function: parseSecretId', () => {
  it('offers the suffix-less name for exact match, then the whole tail as a partial ARN', () => {
    const arn = 'arn:aws:secretsmanager:r:1:secret:app-abcdef';
    expect(parseSecretId(arn, 'r', '1')).toEqual({
      by: 'arn',
      candidates: [
        { name: 'app', arn },
        { name: 'app-abcdef', partialArn: arn },
      ],
    });
    expect(parseSecretId('app', 'r', '1')).toEqual({ by: 'name', name: 'app' });
  });

  it("parses any region (the ARN carries the creator's credential scope) but only this account", () => {
    expect(parseSecretId('arn:aws:secretsmanager:other:1:secret:app', 'r', '1')).toEqual({
      by: 'arn',
      candidates: [{ name: 'app', partialArn: 'arn:aws:secretsmanager:other:1:secret:app' }],
    });
    expect(parseSecretId('arn:aws:secretsmanager:r:2:secret:app', 'r', '1')).toEqual({ by: 'arn', candidates: [] });
    expect(parseSecretId('arn:aws:kms:r:1:key/app', 'r', '1')).toEqual({ by: 'arn', candidates: [] });
  });
});

describe('Function: arnMatches', () => {
  const stored = 'arn:aws:secretsmanager:r:1:secret:app-abcdef';
  it('matches a full ARN exactly, region included', () => {
    expect(arnMatches(stored, { arn: stored })).toBe(true);
    expect(arnMatches(stored, { arn: stored.replace(':r:', ':q:') })).toBe(false);
  });
  it('matches a partial ARN only as the stored ARN minus its suffix', () => {
    expect(arnMatches(stored, { partialArn: 'arn:aws:secretsmanager:r:1:secret:app' })).toBe(true);
    expect(arnMatches(stored, { partialArn: 'arn:aws:secretsmanager:q:1:secret:app' })).toBe(false);
    expect(arnMatches(stored, { partialArn: 'arn:aws:secretsmanager:r:1:secret:ap' })).toBe(false);
  });
});

describe('Function: labelsByVersion', () => {
  it('groups labels by version', () => {
    expect(labelsByVersion({ AWSCURRENT: 'v2', blue: 'v2', AWSPREVIOUS: 'v1' })).toEqual({
      v2: ['AWSCURRENT', 'blue'],
      v1: ['AWSPREVIOUS'],
    });
  });
});

describe('Function: sameValue', () => {
  it('compares kind and bytes', () => {
    expect(sameValue({ kind: 'string', string: 'a' }, { kind: 'string', string: 'a' })).toBe(true);
    expect(sameValue({ kind: 'string', string: 'a' }, { kind: 'string', string: 'ab' })).toBe(false);
    expect(sameValue({ kind: 'string', string: 'a' }, { kind: 'binary', binary: Buffer.from('a') })).toBe(false);
  });
});

describe('Function: encodeCursor', () => {
  it('round-trips a position and refuses garbage', () => {
    expect(decodeCursor(encodeCursor(pastFolder('a/')))).toBe('a/\x7f');
    expect(() => decodeCursor('not-a-cursor')).toThrow(ValidationError);
  });
});
