import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../../lambdas/core/audit/audit-types.ts';
import { AuditWindowCounter, REQUEST_GRACE_MS } from '../../../../lambdas/core/compliance/audit-window-figures.ts';
import {
  type ComplianceInputs,
  complianceMetrics,
  type Metric,
} from '../../../../lambdas/core/compliance/compliance-metrics.ts';
import { ComplianceService, windowStart } from '../../../../lambdas/core/compliance/compliance-service.ts';
import { computeReportLazily } from '../../../../lambdas/core/compliance/compute-report.ts';
import type { AuditWindowReader } from '../../../../lambdas/core/ports/audit-window.ts';
import type { ComplianceFigures } from '../../../../lambdas/core/rotation/rotation-compliance.ts';

const DAY = 86_400_000;
const until = Date.parse('2026-03-01T00:00:00.000Z');
const since = until - 30 * DAY;
const at = (ms: number) => new Date(ms).toISOString();

function metric(metrics: readonly Metric[], id: string): Metric {
  const found = metrics.find((m) => m.id === id);
  if (found === undefined) throw new Error(`no metric ${id}`);
  return found;
}

function rotationFigures(overrides: Partial<ComplianceFigures> = {}): ComplianceFigures {
  return {
    secretsWithRotation: 10,
    onSchedule: 10,
    overdue: [],
    onScheduleShare: 1,
    rotations: { total: 0, succeeded: 0, failed: 0, running: 0, successRate: undefined },
    meanTimeToRotateMs: undefined,
    p95TimeToRotateMs: undefined,
    ...overrides,
  };
}

const base: ComplianceInputs = { since, until, secrets: [], tokens: [] };

describe('complianceMetrics', () => {
  it('says "unknown" with the reason where the node lacks the source, and never invents a figure', () => {
    const metrics = complianceMetrics(base);
    for (const id of [
      'rotation_compliance',
      'audit_completeness',
      'stale_secrets',
      'expiring_certificates',
      'expired_secrets',
      'top_denied_principals',
    ]) {
      expect(metric(metrics, id)).toMatchObject({ value: null, status: 'unknown' });
      expect(metric(metrics, id).definition).toContain('Not measurable on this node');
    }
    // Owners and tokens are always known.
    expect(metric(metrics, 'secrets_without_owner')).toMatchObject({ value: 0, status: 'ok' });
    expect(metric(metrics, 'token_expiry_compliance')).toMatchObject({ value: null, status: 'ok' });
  });

  it('grades rotation compliance at 100 / 90 and mean time to rotate at 300 s / 3600 s', () => {
    const grade = (share: number) =>
      metric(
        complianceMetrics({ ...base, rotation: rotationFigures({ onScheduleShare: share }) }),
        'rotation_compliance',
      ).status;
    expect([grade(1), grade(0.95), grade(0.9), grade(0.899)]).toEqual(['ok', 'warning', 'warning', 'failing']);
    const mttr = (ms: number) =>
      metric(
        complianceMetrics({ ...base, rotation: rotationFigures({ meanTimeToRotateMs: ms }) }),
        'mean_time_to_rotate',
      );
    expect(mttr(300_000)).toMatchObject({ value: 300, status: 'ok' });
    expect(mttr(90_500)).toMatchObject({ value: 90.5, status: 'ok' });
    expect(mttr(3_600_000).status).toBe('warning');
    expect(mttr(3_600_001).status).toBe('failing');
  });

  it('grades rotation success at 95 / 80, and says ok with no figure when no rotation ended', () => {
    const rate = (successRate: number | undefined) =>
      metric(
        complianceMetrics({
          ...base,
          rotation: rotationFigures({ rotations: { total: 1, succeeded: 0, failed: 0, running: 1, successRate } }),
        }),
        'rotation_success_rate',
      );
    expect(rate(undefined)).toMatchObject({ value: null, status: 'ok' });
    expect(rate(0.96)).toMatchObject({ value: 96, status: 'ok' });
    expect(rate(0.8).status).toBe('warning');
    expect(rate(0.5).status).toBe('failing');
  });

  it('counts a long-lived token and one without max TTL against compliance; worst first', () => {
    const created = until - DAY;
    const metrics = complianceMetrics({
      ...base,
      tokens: [
        {
          displayName: 'ok',
          accessorHmac: 'h1',
          policies: ['a'],
          createdAt: created,
          maxExpiresAt: created + 30 * DAY,
        },
        {
          displayName: 'long',
          accessorHmac: 'h2',
          policies: ['a', 'b'],
          createdAt: created,
          maxExpiresAt: created + 31 * DAY,
        },
        { displayName: 'forever', accessorHmac: 'h3', policies: ['root'], createdAt: created, maxExpiresAt: null },
      ],
    });
    const tokens = metric(metrics, 'token_expiry_compliance');
    expect(tokens).toMatchObject({ value: 33.33, status: 'failing' });
    expect(tokens.details?.map((d) => [d.displayName, d.reason, d.policies])).toEqual([
      ['forever', 'no max TTL', 'root'],
      ['long', 'long-lived', 'a,b'],
    ]);
  });

  it('grades expiring certificates by the soonest: warning within 30 days, failing within 7', () => {
    const certs = (...daysLeft: number[]) =>
      metric(
        complianceMetrics({
          ...base,
          certificates: daysLeft.map((d, i) => ({ serial: `s${i}`, notAfter: until + d * DAY, revoked: false })),
        }),
        'expiring_certificates',
      );
    expect(certs(31)).toMatchObject({ value: 0, status: 'ok' });
    expect(certs(30, 60)).toMatchObject({ value: 1, status: 'warning' });
    expect(certs(20, 7)).toMatchObject({ value: 2, status: 'failing' });
    expect(certs(-1)).toMatchObject({ value: 0, status: 'ok' });
    expect(certs(-1).details).toEqual([{ serial: 's0', notAfter: at(until - DAY), daysLeft: 0, expired: true }]);
  });

  it('caps the details at 100 rows while the value counts everything', () => {
    const secrets = Array.from({ length: 150 }, (_, i) => ({ name: `s/${i}`, tags: {}, createdAt: since }));
    const ownerless = metric(complianceMetrics({ ...base, secrets }), 'secrets_without_owner');
    expect(ownerless.value).toBe(150);
    expect(ownerless.details).toHaveLength(100);
  });
});

describe('AuditWindowCounter', () => {
  const record = (fields: Partial<AuditRecord> & Pick<AuditRecord, 'type' | 'requestId' | 'time'>): AuditRecord => ({
    operation: 'secret.read',
    path: 'secrets/a',
    sourceIp: '10.0.0.1',
    ...fields,
  });

  it('pairs requests with their responses; a late request is in flight, an old one without answer is a gap', () => {
    const counter = new AuditWindowCounter({ since, until });
    // Before the window: its response inside the window still finds it, and is not a gap.
    counter.add(record({ type: 'request', requestId: 'early', time: at(since - 60_000) }));
    counter.add(record({ type: 'response', requestId: 'early', time: at(since + 1), outcome: 'ok' }));
    counter.add(record({ type: 'request', requestId: 'done', time: at(since + DAY) }));
    counter.add(record({ type: 'response', requestId: 'done', time: at(since + DAY), outcome: 'ok' }));
    counter.add(record({ type: 'request', requestId: 'lost', time: at(until - REQUEST_GRACE_MS - 1) }));
    counter.add(record({ type: 'request', requestId: 'running', time: at(until - REQUEST_GRACE_MS + 1) }));
    counter.add(record({ type: 'response', requestId: 'orphan', time: at(since + 2 * DAY), outcome: 'ok' }));
    // A refusal before the request record, an internal record and the log's own: none of them is a gap.
    counter.add(record({ type: 'response', requestId: 'refused', time: at(since + 2 * DAY), outcome: 'denied' }));
    counter.add(
      record({
        type: 'response',
        requestId: 'rotation-1',
        time: at(since + 2 * DAY),
        outcome: 'ok',
        sourceIp: 'internal',
      }),
    );
    counter.add(record({ type: 'system', requestId: 'sys', time: at(since + 2 * DAY), operation: 'audit.recovered' }));
    // After the window's end: not counted.
    counter.add(record({ type: 'request', requestId: 'future', time: at(until + 1) }));
    const figures = counter.figures();
    expect(figures).toMatchObject({ complete: 1, inFlight: 1, responses: 4, denied: 1 });
    expect(figures.gaps.map((g) => [g.requestId, g.missing])).toEqual([
      ['orphan', 'request'],
      ['lost', 'response'],
    ]);
  });

  it('knows reads from granted value reads only, and ranks refused principals', () => {
    const counter = new AuditWindowCounter({ since, until });
    const read = (requestId: string, operation: string, outcome: 'ok' | 'denied', path = 'secrets/app/a') => {
      counter.add(record({ type: 'request', requestId, time: at(since + DAY), operation }));
      counter.add(
        record({
          type: 'response',
          requestId,
          time: at(since + DAY),
          operation,
          outcome,
          grants: outcome === 'ok' ? [{ path, capability: 'read' }] : [],
          principal: { type: 'token', id: 'hmac-sha256:x', displayName: 'app', policies: [] },
        }),
      );
    };
    read('1', 'secret.read', 'ok');
    read('2', 'secretsmanager.GetSecretValue', 'ok', 'secrets/app/b');
    read('3', 'secret.describe', 'ok', 'secrets/app/c');
    read('4', 'secret.read', 'denied', 'secrets/app/d');
    read('5', 'secret.read', 'denied', 'secrets/app/d');
    const figures = counter.figures();
    expect([...figures.lastRead.keys()].sort()).toEqual(['app/a', 'app/b']);
    expect(figures.deniedPrincipals).toEqual([{ principal: 'app', type: 'token', id: 'hmac-sha256:x', denials: 2 }]);
  });
});

describe('ComplianceService', () => {
  const clock = { now: () => until };
  const empty: AuditWindowReader = {
    records: () => (async function* () {})(),
    verify: async () => [{ source: 'memory', ok: true, records: 0 }],
  };

  it('counts the secrets expiration has ended through its injected reader, read at the report time', async () => {
    const asked: number[] = [];
    const service = new ComplianceService({
      compute: computeReportLazily,
      clock,
      secrets: { listDescriptions: async () => [] },
      tokens: { liveRecords: () => (async function* () {})() },
      hmac: (v) => `h(${v})`,
      auditWindow: empty,
      expiredSecrets: async (now) => {
        asked.push(now);
        return [
          { name: 'b/expired', state: 'expired', expiresAt: until - 2 * DAY },
          { name: 'a/grace', state: 'grace', expiresAt: until - DAY },
        ];
      },
    });
    const report = await service.report({ since: '7d' });
    expect(asked).toEqual([until]);
    expect(report.window).toEqual({ since: until - 7 * DAY, until });
    expect(metric(report.metrics, 'expired_secrets')).toMatchObject({ value: 2, status: 'warning' });
    expect(metric(report.metrics, 'expired_secrets').details).toEqual([
      { name: 'a/grace', state: 'grace', expiresAt: at(until - DAY) },
      { name: 'b/expired', state: 'expired', expiresAt: at(until - 2 * DAY) },
    ]);
    expect(metric(report.metrics, 'audit_completeness')).toMatchObject({ value: 100, status: 'ok' });
  });

  it('reads the audit window from the grace before `since`, and names tokens by their accessor HMAC', async () => {
    const froms: number[] = [];
    const service = new ComplianceService({
      compute: computeReportLazily,
      clock,
      secrets: { listDescriptions: async () => [] },
      tokens: {
        async *liveRecords() {
          yield { accessor: 'acc_1', displayName: 'root', policies: ['root'], createdAt: since, maxExpiresAt: null };
        },
      },
      hmac: (v) => `h(${v})`,
      auditWindow: {
        records(from) {
          froms.push(from);
          return (async function* () {})();
        },
        verify: async (from) => {
          froms.push(from);
          return [];
        },
      },
    });
    const report = await service.report();
    expect(froms).toEqual([since - REQUEST_GRACE_MS, since - REQUEST_GRACE_MS]);
    expect(metric(report.metrics, 'token_expiry_compliance').details?.[0]?.accessor).toBe('h(acc_1)');
    expect(JSON.stringify(report)).not.toContain('acc_1"');
  });

  it('takes a duration or an instant for the window start, and refuses the future and more than 366 days', () => {
    expect(windowStart('12h', until)).toBe(until - 12 * 3_600_000);
    expect(windowStart('2026-02-01T00:00:00Z', until)).toBe(Date.parse('2026-02-01T00:00:00Z'));
    expect(() => windowStart('2026-04-01T00:00:00Z', until)).toThrow(/must start in the past/);
    expect(() => windowStart('367d', until)).toThrow(/at most 366 days/);
    expect(() => windowStart('2026-02-30Tnonsense', until)).toThrow(/not an instant/);
  });
});

describe('complianceMetrics rounding', () => {
  it('rounds toward the worse side, so one gap in a million is not a clean 100', () => {
    const counter = new AuditWindowCounter({ since, until });
    for (let i = 0; i < 100_000; i++) {
      counter.add({
        type: 'request',
        requestId: `r${i}`,
        time: at(since + 1),
        operation: 'x',
        path: '',
        sourceIp: 'a',
      });
      counter.add({
        type: 'response',
        requestId: `r${i}`,
        time: at(since + 1),
        operation: 'x',
        path: '',
        sourceIp: 'a',
        outcome: i === 0 ? 'denied' : 'ok',
      });
    }
    counter.add({ type: 'request', requestId: 'lost', time: at(since + 1), operation: 'x', path: '', sourceIp: 'a' });
    const metrics = complianceMetrics({ ...base, audit: { figures: counter.figures(), chains: [] } });
    expect(metric(metrics, 'audit_completeness')).toMatchObject({ value: 99.99, status: 'failing' });
    // 1 refusal in 100 000 answers: 0.001 % is given as 0.01 %.
    expect(metric(metrics, 'unauthorised_attempt_rate')).toMatchObject({ value: 0.01, status: 'ok' });
    const share = metric(
      complianceMetrics({ ...base, rotation: rotationFigures({ onScheduleShare: 0.99999 }) }),
      'rotation_compliance',
    );
    expect(share).toMatchObject({ value: 99.99, status: 'warning' });
  });
});
