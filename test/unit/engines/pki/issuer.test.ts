import { describe, expect, it } from 'vitest';
import { ConditionFailedError } from '../../../../lambdas/core/ports/store.ts';
import { pkiFixture, withChain } from './fixtures.ts';

describe('Class: CertificateIssuer (through PkiService)', () => {
  it('gives up after 5 serials that are all taken, recording nothing', async () => {
    const taken = Buffer.from('5a'.repeat(16), 'hex');
    let draws = 0;
    const { pki } = pkiFixture({
      randomSerial: () => {
        draws++;
        return taken;
      },
    });
    await withChain(pki);
    await pki.issue('web', { common_name: 'a.example.com' });
    const before = draws;
    await expect(pki.issue('web', { common_name: 'b.example.com' })).rejects.toThrow(ConditionFailedError);
    expect(draws - before).toBe(5);
    expect(await pki.listCertificates()).toHaveLength(1);
  });
});
