import { describe, expect, it } from 'vitest';
import { ConditionFailedError, type WriteOp } from '../../../../lambdas/core/ports/store.ts';
import { X509Certificate, X509Crl } from '../../../../lambdas/engines/pki/x509.ts';
import { pkiFixture, withChain } from './fixtures.ts';

type Transact = (ops: readonly WriteOp[]) => Promise<void>;

/** Makes the store refuse, as another writer would, the first `times` writes to partition `pk`; counts the tries. */
function conflictOn(store: { transact: Transact }, pk: string, times: number): { tries: number } {
  const transact = store.transact.bind(store);
  const seen = { tries: 0 };
  store.transact = async (ops) => {
    const op = ops.find((o) => o.pk === pk);
    if (op !== undefined) {
      seen.tries++;
      if (seen.tries <= times) throw new ConditionFailedError(0, op.pk, op.sk);
    }
    return transact(ops);
  };
  return seen;
}

describe('Class: CrlService (through PkiService)', () => {
  it('lists every certificate revoked concurrently in the one CRL, under distinct CRL numbers', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const issued = await Promise.all(
      ['a', 'b', 'c', 'd'].map((n) => pki.issue('web', { common_name: `${n}.example.com` })),
    );
    // Each revocation re-signs the CRL, so the four publications contend for the same item.
    const revoked = await Promise.all(issued.map((cert) => pki.revoke(cert.serial_number)));
    expect(new Set(revoked.map((r) => r.crl_number)).size).toBe(4);
    const crl = new X509Crl((await pki.crl()).crl);
    const listed = crl.entries.map((entry) => entry.serialNumber.toLowerCase());
    expect(listed.sort()).toEqual(issued.map((cert) => cert.serial_number).sort());
  });

  it('publishes once a conflicting CRL writer has finished, and gives up after 6 tries with the conflict', async () => {
    const { pki, store } = pkiFixture();
    await withChain(pki);
    const a = await pki.issue('web', { common_name: 'a.example.com' });
    const b = await pki.issue('web', { common_name: 'b.example.com' });
    const settles = conflictOn(store, 'pki#crl', 5);
    await pki.revoke(a.serial_number);
    expect(settles.tries).toBe(6);

    const never = conflictOn(store, 'pki#crl', Number.POSITIVE_INFINITY);
    await expect(pki.revoke(b.serial_number)).rejects.toThrow(ConditionFailedError);
    expect(never.tries).toBe(6);
  });

  it('re-reads a certificate whose record changed under a revocation, at most 4 tries', async () => {
    const { pki, store } = pkiFixture();
    await withChain(pki);
    const a = await pki.issue('web', { common_name: 'a.example.com' });
    const b = await pki.issue('web', { common_name: 'b.example.com' });
    const settles = conflictOn(store, 'pki#revoked', 3);
    expect((await pki.revoke(a.serial_number)).serial_number).toBe(a.serial_number);
    expect(settles.tries).toBe(4);

    const never = conflictOn(store, 'pki#revoked', Number.POSITIVE_INFINITY);
    await expect(pki.revoke(b.serial_number)).rejects.toThrow(ConditionFailedError);
    expect(never.tries).toBe(4);
    expect((await pki.certificate(b.serial_number)).status).toBe('valid');
  });

  it('tells certificate login which of its certificates it revoked, and knows nothing of another CA', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const kept = await pki.issue('web', { common_name: 'kept.example.com' });
    const gone = await pki.issue('web', { common_name: 'gone.example.com' });
    await pki.revoke(gone.serial_number);
    const der = (pem: string) => new Uint8Array(new X509Certificate(pem).rawData);
    expect(await pki.revocationStatus(der(kept.certificate))).toBe('good');
    expect(await pki.revocationStatus(der(gone.certificate))).toBe('revoked');

    // Another engine's CA of the very same names: its certificates are not ours, whatever their issuer says.
    const other = pkiFixture();
    await withChain(other.pki);
    const foreign = await other.pki.issue('web', { common_name: 'kept.example.com' });
    expect(await pki.revocationStatus(der(foreign.certificate))).toBe('unknown');
    expect(await pki.revocationStatus(new Uint8Array([1, 2, 3]))).toBe('unknown');
  });
});
