import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  X509Certificate as NodeX509Certificate,
  timingSafeEqual,
} from 'node:crypto';
import { RotationStepError } from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import { BasicConstraintsExtension, X509Certificate } from '../../pki/x509.ts';

/**
 * The SecretString of a certificate secret. `chain` is the issuing CA chain (issuing CA first, root last) and
 * `fullChain` the leaf followed by it, ready for a TLS server's certificate file.
 */
export interface CertificateValue {
  readonly certificate: string;
  readonly privateKey: string;
  readonly chain: readonly string[];
  readonly fullChain: string;
  /** Lower-case hex, as the PKI engine names serials. */
  readonly serialNumber: string;
  /** ISO 8601. */
  readonly notBefore: string;
  /** ISO 8601. */
  readonly notAfter: string;
}

/** Builds the secret value from a freshly issued certificate, its key and the issuing chain. */
export function certificateValue(certificatePem: string, privateKeyPem: string, chain: readonly string[]): SecretValue {
  const cert = parseCertificate(certificatePem, 'certificate');
  const value: CertificateValue = {
    certificate: certificatePem,
    privateKey: privateKeyPem,
    chain: [...chain],
    fullChain: [certificatePem, ...chain].join(''),
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
  return { kind: 'string', string: JSON.stringify(value) };
}

/**
 * Reads a certificate secret value. Messages name the field that is wrong and never echo the value (it holds the
 * private key).
 * @throws RotationStepError
 */
export function readCertificateValue(value: SecretValue, what: string): CertificateValue {
  if (value.kind !== 'string') throw new RotationStepError(`${what}: not a certificate value (binary, not JSON)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.string);
  } catch {
    throw new RotationStepError(`${what}: not a certificate value (not JSON)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RotationStepError(`${what}: not a certificate value (not a JSON object)`);
  }
  const record = parsed as Record<string, unknown>;
  for (const field of ['certificate', 'privateKey', 'fullChain', 'serialNumber', 'notBefore', 'notAfter'] as const) {
    if (typeof record[field] !== 'string' || record[field] === '') {
      throw new RotationStepError(`${what}: field ${field} is missing or not a string`);
    }
  }
  const chain = record.chain;
  if (!Array.isArray(chain) || chain.length === 0 || !chain.every((pem) => typeof pem === 'string')) {
    throw new RotationStepError(`${what}: field chain must be a non-empty array of PEM certificates`);
  }
  return record as unknown as CertificateValue;
}

/**
 * The serial and lifetime of the certificate in a value, read from the certificate itself (the JSON fields beside
 * it are a convenience for readers, not the authority). Undefined when the value holds no certificate, e.g. a
 * placeholder put before the first rotation.
 */
export function certificateFacts(
  value: SecretValue,
): { serial: string; notBefore: number; notAfter: number } | undefined {
  if (value.kind !== 'string') return undefined;
  let pem: unknown;
  try {
    pem = (JSON.parse(value.string) as { certificate?: unknown } | null)?.certificate;
  } catch {
    return undefined;
  }
  if (typeof pem !== 'string') return undefined;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  return {
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}

/**
 * Checks that the leaf verifies, link by link, through `chain` up to `anchor` (the PKI engine's own top
 * certificate, trusted by identity rather than by what the value claims), with every certificate valid at `now`
 * and every issuer a CA.
 * @throws RotationStepError starting with `chain:`
 */
export async function verifyChain(
  leafPem: string,
  chainPems: readonly string[],
  anchorPem: string,
  now: number,
): Promise<void> {
  const leaf = parseCertificate(leafPem, 'certificate', 'chain');
  const chain = chainPems.map((pem, i) => parseCertificate(pem, `chain[${i}]`, 'chain'));
  const anchor = parseCertificate(anchorPem, 'the PKI engine CA certificate', 'chain');
  const path = [leaf, ...chain];
  for (let i = 0; i < chain.length; i++) {
    const child = path[i]!;
    const issuer = chain[i]!;
    const childName = i === 0 ? 'certificate' : `chain[${i - 1}]`;
    if (child.issuer !== issuer.subject) {
      throw new RotationStepError(`chain: ${childName} is not issued by chain[${i}] (issuer name differs)`);
    }
    if (issuer.getExtension(BasicConstraintsExtension)?.ca !== true) {
      throw new RotationStepError(`chain: chain[${i}] is not a CA certificate (basicConstraints)`);
    }
    const signed = await child.verify({ publicKey: issuer.publicKey, signatureOnly: true }).catch(() => false);
    if (!signed) throw new RotationStepError(`chain: the signature of ${childName} does not verify with chain[${i}]`);
    if (now < issuer.notBefore.getTime() || now >= issuer.notAfter.getTime()) {
      throw new RotationStepError(
        `chain: chain[${i}] is not valid at ${new Date(now).toISOString()} (valid ` +
          `${issuer.notBefore.toISOString()} to ${issuer.notAfter.toISOString()})`,
      );
    }
  }
  const top = chain.at(-1)!;
  if (!sameBytes(top.rawData, anchor.rawData)) {
    throw new RotationStepError("chain: it does not end at the PKI engine's CA certificate (foreign or stale CA)");
  }
}

/**
 * Checks that the private key is the certificate's: the public key derived from it must equal the certificate's
 * subject public key. Neither the key nor the parser's message (which might quote it) reaches the error.
 * @throws RotationStepError starting with `key mismatch:`
 */
export function verifyKeyMatch(certificatePem: string, privateKeyPem: string): void {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch {
    throw new RotationStepError('key mismatch: privateKey is not a PEM private key');
  }
  let certificateKey: KeyObject;
  try {
    certificateKey = new NodeX509Certificate(certificatePem).publicKey;
  } catch {
    throw new RotationStepError('key mismatch: the certificate public key cannot be read');
  }
  if (!createPublicKey(privateKey).equals(certificateKey)) {
    throw new RotationStepError("key mismatch: privateKey does not match the certificate's public key");
  }
}

function parseCertificate(pem: string, field: string, prefix?: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new RotationStepError(`${prefix === undefined ? '' : `${prefix}: `}${field} is not a PEM X.509 certificate`);
  }
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(new Uint8Array(a), new Uint8Array(b));
}
