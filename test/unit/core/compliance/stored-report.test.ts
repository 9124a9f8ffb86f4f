import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import {
  type ComplianceReportFigures,
  ComplianceService,
} from '../../../../lambdas/core/compliance/compliance-service.ts';
import {
  COMPLIANCE_PARTITION,
  LATEST_REPORT_SK,
  saveReport,
  storedReportReader,
} from '../../../../lambdas/core/compliance/stored-report.ts';
import { DependencyUnavailableError, ValidationError } from '../../../../lambdas/core/errors.ts';

const HOUR = 3_600_000;
const computedAt = Date.parse('2026-03-01T00:00:00.000Z');
const now = computedAt + 2 * HOUR;

const report: ComplianceReportFigures = {
  generatedAt: computedAt,
  window: { since: computedAt - 24 * HOUR, until: computedAt },
  metrics: [
    {
      id: 'secrets_without_owner',
      title: 'Secrets without an owner',
      definition: 'Live secrets now without a non-empty owner tag.',
      value: 2,
      unit: 'count',
      status: 'warning',
      details: [{ name: 'db/password' }, { name: 'api/key' }],
    },
  ],
};

function service(store: MemoryStore): ComplianceService {
  return new ComplianceService({
    compute: storedReportReader(store),
    clock: { now: () => now },
    secrets: { listDescriptions: async () => [] },
    tokens: { liveRecords: async function* () {} },
    hmac: (value) => value,
  });
}

describe('Function: storedReportReader', () => {
  it('answers the stored report as computed, with its generatedAt, when no window is asked', async () => {
    const store = new MemoryStore();
    await saveReport(store, '1d', report);

    const answer = await service(store).report();

    expect(answer).toEqual(report);
    expect(answer.generatedAt).toBe(computedAt);
  });

  it('answers the stored report for the window the function computes, however it is spelt', async () => {
    const store = new MemoryStore();
    await saveReport(store, '1d', report);

    await expect(service(store).report({ since: '1d' })).resolves.toEqual(report);
    await expect(service(store).report({ since: '24h' })).resolves.toEqual(report);
  });

  it('refuses another window, naming the one the AWS runtime reports', async () => {
    const store = new MemoryStore();
    await saveReport(store, '1d', report);

    for (const since of ['30d', '2026-02-01T00:00:00Z']) {
      const refused = service(store).report({ since });
      await expect(refused).rejects.toBeInstanceOf(ValidationError);
      await expect(refused).rejects.toThrow(/since=1d \(COFFER_COMPLIANCE_WINDOW\)/);
    }
  });

  it('refuses with a retryable error while no report is stored, rather than make one up', async () => {
    const refused = service(new MemoryStore()).report();

    await expect(refused).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(refused).rejects.toThrow(/no compliance report yet/);
  });

  it('keeps one item, replaced by each run', async () => {
    const store = new MemoryStore();
    await saveReport(store, '1d', report);
    const later = { ...report, generatedAt: computedAt + HOUR };
    await saveReport(store, '1d', later);

    const page = await store.query(COMPLIANCE_PARTITION);
    expect(page.items.map((item) => item.sk)).toEqual([LATEST_REPORT_SK]);
    await expect(service(store).report()).resolves.toEqual(later);
  });
});
