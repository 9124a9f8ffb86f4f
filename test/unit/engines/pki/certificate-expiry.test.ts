import { describe, expect, it } from 'vitest';
import { ExpirySweep } from '../../../../lambdas/core/secrets/expiration/expiry-sweep.ts';
import { certificateExpirySource } from '../../../../lambdas/engines/pki/certificate-expiry.ts';
import { pkiFixture, withChain } from './fixtures.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function setup() {
  let time = Date.UTC(2026, 3, 1);
  const clock = { now: () => time };
  const { pki, store } = pkiFixture({ clock });
  const published: { detailType: string; detail: Record<string, unknown> }[] = [];
  const sweep = new ExpirySweep({
    store,
    clock,
    events: {
      async publish(detailType, detail) {
        published.push({ detailType, detail: { ...detail } });
      },
    },
    sources: async () => [certificateExpirySource(store)],
  });
  return { pki, sweep, published, advance: (ms: number) => (time += ms), now: () => time };
}

describe('Certificate expiry events', () => {
  it('publishes CertificateExpiring at the lead times within its life, then CertificateExpired at notAfter', async () => {
    const { pki, sweep, published, advance, now } = setup();
    await withChain(pki);
    const issued = await pki.issue('web', { common_name: 'svc.example.com', ttl: 48 * 3600 });
    const notAfter = now() + 48 * HOUR;
    expect(new Date(issued.expiration).getTime()).toBe(notAfter);

    await sweep.sweep();
    expect(published).toEqual([]);
    advance(DAY); // one day left: 30d and 7d were never within its life
    await sweep.sweep();
    await sweep.sweep();
    expect(published).toEqual([
      {
        detailType: 'CertificateExpiring',
        detail: expect.objectContaining({
          serialNumber: issued.serial_number,
          commonName: 'svc.example.com',
          role: 'web',
          leadTimeSeconds: 86_400,
          notAfter: new Date(notAfter).toISOString(),
        }),
      },
    ]);
    advance(DAY);
    await sweep.sweep();
    expect(published.map((p) => p.detailType)).toEqual(['CertificateExpiring', 'CertificateExpired']);
    expect(JSON.stringify(published)).not.toContain('PRIVATE KEY');
  });

  it('names the certificate secret a certificate was issued for', async () => {
    const { pki, sweep, published, advance } = setup();
    await withChain(pki);
    await pki.issue('web', { common_name: 'api.example.com', ttl: 48 * 3600, forSecret: 'prod/api/tls' });
    advance(2 * DAY);
    await sweep.sweep();
    expect(published.map((p) => [p.detailType, p.detail.secretName])).toEqual([
      ['CertificateExpiring', 'prod/api/tls'],
      ['CertificateExpired', 'prod/api/tls'],
    ]);
  });

  it('says nothing of a certificate revoked before its end', async () => {
    const { pki, sweep, published, advance } = setup();
    await withChain(pki);
    const issued = await pki.issue('web', { common_name: 'gone.example.com', ttl: 48 * 3600 });
    await pki.revoke(issued.serial_number);
    advance(3 * DAY);
    expect(await sweep.sweep()).toEqual({ published: 0, dropped: 2, failed: 0 });
    expect(published).toEqual([]);
  });
});
