/**
 * The template path (leaf-template.ts) against the path it replaced: @peculiar/x509's X509CertificateGenerator fed
 * the same fields and the same extension objects the issuer built per certificate before. The TBSCertificate must
 * come out byte for byte the same (signatures differ: ECDSA is randomised), every extension the same field by
 * field, and the certificate must verify with @peculiar/x509 and openssl.
 */
import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaKeyType } from '../../../../lambdas/core/ports/ca-key-store.ts';
import { BACKDATE_MS } from '../../../../lambdas/engines/pki/ca-service.ts';
import { subjectKeyIdentifier, subjectName } from '../../../../lambdas/engines/pki/der.ts';
import type { CertRecord } from '../../../../lambdas/engines/pki/pki-records.ts';
import type { PkiRole, PkiRoleInput } from '../../../../lambdas/engines/pki/pki-role.ts';
import type { PkiService } from '../../../../lambdas/engines/pki/pki-service.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  type Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '../../../../lambdas/engines/pki/x509.ts';
import { DAY, openssl, pkiFixture, scratch } from './fixtures.ts';

const files = scratch();
afterAll(() => files.cleanup());

const NOW = Date.parse('2026-12-07T12:00:00Z');

/** The certificate the issuer built before the template, from the issued certificate's own variable fields. */
async function reference(
  issued: X509Certificate,
  issuerPem: string,
  role: PkiRole,
  crlUrl: string,
  names: { cn: string; dns: string[]; ips: string[] },
): Promise<X509Certificate> {
  const issuer = new X509Certificate(issuerPem);
  const keyId = issuer.getExtension(SubjectKeyIdentifierExtension)?.keyId;
  const spki = new Uint8Array(issued.publicKey.rawData);
  const EKU = {
    ServerAuth: ExtendedKeyUsage.serverAuth,
    ClientAuth: ExtendedKeyUsage.clientAuth,
    CodeSigning: ExtendedKeyUsage.codeSigning,
    EmailProtection: ExtendedKeyUsage.emailProtection,
    TimeStamping: ExtendedKeyUsage.timeStamping,
    OCSPSigning: ExtendedKeyUsage.ocspSigning,
  };
  const KU = {
    DigitalSignature: KeyUsageFlags.digitalSignature,
    ContentCommitment: KeyUsageFlags.nonRepudiation,
    KeyEncipherment: KeyUsageFlags.keyEncipherment,
    DataEncipherment: KeyUsageFlags.dataEncipherment,
    KeyAgreement: KeyUsageFlags.keyAgreement,
    EncipherOnly: KeyUsageFlags.encipherOnly,
    DecipherOnly: KeyUsageFlags.decipherOnly,
  };
  const extensions: Extension[] = [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(role.key_usage.reduce<number>((f, u) => f | KU[u], 0) as KeyUsageFlags, true),
    ...(role.ext_key_usage.length === 0
      ? []
      : [
          new ExtendedKeyUsageExtension(
            role.ext_key_usage.map((u) => EKU[u]),
            false,
          ),
        ]),
    new SubjectAlternativeNameExtension(
      [
        ...names.dns.map((value) => ({ type: 'dns' as const, value })),
        ...names.ips.map((value) => ({ type: 'ip' as const, value })),
      ],
      false,
    ),
    subjectKeyIdentifier(spki),
    ...(keyId === undefined ? [] : [new AuthorityKeyIdentifierExtension(keyId)]),
    new CRLDistributionPointsExtension([crlUrl]),
  ];
  // Any key of the issuer's algorithm signs: only the TBS is compared.
  const algorithm = signingAlgorithm(issuer);
  const keys = (await webcrypto.subtle.generateKey(algorithm.generate, false, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  return X509CertificateGenerator.create({
    serialNumber: issued.serialNumber,
    subject: subjectName(names.cn),
    issuer: issuer.subjectName,
    notBefore: new Date(NOW - BACKDATE_MS),
    notAfter: issued.notAfter,
    publicKey: spki,
    signingKey: keys.privateKey,
    signingAlgorithm: algorithm.sign,
    extensions,
  });
}

function signingAlgorithm(issuer: X509Certificate) {
  const key = issuer.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  if (key.name === 'ECDSA') {
    return {
      generate: { name: 'ECDSA', namedCurve: key.namedCurve! },
      sign: { name: 'ECDSA', hash: key.namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' },
    };
  }
  return {
    generate: {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: key.modulusLength!,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  };
}

function tbsOf(cert: X509Certificate): Buffer {
  const parsed = AsnConvert.parse(cert.rawData, Certificate);
  return Buffer.from(parsed.tbsCertificateRaw!);
}

function extensionFields(cert: X509Certificate) {
  return cert.extensions.map((e) => ({
    type: e.type,
    critical: e.critical,
    value: Buffer.from(e.value).toString('hex'),
  }));
}

/** Asserts the issued certificate equals the generator's, TBS byte for byte, and verifies under its issuer. */
async function expectSameAsGenerator(
  pki: PkiService,
  issuerPem: string,
  pem: string,
  roleName: string,
  names: { cn: string; dns: string[]; ips: string[] },
) {
  const issued = new X509Certificate(pem);
  const expected = await reference(issued, issuerPem, await pki.getRole(roleName), pki.crlUrl, names);
  expect(extensionFields(issued)).toEqual(extensionFields(expected));
  expect(issued.extensions.map((e) => e.type)).toContain('2.5.29.35');
  expect(issued.signatureAlgorithm).toEqual(expected.signatureAlgorithm);
  expect(issued.subject).toBe(expected.subject);
  expect(issued.issuer).toBe(expected.issuer);
  expect(tbsOf(issued).equals(tbsOf(expected))).toBe(true);
  const issuer = new X509Certificate(issuerPem);
  expect(await issued.verify({ publicKey: issuer.publicKey, signatureOnly: true })).toBe(true);
}

async function chain(pki: PkiService, caKeyType: CaKeyType, role: PkiRoleInput) {
  const root = await pki.generateRoot({ common_name: 'Template Root', key_type: caKeyType, ttl: 3650 * DAY });
  const intermediate = await pki.generateIntermediate({
    common_name: 'Template Intermediate',
    key_type: caKeyType,
    sign_with_root: true,
    ttl: 1825 * DAY,
  });
  await pki.putRole('web', role);
  return { root: root.certificate, intermediate: intermediate.certificate! };
}

const clock = { now: () => NOW };

describe('leaf certificates from the template', () => {
  it.each<CaKeyType>(['ec-p256', 'ec-p384', 'rsa-2048'])(
    'encode the same TBSCertificate as the generator under a %s CA, and openssl verifies the chain',
    async (caKeyType) => {
      const { pki } = pkiFixture({ clock });
      const { root, intermediate } = await chain(pki, caKeyType, {
        allowed_domains: ['example.com'],
        allow_subdomains: true,
        allow_ip_sans: true,
      });
      const issued = await pki.issue('web', {
        common_name: 'API.example.com',
        alt_names: ['www.example.com', '*.apps.example.com'],
        ip_sans: ['10.1.2.3', '2001:db8::1'],
        ttl: 3600,
      });
      await expectSameAsGenerator(pki, intermediate, issued.certificate, 'web', {
        cn: 'api.example.com',
        dns: ['api.example.com', 'www.example.com', '*.apps.example.com'],
        ips: ['10.1.2.3', '2001:db8::1'],
      });
      const r = files.write(`${caKeyType}-root.pem`, root);
      const i = files.write(`${caKeyType}-inter.pem`, intermediate);
      const l = files.write(`${caKeyType}-leaf.pem`, issued.certificate);
      // At the fixed clock's time: the certificate is valid from then on, for an hour.
      const at = String(Math.floor(NOW / 1000));
      expect(openssl(['verify', '-attime', at, '-CAfile', r, '-untrusted', i, l]).output).toContain(': OK');
    },
  );

  it('encodes a wildcard CN (not a PrintableString), no EKU and a one-bit key usage as the generator did', async () => {
    const { pki } = pkiFixture({ clock });
    const { intermediate } = await chain(pki, 'ec-p256', {
      allowed_domains: ['example.com'],
      allow_subdomains: true,
      key_usage: ['DigitalSignature'],
      ext_key_usage: [],
    });
    const issued = await pki.issue('web', { common_name: '*.example.com' });
    await expectSameAsGenerator(pki, intermediate, issued.certificate, 'web', {
      cn: '*.example.com',
      dns: ['*.example.com'],
      ips: [],
    });
    expect(new X509Certificate(issued.certificate).extensions.map((e) => e.type)).not.toContain('2.5.29.37');
  });

  it('keeps one template per role: two roles under one issuer each get their own usages', async () => {
    const { pki } = pkiFixture({ clock });
    const { intermediate } = await chain(pki, 'ec-p256', { allowed_domains: ['example.com'], allow_subdomains: true });
    await pki.putRole('client', {
      allowed_domains: ['example.com'],
      allow_subdomains: true,
      key_usage: ['DigitalSignature', 'ContentCommitment'],
      ext_key_usage: ['ClientAuth', 'EmailProtection'],
    });
    for (const roleName of ['web', 'client', 'web', 'client']) {
      const issued = await pki.issue(roleName, { common_name: `${roleName}.example.com` });
      await expectSameAsGenerator(pki, intermediate, issued.certificate, roleName, {
        cn: `${roleName}.example.com`,
        dns: [`${roleName}.example.com`],
        ips: [],
      });
    }
  });

  it('follows a change of issuer: root alone first, then the intermediate once it is set', async () => {
    const { pki } = pkiFixture({ clock });
    const root = await pki.generateRoot({ common_name: 'Only Root', key_type: 'ec-p256', ttl: 3650 * DAY });
    await pki.putRole('web', { allowed_domains: ['example.com'], allow_subdomains: true });
    const fromRoot = await pki.issue('web', { common_name: 'a.example.com' });
    expect(new X509Certificate(fromRoot.certificate).issuer).toBe('CN=Only Root');
    await expectSameAsGenerator(pki, root.certificate, fromRoot.certificate, 'web', {
      cn: 'a.example.com',
      dns: ['a.example.com'],
      ips: [],
    });
    const intermediate = await pki.generateIntermediate({
      common_name: 'Later Intermediate',
      key_type: 'ec-p256',
      sign_with_root: true,
      ttl: 365 * DAY,
    });
    const fromIntermediate = await pki.issue('web', { common_name: 'b.example.com' });
    expect(new X509Certificate(fromIntermediate.certificate).issuer).toBe('CN=Later Intermediate');
    await expectSameAsGenerator(pki, intermediate.certificate!, fromIntermediate.certificate, 'web', {
      cn: 'b.example.com',
      dns: ['b.example.com'],
      ips: [],
    });
  });

  it('signs a CSR through the same template', async () => {
    const { pki } = pkiFixture({ clock });
    const { intermediate } = await chain(pki, 'ec-p256', { allowed_domains: ['example.com'], allow_subdomains: true });
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const { Pkcs10CertificateRequestGenerator } = await import('../../../../lambdas/engines/pki/x509.ts');
    const csr = await Pkcs10CertificateRequestGenerator.create({
      name: 'CN=csr.example.com',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new SubjectAlternativeNameExtension([{ type: 'dns', value: 'alt.example.com' }])],
    });
    const signed = await pki.sign('web', { csr: csr.toString('pem') });
    await expectSameAsGenerator(pki, intermediate, signed.certificate, 'web', {
      cn: 'csr.example.com',
      dns: ['csr.example.com', 'alt.example.com'],
      ips: [],
    });
  });

  it('records the certificate as before, and its revocation reaches the CRL and the revocation port', async () => {
    const { pki, store } = pkiFixture({ clock, randomSerial: () => Buffer.from('9a'.repeat(16), 'hex') });
    await chain(pki, 'ec-p256', { allowed_domains: ['example.com'], allow_subdomains: true });
    // The root and the intermediate took the first serials; the CA serials are not tracked, so the leaf reuses it.
    const issued = await pki.issue('web', { common_name: 'rec.example.com', ttl: 7200 });
    expect(issued.serial_number).toBe('9a'.repeat(16));
    const intermediateRecord = (await store.get<{ keyRef: string }>('pki#ca', 'intermediate'))!.data;
    const item = await store.get<CertRecord>('pki#cert', issued.serial_number);
    expect(item?.data).toEqual({
      serial: '9a'.repeat(16),
      commonName: 'rec.example.com',
      role: 'web',
      issuerKeyRef: intermediateRecord.keyRef,
      issuedAt: NOW,
      notAfter: NOW + 7200_000,
      status: 'valid',
      certificate: issued.certificate,
    });
    // PEM as @peculiar/x509's toString('pem') wrote it: 64-column base64 lines, a trailing newline.
    expect(issued.certificate).toBe(`${new X509Certificate(issued.certificate).toString('pem')}\n`);
    const cert = new X509Certificate(issued.certificate);
    expect(cert.serialNumber).toBe('9a'.repeat(16));
    // A serial whose first byte has its high bit set is a positive INTEGER: a leading zero octet, as before.
    expect(Buffer.from(AsnConvert.parse(cert.rawData, Certificate).tbsCertificate.serialNumber).toString('hex')).toBe(
      `00${'9a'.repeat(16)}`,
    );
    expect(issued.expiration).toBe(new Date(NOW + 7200_000).toISOString());

    await pki.revoke(issued.serial_number);
    expect((await pki.certificate(issued.serial_number)).status).toBe('revoked');
    expect(await pki.revocationStatus(new Uint8Array(cert.rawData))).toBe('revoked');
    const crlText = openssl(['crl', '-noout', '-text', '-in', files.write('rec.crl', (await pki.crl()).crl)]).output;
    expect(crlText.toUpperCase()).toContain('9A'.repeat(16));
  });
});
