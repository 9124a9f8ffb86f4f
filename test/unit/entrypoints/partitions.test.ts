import { describe, expect, it } from 'vitest';
import { PARTITIONS } from '../../../lambdas/entrypoints/partitions.ts';
import { PARTITIONS as CLASSIFIED } from '../../support/authz-harness.ts';

describe('the partition registry', () => {
  it('holds exactly the partitions the authorisation harness classifies', () => {
    const registered = PARTITIONS.map((partition) => partition.pk).sort();
    const classified = CLASSIFIED.map((rule) => rule.pk).sort();
    expect(registered).toEqual(classified);
  });

  it('marks as prefixed exactly the partitions the harness matches by prefix', () => {
    const registered = PARTITIONS.filter((partition) => partition.prefix !== undefined).map(
      (partition) => partition.pk,
    );
    const classified = CLASSIFIED.filter((rule) => rule.prefix === true).map((rule) => rule.pk);
    expect(registered.sort()).toEqual(classified.sort());
  });
});
