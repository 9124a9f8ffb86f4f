/** Certificates for certificate-login tests, made with @peculiar/x509: a CA and the client certificates it signs. */
import { webcrypto } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  Extension,
  type JsonGeneralNames,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  X509CrlGenerator,
} from '../../../../../lambdas/core/auth/cert/x509.ts';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface TestCa {
  readonly pem: string;
  readonly subject: string;
  issue(options?: ClientOptions): Promise<TestClient>;
  /** A CRL of this CA listing `serials` (PEM). */
  crl(serials: readonly string[]): Promise<string>;
}

export interface TestClient {
  readonly pem: string;
  readonly der: Uint8Array;
  readonly serial: string;
  /** PKCS#8 PEM of the certificate's key, when asked for with `withKey`. */
  readonly keyPem?: string;
}

export interface ClientOptions {
  readonly subject?: string;
  readonly dns?: readonly string[];
  readonly emails?: readonly string[];
  readonly uris?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly usage?: 'client' | 'server' | 'none';
  readonly serial?: string;
  readonly extraExtensionOids?: readonly string[];
  readonly withKey?: boolean;
}

let counter = 0x1000;
const nextSerial = () => `7e${(counter++).toString(16).padStart(30, '0')}`;

/** A self-signed CA valid from a day before `now` for a year. */
export async function makeCa(now: number, name = 'Test Client CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    pem: ca.toString('pem'),
    subject: ca.subject,
    async crl(serials: readonly string[]) {
      const crl = await X509CrlGenerator.create({
        issuer: ca.subject,
        thisUpdate: new Date(now - 60_000),
        nextUpdate: new Date(now + DAY),
        entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(now - 60_000) })),
        signingKey: keys.privateKey,
        signingAlgorithm: SIGNING,
      });
      return crl.toString('pem');
    },
    async issue(options: ClientOptions = {}) {
      const leafKeys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const names: JsonGeneralNames = [
        ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
        ...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })),
        ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
      ];
      const usage = options.usage ?? 'client';
      const serial = options.serial ?? nextSerial();
      const cert = await X509CertificateGenerator.create({
        serialNumber: serial,
        subject: options.subject ?? 'CN=payments.internal',
        issuer: ca.subject,
        notBefore: options.notBefore ?? new Date(now - DAY),
        notAfter: options.notAfter ?? new Date(now + 30 * DAY),
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: SIGNING,
        extensions: [
          new BasicConstraintsExtension(false, undefined, true),
          new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
          ...(usage === 'none'
            ? []
            : [
                new ExtendedKeyUsageExtension([
                  usage === 'client' ? ExtendedKeyUsage.clientAuth : ExtendedKeyUsage.serverAuth,
                ]),
              ]),
          ...(names.length === 0 ? [] : [new SubjectAlternativeNameExtension(names)]),
          await SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
          await AuthorityKeyIdentifierExtension.create(keys.publicKey),
          // An empty OCTET STRING's worth of value: only the OID matters to required_extensions.
          ...(options.extraExtensionOids ?? []).map((oid) => new Extension(oid, false, new Uint8Array([0x05, 0x00]))),
        ],
      });
      const keyPem = options.withKey
        ? PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey), 'PRIVATE KEY')
        : undefined;
      return {
        pem: cert.toString('pem'),
        der: new Uint8Array(cert.rawData),
        serial,
        ...(keyPem === undefined ? {} : { keyPem }),
      };
    },
  };
}
