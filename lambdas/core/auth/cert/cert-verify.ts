/**
 * Checks of a client certificate against a certificate role: dates, a real signature from one of the role's trust
 * anchors, key usage, names and extensions. Revocation is the method's (it needs the PKI port).
 */
import { globMatch } from '../methods/globs.ts';
import { type CertRole, isCrlPem } from './cert-config.ts';
import { CertLoginError } from './cert-errors.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509Crl,
} from './x509.ts';

/**
 * The certificates of a PEM bundle, or undefined when the text holds anything that is not a readable certificate
 * (as `certificateBlocks` in `cert-config.ts`, here with the library the checks below use).
 */
export function parseCertificateBundle(pem: string): X509Certificate[] | undefined {
  const blocks = pem.match(/-----BEGIN [^-]+-----/g) ?? [];
  if (blocks.length === 0 || blocks.some((block) => block !== '-----BEGIN CERTIFICATE-----')) return undefined;
  try {
    return PemConverter.decode(pem).map((der) => new X509Certificate(der));
  } catch {
    return undefined;
  }
}

/** A CRL in PEM (`BEGIN X509 CRL`, or `BEGIN CRL`), or undefined when the text is not one readable CRL. */
export function parseCrl(pem: string): X509Crl | undefined {
  if (!isCrlPem(pem)) return undefined;
  try {
    return new X509Crl(pem);
  } catch {
    return undefined;
  }
}

/** The names and identifiers of a client certificate that roles bind and token metadata carries. */
export interface CertificateFacts {
  readonly commonName: string;
  readonly dnsSans: readonly string[];
  readonly emailSans: readonly string[];
  readonly uriSans: readonly string[];
  readonly organizationalUnits: readonly string[];
  /** Lower-case hex without the DER sign byte, as `coffer pki` shows serials. */
  readonly serial: string;
  /** Colon-separated hex (as Vault shows them); empty when the certificate has none. */
  readonly subjectKeyId: string;
  readonly authorityKeyId: string;
}

/** @throws CertLoginError `malformed` when the bytes are not an X.509 certificate */
export function readClientCertificate(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new CertLoginError('malformed', 'the client certificate cannot be read');
  }
}

export function factsOf(cert: X509Certificate): CertificateFacts {
  const sans = cert.getExtension(SubjectAlternativeNameExtension)?.names.items ?? [];
  const of = (type: string) => sans.filter((name) => name.type === type).map((name) => name.value);
  const colons = (hex: string | undefined) => (hex ?? '').toLowerCase().replace(/(..)(?=.)/g, '$1:');
  return {
    commonName: cert.subjectName.getField('CN')[0] ?? '',
    dnsSans: of('dns'),
    emailSans: of('email'),
    uriSans: of('url'),
    organizationalUnits: cert.subjectName.getField('OU'),
    serial: cert.serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f])/, ''),
    subjectKeyId: colons(cert.getExtension(SubjectKeyIdentifierExtension)?.keyId),
    authorityKeyId: colons(cert.getExtension(AuthorityKeyIdentifierExtension)?.keyId),
  };
}

/**
 * Checks `cert` against `role` at `now`, in the order an operator debugs them: dates, trust, usage, names, extensions.
 * Trust: the certificate is one of the role's certificates (pinned), or one of them that is a CA valid at `now`
 * issued it (names match and the signature verifies). Every certificate in the role is a trust anchor of its own, as
 * in Vault: put the issuing intermediate in the role, not only the root, since the client sends only its own
 * certificate here.
 *
 * @returns the anchor that vouched for the certificate
 * @throws CertLoginError naming the failed check
 */
export async function checkCertificate(cert: X509Certificate, role: CertRole, now: number): Promise<X509Certificate> {
  if (now < cert.notBefore.getTime()) throw new CertLoginError('not_yet_valid', 'certificate not yet valid');
  if (now > cert.notAfter.getTime()) throw new CertLoginError('expired', 'certificate expired');
  const anchor = await trustAnchorOf(cert, anchorsOf(role.certificate), now);
  if (anchor === undefined) {
    throw new CertLoginError('untrusted', "certificate not issued by the role's CA");
  }
  checkUsage(cert);
  checkNames(factsOf(cert), role);
  const missing = role.required_extensions.find((oid) => cert.getExtension(oid) === null);
  if (missing !== undefined) throw new CertLoginError('extension', `required extension ${missing} missing`);
  if (await listedIn(cert, anchor, role.crls)) throw new CertLoginError('revoked', 'certificate revoked');
  return anchor;
}

/**
 * Whether a CRL of the role issued by `anchor` lists the certificate. Only CRLs whose signature the anchor verifies
 * count (the role's writer was checked on write; this also holds for a CRL stored before its CA was replaced). A CRL
 * past its nextUpdate is still used, as Vault does: the newest known revocations beat none.
 */
async function listedIn(cert: X509Certificate, anchor: X509Certificate, crls: readonly string[]): Promise<boolean> {
  for (const pem of crls) {
    const crl = parseCrl(pem);
    if (crl === undefined || crl.issuer !== anchor.subject) continue;
    if (!(await signedBy(crl, anchor))) continue;
    if (crl.findRevoked(cert) !== null) return true;
  }
  return false;
}

/** Whether one of `anchors` signed `crl`. */
export async function crlSignedByOneOf(crl: X509Crl, anchors: readonly X509Certificate[]): Promise<boolean> {
  for (const anchor of anchors) {
    if (crl.issuer === anchor.subject && (await signedBy(crl, anchor))) return true;
  }
  return false;
}

function signedBy(crl: X509Crl, anchor: X509Certificate): Promise<boolean> {
  return crl.verify({ publicKey: anchor.publicKey }).catch(() => false);
}

/** Parsed role certificates by PEM text: parsing costs more than the signature check, and roles change rarely. */
const parsedAnchors = new Map<string, readonly X509Certificate[]>();
const PARSED_ANCHORS_MAX = 256;

function anchorsOf(pem: string): readonly X509Certificate[] {
  const cached = parsedAnchors.get(pem);
  if (cached !== undefined) return cached;
  const anchors = parseCertificateBundle(pem) ?? [];
  if (parsedAnchors.size >= PARSED_ANCHORS_MAX) parsedAnchors.delete(parsedAnchors.keys().next().value!);
  parsedAnchors.set(pem, anchors);
  return anchors;
}

async function trustAnchorOf(
  cert: X509Certificate,
  anchors: readonly X509Certificate[],
  now: number,
): Promise<X509Certificate | undefined> {
  const der = Buffer.from(cert.rawData);
  const pinned = anchors.find((anchor) => der.equals(Buffer.from(anchor.rawData)));
  if (pinned !== undefined) return pinned;
  for (const anchor of anchors) {
    if (anchor.subject !== cert.issuer || !isCaAt(anchor, now)) continue;
    if (await cert.verify({ publicKey: anchor.publicKey, signatureOnly: true }).catch(() => false)) return anchor;
  }
  return undefined;
}

/** A CA certificate that may sign certificates now (basic constraints CA, keyCertSign when key usage is given). */
function isCaAt(cert: X509Certificate, now: number): boolean {
  if (now < cert.notBefore.getTime() || now > cert.notAfter.getTime()) return false;
  if (cert.getExtension(BasicConstraintsExtension)?.ca !== true) return false;
  const usage = cert.getExtension(KeyUsagesExtension);
  return usage === null || (usage.usages & KeyUsageFlags.keyCertSign) !== 0;
}

/** A certificate for servers only (extended key usage without clientAuth) must not log a client in. */
function checkUsage(cert: X509Certificate): void {
  const extended = cert.getExtension(ExtendedKeyUsageExtension);
  if (extended === null) return;
  const usages = extended.usages.map(String);
  if (!usages.includes(ExtendedKeyUsage.clientAuth) && !usages.includes('2.5.29.37.0')) {
    throw new CertLoginError('usage', 'certificate not valid for client authentication (extended key usage)');
  }
}

function checkNames(facts: CertificateFacts, role: CertRole): void {
  const bindings: [readonly string[], readonly string[], string][] = [
    [role.allowed_common_names, facts.commonName === '' ? [] : [facts.commonName], 'common name'],
    [role.allowed_dns_sans, facts.dnsSans, 'DNS SAN'],
    [role.allowed_email_sans, facts.emailSans, 'email SAN'],
    [role.allowed_uri_sans, facts.uriSans, 'URI SAN'],
    [role.allowed_organizational_units, facts.organizationalUnits, 'organizational unit'],
  ];
  for (const [patterns, values, what] of bindings) {
    if (patterns.length === 0) continue;
    const matches = values.some((value) => patterns.some((pattern) => globMatch(pattern, value)));
    if (!matches) throw new CertLoginError('name', `${what} not allowed by the role`);
  }
}
