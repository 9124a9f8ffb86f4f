import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { SealedCaKeyStore } from '../../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import {
  AlreadyExistsError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../../../lambdas/core/errors.ts';
import { LEAF_KEY_TYPES } from '../../../../lambdas/engines/pki/pki-role.ts';
import { PkiService } from '../../../../lambdas/engines/pki/pki-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { DAY, openssl, pkiFixture, scratch, withChain } from './fixtures.ts';

const files = scratch();
afterAll(() => files.cleanup());

/** A CSR made by `openssl req`; returns its PEM. */
function opensslCsr(name: string, keyArgs: string[], subject: string, sans?: string): string {
  const out = `${files.dir}/${name}.csr`;
  const args = ['req', '-new', ...keyArgs, '-nodes', '-keyout', `${files.dir}/${name}.key`, '-subj', subject];
  if (sans !== undefined) args.push('-addext', `subjectAltName=${sans}`);
  const result = openssl([...args, '-out', out]);
  expect(result.status, result.output).toBe(0);
  return readFileSync(out, 'utf8');
}

function verifyChain(root: string, intermediate: string, leaf: string, tag: string): string {
  const r = files.write(`${tag}-root.pem`, root);
  const i = files.write(`${tag}-inter.pem`, intermediate);
  const l = files.write(`${tag}-leaf.pem`, leaf);
  return openssl(['verify', '-CAfile', r, '-untrusted', i, l]).output;
}

describe('PkiService: issue', () => {
  it.each(LEAF_KEY_TYPES)(
    'issues a %s certificate that openssl verifies, with the key returned once',
    async (keyType) => {
      const { pki, store } = pkiFixture();
      const { root, intermediate } = await withChain(pki, { key_type: keyType });
      const issued = await pki.issue('web', { common_name: 'svc.example.com', ttl: 3600 });
      expect(verifyChain(root, intermediate, issued.certificate, keyType)).toContain(': OK');
      expect(issued.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      expect(issued.private_key_type).toBe(keyType);
      expect(issued.ca_chain).toEqual([intermediate, root]);
      // The key belongs to the certificate.
      const cert = new NodeX509(issued.certificate);
      expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(issued.private_key))).toBe(true);
      // Not stored: nothing in the store holds the key.
      const stored = JSON.stringify((await store.query('pki#cert')).items);
      expect(stored).not.toContain(issued.private_key.split('\n')[1]);
      expect((await pki.certificate(issued.serial_number)).private_key_stored).toBe(false);
    },
  );

  it('refuses a name outside the role, saying which name and which rule', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const issue = (fields: { common_name: string; alt_names?: string[] }) => pki.issue('web', fields);
    await expect(issue({ common_name: 'api.evil.org' })).rejects.toThrow(PermissionDeniedError);
    await expect(issue({ common_name: 'api.example.com', alt_names: ['mail.evil.org'] })).rejects.toThrow(
      /name "mail\.evil\.org" is not allowed by the role: allowed_domains \[example\.com\]/,
    );
  });

  it('refuses a TTL beyond max_ttl, and one that would outlive the CA', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    await expect(pki.issue('web', { common_name: 'a.example.com', ttl: 4 * DAY })).rejects.toThrow(
      "ttl refused: 345600s exceeds the role's max_ttl of 259200s",
    );
    await pki.putRole('long', { allowed_domains: ['example.com'], allow_subdomains: true, max_ttl: '100000h' });
    await expect(pki.issue('long', { common_name: 'a.example.com', ttl: 4000 * DAY })).rejects.toThrow(
      /would outlive the issuing CA/,
    );
  });

  it('puts IP SANs in the certificate only when the role allows them', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    await expect(pki.issue('web', { common_name: 'a.example.com', ip_sans: ['10.1.2.3'] })).rejects.toThrow(
      'IP SAN 10.1.2.3 refused: the role has allow_ip_sans false',
    );
    await pki.putRole('ips', { allowed_domains: ['example.com'], allow_subdomains: true, allow_ip_sans: true });
    const issued = await pki.issue('ips', { common_name: 'a.example.com', ip_sans: ['10.1.2.3', '::1'] });
    const san = new NodeX509(issued.certificate).subjectAltName ?? '';
    expect(san).toContain('IP Address:10.1.2.3');
    expect(san).toContain('DNS:a.example.com');
  });

  it('applies key_usage and ext_key_usage, and refuses issue with key_type any', async () => {
    const { pki } = pkiFixture();
    await withChain(pki, { key_usage: ['DigitalSignature'], ext_key_usage: ['ClientAuth'] });
    const issued = await pki.issue('web', { common_name: 'a.example.com' });
    const text = openssl(['x509', '-noout', '-text', '-in', files.write('ku.pem', issued.certificate)]).output;
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(text).toContain('CA:FALSE');
    await pki.putRole('any', { allowed_domains: ['example.com'], allow_subdomains: true, key_type: 'any' });
    await expect(pki.issue('any', { common_name: 'a.example.com' })).rejects.toThrow(/only applies to sign/);
  });

  it('gives every certificate a unique 128-bit serial, and re-signs under a new one on a collision', async () => {
    const fixed = Buffer.from('7f'.repeat(16), 'hex');
    const fresh = Buffer.from('42'.repeat(16), 'hex');
    const sequence = [fixed, fixed, fixed, fresh];
    const { pki } = pkiFixture({
      randomSerial: () => sequence.shift() ?? Buffer.from(crypto.getRandomValues(new Uint8Array(16))),
    });
    await pki.generateRoot({ common_name: 'Root', key_type: 'ec-p256', ttl: 365 * DAY });
    // The root consumed the first value; the first leaf gets the second (the same bytes: a CA serial is not tracked).
    await pki.putRole('web', { allowed_domains: ['example.com'], allow_subdomains: true });
    const first = await pki.issue('web', { common_name: 'a.example.com' });
    expect(first.serial_number).toBe('7f'.repeat(16));
    const second = await pki.issue('web', { common_name: 'b.example.com' });
    expect(second.serial_number).toBe('42'.repeat(16));
    expect(new NodeX509(second.certificate).serialNumber.toLowerCase()).toBe('42'.repeat(16));

    const { pki: random } = pkiFixture();
    await withChain(random);
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++)
      serials.add((await random.issue('web', { common_name: `n${i}.example.com` })).serial_number);
    expect(serials.size).toBe(20);
    for (const s of serials) expect(s).toMatch(/^[0-9a-f]{32}$/);
  });

  it('stores the private key sealed when the role asks, and only then', async () => {
    const { pki, store } = pkiFixture();
    await withChain(pki, { store_private_key: true });
    const issued = await pki.issue('web', { common_name: 'a.example.com' });
    const body = issued.private_key.split('\n').slice(1, -2).join('');
    const raw = JSON.stringify((await store.query('pki#cert')).items);
    expect(raw).not.toContain(body.slice(0, 40));
    expect(raw).toContain('sealedKey');
    expect((await pki.certificate(issued.serial_number)).private_key_stored).toBe(true);
    expect((await pki.storedPrivateKey(issued.serial_number)).private_key).toBe(issued.private_key);
  });
});

describe('PkiService: sign', () => {
  it('signs a CSR from openssl req, taking CN and SANs from it', async () => {
    const { pki } = pkiFixture();
    const { root, intermediate } = await withChain(pki);
    const csr = opensslCsr(
      'ec',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '/CN=app.example.com',
      'DNS:www.example.com',
    );
    const signed = await pki.sign('web', { csr });
    expect(verifyChain(root, intermediate, signed.certificate, 'csr')).toContain(': OK');
    const cert = new NodeX509(signed.certificate);
    expect(cert.subject).toContain('CN=app.example.com');
    expect(cert.subjectAltName).toContain('DNS:www.example.com');
    expect(signed).not.toHaveProperty('private_key');
  });

  it('refuses a CSR whose names the role does not allow', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const csr = opensslCsr(
      'foreign',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '/CN=app.example.com',
      'DNS:evil.org',
    );
    await expect(pki.sign('web', { csr })).rejects.toThrow(/name "evil\.org" is not allowed/);
  });

  it('refuses a CSR with a broken signature (no proof of possession)', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const csr = opensslCsr('broken', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=app.example.com');
    const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 3]! ^= 0x01;
    const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(pki.sign('web', { csr: broken })).rejects.toThrow(
      'CSR refused: its signature does not verify (no proof of possession)',
    );
    await expect(pki.sign('web', { csr: 'not a csr' })).rejects.toThrow(ValidationError);
  });

  it('refuses weak and unsupported keys, naming the rule', async () => {
    const { pki } = pkiFixture();
    await withChain(pki, { key_type: 'any' });
    const weak = opensslCsr('rsa1024', ['-newkey', 'rsa:1024'], '/CN=app.example.com');
    await expect(pki.sign('web', { csr: weak })).rejects.toThrow(
      'weak key refused: RSA 1024 bits is below the 2048-bit minimum',
    );
    const p521 = opensslCsr(
      'p521',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1'],
      '/CN=app.example.com',
    );
    await expect(pki.sign('web', { csr: p521 })).rejects.toThrow(/EC curve secp521r1 is not supported/);
    const rsa = opensslCsr('rsa2048', ['-newkey', 'rsa:2048'], '/CN=app.example.com');
    await expect(pki.sign('web', { csr: rsa })).resolves.toHaveProperty('certificate');
  });

  it('signs an Ed25519 CSR under an ed25519 role', async () => {
    const { pki } = pkiFixture();
    const { root, intermediate } = await withChain(pki, { key_type: 'ed25519' });
    const csr = opensslCsr('ed25519', ['-newkey', 'ed25519'], '/CN=ed.example.com');
    const signed = await pki.sign('web', { csr });
    expect(verifyChain(root, intermediate, signed.certificate, 'ed25519-csr')).toContain(': OK');
  });

  it("refuses a CSR key that does not match the role's key_type", async () => {
    const { pki } = pkiFixture();
    await withChain(pki, { key_type: 'ec-p384' });
    const p256 = opensslCsr('p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=app.example.com');
    await expect(pki.sign('web', { csr: p256 })).rejects.toThrow(
      "the role's key_type is ec-p384, the CSR's key is ec-p256",
    );
  });
});

describe('PkiService: CAs', () => {
  it('works behind the data-key cache: re-opening CA keys and stored keys never spoils cached data keys', async () => {
    const { pki } = pkiFixture({ caching: true });
    // Creating, then re-opening, the root and the intermediate keys all go through cached data keys.
    await withChain(pki, { store_private_key: true });
    const issued = await pki.issue('web', { common_name: 'a.example.com' });
    expect((await pki.storedPrivateKey(issued.serial_number)).private_key).toBe(issued.private_key);
    expect((await pki.storedPrivateKey(issued.serial_number)).private_key).toBe(issued.private_key);
    await expect(pki.issue('web', { common_name: 'b.example.com' })).resolves.toHaveProperty('certificate');
  });

  it('keeps one root: a second generate is refused', async () => {
    const { pki } = pkiFixture();
    await pki.generateRoot({ common_name: 'Root', key_type: 'ec-p256', ttl: DAY });
    await expect(pki.generateRoot({ common_name: 'Root 2', key_type: 'ec-p256', ttl: DAY })).rejects.toThrow(
      AlreadyExistsError,
    );
  });

  it('issues from the root alone when there is no intermediate', async () => {
    const { pki } = pkiFixture();
    const root = await pki.generateRoot({ common_name: 'Root', key_type: 'rsa-2048', ttl: 30 * DAY });
    await pki.putRole('web', { allowed_domains: ['example.com'], allow_subdomains: true });
    const issued = await pki.issue('web', { common_name: 'a.example.com' });
    expect(issued.ca_chain).toEqual([root.certificate]);
    const out = openssl([
      'verify',
      '-CAfile',
      files.write('ro.pem', root.certificate),
      files.write('rl.pem', issued.certificate),
    ]);
    expect(out.output).toContain(': OK');
  });

  it('exports the intermediate CSR to an external CA and imports the signed certificate, checking it matches', async () => {
    const { pki } = pkiFixture();
    const ext = `${files.dir}/external`;
    expect(
      openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${ext}.key`,
        '-subj',
        '/CN=External Root',
        '-days',
        '30',
        '-out',
        `${ext}.pem`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]).status,
    ).toBe(0);
    const extFile = files.write(
      'ca-ext.cnf',
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n',
    );
    const signWithExternal = (csrPem: string, tag: string): string => {
      const csrFile = files.write(`${tag}.csr`, csrPem);
      const out = `${files.dir}/${tag}.pem`;
      const result = openssl([
        'x509',
        '-req',
        '-in',
        csrFile,
        '-CA',
        `${ext}.pem`,
        '-CAkey',
        `${ext}.key`,
        '-set_serial',
        '7',
        '-days',
        '10',
        '-extfile',
        extFile,
        '-out',
        out,
      ]);
      expect(result.status, result.output).toBe(0);
      return readFileSync(out, 'utf8');
    };
    const generated = await pki.generateIntermediate({
      common_name: 'Ext Intermediate',
      key_type: 'ec-p384',
      sign_with_root: false,
      ttl: DAY,
    });
    expect(generated.certificate).toBeUndefined();
    const externalRoot = readFileSync(`${ext}.pem`, 'utf8');

    // A CA certificate for some other key is refused.
    const otherCsr = opensslCsr('other-ca', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], '/CN=Other');
    await expect(
      pki.setIntermediateCertificate({ certificate: signWithExternal(otherCsr, 'other'), chain: [externalRoot] }),
    ).rejects.toThrow("the certificate's public key does not match the intermediate CA's key");
    // Ours, but claimed to come from a chain that did not sign it.
    const ours = signWithExternal(generated.csr, 'ours');
    const { pki: otherPki } = pkiFixture();
    const foreignRoot = await otherPki.generateRoot({ common_name: 'Foreign', key_type: 'ec-p256', ttl: DAY });
    await expect(
      pki.setIntermediateCertificate({ certificate: ours, chain: [foreignRoot.certificate] }),
    ).rejects.toThrow('the certificate is not signed by the first certificate of the chain');

    await pki.setIntermediateCertificate({ certificate: ours, chain: [externalRoot] });
    await pki.putRole('web', { allowed_domains: ['example.com'], allow_subdomains: true });
    const issued = await pki.issue('web', { common_name: 'x.example.com' });
    expect(issued.ca_chain.map((pem) => new NodeX509(pem).fingerprint256)).toEqual(
      [ours, externalRoot].map((pem) => new NodeX509(pem).fingerprint256),
    );
    expect(verifyChain(externalRoot, ours, issued.certificate, 'external')).toContain(': OK');
    const ca = await pki.caChain();
    expect(ca.ca_chain).toHaveLength(2);
  });

  it('keeps the local CA key sealed: another key provider cannot open it; a rotated one re-wraps it', async () => {
    const { pki, store, keyProvider, clock } = pkiFixture();
    await withChain(pki);
    const keys = (await store.query('pki#ca-key')).items;
    expect(keys).toHaveLength(2);
    for (const key of keys)
      expect(Object.keys(key.data).sort()).toEqual(['blob', 'createdAt', 'keyType', 'label', 'spki', 'wrapped']);
    const stranger = new SealedCaKeyStore({ store, keyProvider: new FakeKeyProvider(), clock });
    await expect(stranger.open(keys[0]!.sk, 'ec-p256')).rejects.toMatchObject({ code: 'decryption_failure' });

    const caKeys = new SealedCaKeyStore({ store, keyProvider, clock });
    const old = keyProvider.describe().keyId;
    keyProvider.rotate();
    expect((await caKeys.rewrapAll()).rewrapped).toBe(2);
    keyProvider.retire(old);
    const restarted = new PkiService({ store, keyProvider, caKeys, clock, publicUrl: 'http://127.0.0.1:8270' });
    await expect(restarted.issue('web', { common_name: 'after.example.com' })).resolves.toHaveProperty('certificate');
  });
});

describe('PkiService: revocation, CRL, tidy', () => {
  it('publishes CRLs with an increasing number; revoking twice is a no-op; unknown serials are not found', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const a = await pki.issue('web', { common_name: 'a.example.com' });
    const b = await pki.issue('web', { common_name: 'b.example.com' });
    const first = await pki.crl();
    const r1 = await pki.revoke(a.serial_number);
    const r2 = await pki.revoke(b.serial_number.toUpperCase().match(/../g)!.join(':'));
    expect(r1.crl_number).toBeGreaterThan(first.crl_number);
    expect(r2.crl_number).toBeGreaterThan(r1.crl_number);
    expect((await pki.revoke(a.serial_number)).crl_number).toBe(r2.crl_number);
    const text = openssl(['crl', '-noout', '-text', '-in', files.write('crl.pem', (await pki.crl()).crl)]).output;
    expect(text).toContain(a.serial_number.toUpperCase());
    expect(text).toContain(b.serial_number.toUpperCase());
    expect(text).toMatch(new RegExp(`X509v3 CRL Number:\\s+${r2.crl_number}`));
    expect(text).toMatch(/Issuer: CN ?= ?Coffer Test Intermediate/);
    await expect(pki.revoke('ab'.repeat(16))).rejects.toThrow(NotFoundError);
    const intermediateText = openssl([
      'x509',
      '-noout',
      '-text',
      '-in',
      files.write('i.pem', (await pki.caChain()).certificate),
    ]).output;
    expect(intermediateText).not.toContain('CRL Distribution Points');
    expect((await pki.certificate(a.serial_number)).status).toBe('revoked');
  });

  it('re-signs the CRL on a repeated revoke when the first one recorded the revocation but not its CRL', async () => {
    const { pki, store } = pkiFixture();
    await withChain(pki);
    const cert = await pki.issue('web', { common_name: 'a.example.com' });
    await pki.crl();
    const transact = store.transact.bind(store);
    let failCrlWrite = true;
    store.transact = async (ops) => {
      if (failCrlWrite && ops.some((op) => op.pk === 'pki#crl')) {
        failCrlWrite = false;
        throw new Error('disk full');
      }
      return transact(ops);
    };
    await expect(pki.revoke(cert.serial_number)).rejects.toThrow('disk full');
    expect((await pki.certificate(cert.serial_number)).status).toBe('revoked');
    await pki.revoke(cert.serial_number);
    const text = openssl(['crl', '-noout', '-text', '-in', files.write('retry.pem', (await pki.crl()).crl)]).output;
    expect(text).toContain(cert.serial_number.toUpperCase());
  });

  it('tidy removes expired certificates from the index and, after expiry, from the CRL', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { pki } = pkiFixture({ clock: { now: () => now } });
    await withChain(pki);
    const short = await pki.issue('web', { common_name: 'short.example.com', ttl: 3600 });
    const long = await pki.issue('web', { common_name: 'long.example.com', ttl: 2 * DAY });
    await pki.revoke(short.serial_number);
    await pki.revoke(long.serial_number);
    now += 2 * 3600 * 1000;
    expect(await pki.tidy(0)).toEqual({ removed: 1, removed_from_crl: 1 });
    await expect(pki.certificate(short.serial_number)).rejects.toThrow(NotFoundError);
    expect((await pki.certificate(long.serial_number)).status).toBe('revoked');
    const text = openssl(['crl', '-noout', '-text', '-in', files.write('tidy.pem', (await pki.crl()).crl)]).output;
    expect(text).not.toContain(short.serial_number.toUpperCase());
    expect(text).toContain(long.serial_number.toUpperCase());
    // Inside the default 72 h safety buffer nothing more goes.
    now += 2 * DAY * 1000;
    expect(await pki.tidy()).toEqual({ removed: 0, removed_from_crl: 0 });
  });

  it('re-signs a CRL once half its lifetime has passed', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { pki } = pkiFixture({ clock: { now: () => now }, crlLifetimeSeconds: 3600 });
    await withChain(pki);
    const first = await pki.crl();
    now += 10 * 60 * 1000;
    expect((await pki.crl()).crl_number).toBe(first.crl_number);
    now += 30 * 60 * 1000;
    const renewed = await pki.crl();
    expect(renewed.crl_number).toBe(first.crl_number + 1);
    expect(Date.parse(renewed.next_update) - Date.parse(renewed.this_update)).toBe(3600 * 1000);
  });
});

describe('PkiService: key identifiers', () => {
  it('sets the subject key identifier to the SHA-1 of the public key bits (RFC 5280 method 1), and chains AKI to it', async () => {
    const { pki } = pkiFixture();
    const { intermediate } = await withChain(pki);
    const issued = await pki.issue('web', { common_name: 'a.example.com' });
    const leaf = new NodeX509(issued.certificate);
    // For an EC key the subjectPublicKey bits are the uncompressed point 04 || x || y.
    const jwk = leaf.publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    const expected = createHash('sha1').update(point).digest('hex').toUpperCase().match(/../g)!.join(':');
    const text = (pem: string, name: string) =>
      openssl(['x509', '-noout', '-text', '-in', files.write(name, pem)]).output;
    const leafText = text(issued.certificate, 'ski-leaf.pem');
    expect(/Subject Key Identifier:\s+([0-9A-F:]+)/.exec(leafText)?.[1]).toBe(expected);
    const interSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text(intermediate, 'ski-inter.pem'))?.[1];
    expect(/Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(leafText)?.[1]).toBe(interSki);
  });
});
