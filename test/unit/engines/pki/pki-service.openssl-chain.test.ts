import { afterEach, describe, expect, it } from 'vitest';
import { openssl, pkiFixture, scratch, withChain } from './fixtures.ts';

describe('PKI chains checked by openssl', () => {
  const dirs: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of dirs.splice(0)) cleanup();
  });

  it('issues a chain openssl verify accepts, and rejects once revoked with the CRL', async () => {
    const { pki } = pkiFixture();
    const { root, intermediate } = await withChain(pki);
    const issued = await pki.issue('web', { common_name: 'api.example.com', alt_names: ['www.example.com'] });
    const files = scratch();
    dirs.push(files.cleanup);
    const rootFile = files.write('root.pem', root);
    const interFile = files.write('inter.pem', intermediate);
    const leafFile = files.write('leaf.pem', issued.certificate);
    const ok = openssl(['verify', '-CAfile', rootFile, '-untrusted', interFile, leafFile]);
    expect(ok.output).toContain(': OK');
    expect(ok.status).toBe(0);

    const before = await pki.crl();
    const revoked = await pki.revoke(issued.serial_number);
    expect(revoked.crl_number).toBeGreaterThan(before.crl_number);
    const crl = await pki.crl();
    const crlFile = files.write('crl.pem', crl.crl);
    const good = openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      rootFile,
      '-untrusted',
      interFile,
      '-CRLfile',
      crlFile,
      leafFile,
    ]);
    expect(good.status).not.toBe(0);
    expect(good.output).toContain('certificate revoked');

    const text = openssl(['x509', '-in', leafFile, '-noout', '-text']).output;
    expect(text).toContain('URI:http://127.0.0.1:8270/v1/pki/crl');
    expect(text).toContain('DNS:api.example.com');
    expect(text).toContain('DNS:www.example.com');
  });
});
