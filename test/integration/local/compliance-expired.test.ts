import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComplianceReport } from '../../../lambdas/api/compliance.ts';
import { REPORT_DAY, SEED_EPOCH, seededComplianceNode } from '../../support/compliance-seed.ts';
import { request } from '../../support/memory-node.ts';

/**
 * Issue 16: the compliance report counts the secrets their expiration policy has ended, as the secret's own
 * describe judges them (time, grace, reads spent), on the local node's default wiring.
 */
describe('Local node: expired secrets in the compliance report', () => {
  let seed: Awaited<ReturnType<typeof seededComplianceNode>>;
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await seed.node.broker.handle(request(method, url, { token: seed.rootToken, body }));
    return { status: res.status, body: res.body === '' ? undefined : JSON.parse(res.body) };
  };

  beforeAll(async () => {
    seed = await seededComplianceNode();
    seed.clock.set(REPORT_DAY - 2);
    for (const [name, expiration] of [
      ['app/lapsed', { ttl: '1d' }],
      ['app/in-grace', { ttl: '1d', grace: '10d' }],
      ['app/later', { ttl: '30d' }],
      ['app/read-once', { maxReads: 1 }],
    ] as const) {
      expect((await call('POST', '/v1/secrets', { name, value: 'v', tags: { owner: 'ops' }, expiration })).status).toBe(
        201,
      );
    }
    expect((await call('GET', '/v1/secret/data/app/read-once')).status).toBe(200);
    expect((await call('GET', '/v1/secret/data/app/read-once')).status).toBe(410);
    seed.clock.set(REPORT_DAY);
  }, 60_000);
  afterAll(async () => {
    await seed?.close();
  });

  it('names the expired, the one in grace and the one whose reads are spent, and not the one expiring later', async () => {
    const answer = await seed.report();
    expect(answer.status).toBe(200);
    const metric = ComplianceReport.parse(answer.body).metrics.find((m) => m.id === 'expired_secrets');
    const expiresAt = new Date(SEED_EPOCH + (REPORT_DAY - 1) * 86_400_000).toISOString();
    expect(metric).toMatchObject({ value: 3, unit: 'count', status: 'warning' });
    expect(metric?.details).toEqual([
      { name: 'app/in-grace', state: 'grace', expiresAt },
      { name: 'app/lapsed', state: 'expired', expiresAt },
      { name: 'app/read-once', state: 'expired', expiresAt: null },
    ]);
  });
});
