import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLIANCE_METRIC_IDS, type ComplianceMetric, ComplianceReport } from '../../../lambdas/api/compliance.ts';
import { seededComplianceNode } from '../../support/compliance-seed.ts';

/**
 * Issue 16: the compliance report on a seeded local node (real SQLite store, real audit file with the records the
 * broker wrote, an injected clock): every figure is the one the seeded history implies.
 */
describe('Local node: the compliance report', () => {
  let seed: Awaited<ReturnType<typeof seededComplianceNode>>;
  let report: ComplianceReport;
  const metric = (id: string): ComplianceMetric => {
    const found = report.metrics.find((m) => m.id === id);
    if (found === undefined) throw new Error(`no metric ${id}`);
    return found;
  };

  beforeAll(async () => {
    seed = await seededComplianceNode();
    const answer = await seed.report();
    expect(answer.status).toBe(200);
    report = ComplianceReport.parse(answer.body);
  }, 60_000);
  afterAll(async () => {
    await seed?.close();
  });

  it('covers the window of the last 30 days and every metric, each with its definition', () => {
    expect(report.window).toEqual({ since: '2026-01-11T00:00:00.000Z', until: '2026-02-10T00:00:00.000Z' });
    expect(report.generatedAt).toBe('2026-02-10T00:00:00.000Z');
    expect(report.metrics.map((m) => m.id)).toEqual([...COMPLIANCE_METRIC_IDS]);
    for (const m of report.metrics) expect(m.definition).toMatch(/ok [=<>]/);
  });

  it('rotation: one of two secrets on schedule, the overdue one named, one of two rotations succeeded', () => {
    expect(metric('rotation_compliance')).toMatchObject({ value: 50, unit: 'percent', status: 'failing' });
    expect(metric('rotation_overdue')).toMatchObject({ value: 1, status: 'failing' });
    expect(metric('rotation_overdue').details).toEqual([
      {
        name: 'app/overdue',
        dueAt: '2026-01-08T00:00:00.000Z',
        windowEnd: '2026-01-08T02:00:00.000Z',
        overdueDays: 32.92,
      },
    ]);
    expect(metric('rotation_success_rate')).toMatchObject({ value: 50, status: 'failing' });
    expect(metric('rotation_success_rate').details).toEqual([{ succeeded: 1, failed: 1, running: 0 }]);
    // The injected clock does not move while a rotation runs.
    expect(metric('mean_time_to_rotate')).toMatchObject({ value: 0, unit: 'seconds', status: 'ok' });
  });

  it('audit completeness: the chain verifies, and the request whose answer was lost is the one gap', () => {
    const audit = metric('audit_completeness');
    // 12 requests in the window have both records (2 rotations started, 2 reads, 2 tokens, 3 logins, 3 refusals).
    expect(audit).toMatchObject({ value: 92.3, status: 'failing' });
    expect(audit.details).toContainEqual(expect.objectContaining({ kind: 'chain', verified: true, reason: null }));
    expect(audit.details).toContainEqual({ kind: 'summary', complete: 12, gaps: 1, inFlight: 1 });
    expect(audit.details?.filter((d) => d.kind === 'gap')).toEqual([
      {
        kind: 'gap',
        requestId: 'lost-answer',
        operation: 'secret.read',
        time: '2026-01-21T00:00:00.000Z',
        missing: 'response',
      },
    ]);
  });

  it('refusals and logins: 6 of 13 answers refused, 1 of 3 logins succeeded, refused principals ranked', () => {
    expect(metric('unauthorised_attempt_rate')).toMatchObject({ value: 46.16, status: 'failing' });
    expect(metric('unauthorised_attempt_rate').details).toEqual([{ responses: 13, denied: 6 }]);
    expect(metric('authentication_success_rate')).toMatchObject({ value: 33.33, status: 'failing' });
    expect(metric('authentication_success_rate').details).toEqual([
      { method: 'approle', mount: 'ci', attempts: 3, succeeded: 1 },
    ]);
    const top = metric('top_denied_principals');
    expect(top).toMatchObject({ value: 3, unit: 'count', status: 'ok' });
    expect(top.details?.map((d) => [d.type, d.denials])).toEqual([
      ['token', 3],
      ['none', 2],
      ['none', 1],
    ]);
    expect(top.details?.[0]?.id).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(top.details?.slice(1).map((d) => d.id)).toEqual(['198.51.100.7', '203.0.113.9']);
  });

  it('tokens: the root token (no max TTL) and the 31-day token are out of compliance', () => {
    const tokens = metric('token_expiry_compliance');
    expect(tokens).toMatchObject({ value: 50, status: 'failing' });
    expect(tokens.details?.map((d) => [d.policies, d.reason])).toEqual([
      ['root', 'no max TTL'],
      ['nothing', 'long-lived'],
    ]);
    for (const row of tokens.details ?? []) expect(row.accessor).toMatch(/^hmac-sha256:/);
  });

  it('secrets: two never read in the window, one without an owner; expiry policies are not wired here', () => {
    expect(metric('stale_secrets')).toMatchObject({ value: 2, status: 'warning' });
    expect(metric('stale_secrets').details?.map((d) => d.name)).toEqual(['app/overdue', 'app/stale']);
    expect(metric('secrets_without_owner')).toMatchObject({ value: 1, status: 'warning' });
    expect(metric('secrets_without_owner').details).toEqual([{ name: 'app/stale' }]);
    expect(metric('expired_secrets')).toMatchObject({ value: null, status: 'unknown' });
  });

  it('certificates: two expire within 30 days (one within 7), the expired one listed, the revoked one not', () => {
    const certificates = metric('expiring_certificates');
    expect(certificates).toMatchObject({ value: 2, status: 'failing' });
    expect(certificates.details).toEqual([
      { serial: seed.serials.soon, notAfter: '2026-02-14T00:00:00.000Z', daysLeft: 4, expired: false },
      { serial: seed.serials.later, notAfter: '2026-03-01T00:00:00.000Z', daysLeft: 19, expired: false },
      { serial: seed.serials.lapsed, notAfter: '2026-01-15T00:00:00.000Z', daysLeft: 0, expired: true },
    ]);
  });

  it('never holds a secret value, and is refused to a caller without read on sys/compliance', async () => {
    const text = JSON.stringify(report);
    for (const value of ['read me', 'nobody reads me', 'billing.example']) expect(text).not.toContain(value);
    const narrow = await seed.node.deps.tokens.create(await seed.node.deps.tokens.authenticate(seed.rootToken), {
      policies: ['nothing'],
    });
    expect((await seed.report({ since: '30d' }, narrow.token)).status).toBe(403);
  });

  it('answers a narrower window with its own figures, and refuses a malformed one with a useful message', async () => {
    // Days 30..40 hold only the reads of day 35 and the calls of day 39: the gap of day 20 is outside.
    const tenDays = ComplianceReport.parse((await seed.report({ since: '10d' })).body);
    expect(tenDays.metrics.find((m) => m.id === 'audit_completeness')?.value).toBe(100);
    const bad = await seed.report({ since: 'yesterday' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('invalid duration');
    expect((await seed.report({ since: '400d' })).status).toBe(400);
  });

  it('names a chain that no longer verifies (a record altered in the file)', async () => {
    const file = path.join(seed.dir, 'audit', 'audit.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[3] = lines[3]!.replace('"sourceIp":"', '"sourceIp":"x');
    writeFileSync(file, lines.join('\n'));
    const tampered = ComplianceReport.parse((await seed.report()).body);
    const audit = tampered.metrics.find((m) => m.id === 'audit_completeness');
    expect(audit?.status).toBe('failing');
    expect(audit?.details).toContainEqual(
      expect.objectContaining({ kind: 'chain', verified: false, reason: expect.stringMatching(/^line 4: /) }),
    );
  });
});
