/**
 * Leaf certificates encoded from a per-issuer template with @peculiar/asn1-x509, signed over the TBSCertificate DER
 * by the CA's signer directly. @peculiar/x509's generator re-parses every extension, the subject, the issuer and the
 * public key it is given, signs through a WebCrypto shim (DER → P1363 → DER again) and parses the certificate it
 * has just encoded: profiled, that was most of an issue's CPU. Here the parts that do not change between
 * certificates of one issuer and role (signature algorithm, issuer name, basic constraints, key usages, authority
 * key identifier, CRL distribution point) are built once, through the same library classes as before, and each
 * certificate only encodes its serial, validity, subject, key, SAN and SKI.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, AsnSerializer, OctetString } from '@peculiar/asn1-schema';
import {
  type AlgorithmIdentifier,
  Extension as AsnExtension,
  Name as AsnName,
  AttributeTypeAndValue,
  Certificate,
  Extensions,
  GeneralName,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  type SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { ValidationError } from '../../core/errors.ts';
import type { OpenedCa } from './ca-service.ts';
import type { PkiRole } from './pki-role.ts';
import {
  AlgorithmProvider,
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  type Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
} from './x509.ts';

const CN_OID = '2.5.4.3';
/** Distinct key-usage sets are few (one per role at most); the bound only keeps a misuse from growing the cache. */
const MAX_ROLE_TEMPLATES = 256;

/** What changes from one leaf certificate to the next. */
export interface LeafFields {
  /** 32 hex digits, first byte non-zero (see `newSerial`). */
  readonly serial: string;
  /** Normalised DNS name (the SAN list holds it too). */
  readonly commonName: string;
  readonly dns: readonly string[];
  readonly ips: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
}

type RoleUsages = Pick<PkiRole, 'key_usage' | 'ext_key_usage'>;

interface RoleExtensions {
  /** Extensions before the SAN, in the order certificates carried them before the template. */
  readonly before: readonly AsnExtension[];
  /** Extensions after the SKI. */
  readonly after: readonly AsnExtension[];
}

/** One issuing CA's template: keyed by the opened CA, so a new CA record (new revision) gets a new one. */
export class IssuerTemplate {
  readonly #issuer: OpenedCa;
  readonly #crlUrl: string;
  readonly #issuerName: AsnName;
  readonly #signatureAlgorithm: AlgorithmIdentifier;
  readonly #roles = new Map<string, RoleExtensions>();

  constructor(issuer: OpenedCa, crlUrl: string) {
    if (issuer.cert === undefined) throw new Error('a CA without its certificate cannot issue');
    this.#issuer = issuer;
    this.#crlUrl = crlUrl;
    // As X509CertificateGenerator does: the issuer name re-encoded from the parsed certificate, the algorithm from
    // the library's provider for the signing key's algorithm.
    this.#issuerName = preEncoded<AsnName>(issuer.cert.subjectName.toArrayBuffer());
    const algorithm = new AlgorithmProvider().toAsnAlgorithm({
      ...issuer.ext.signingAlgorithm,
      ...(issuer.ext.privateKey.algorithm as object),
    } as Parameters<AlgorithmProvider['toAsnAlgorithm']>[0]);
    this.#signatureAlgorithm = preEncoded<AlgorithmIdentifier>(AsnConvert.serialize(algorithm));
  }

  /** Encodes and signs a leaf certificate; returns its DER. */
  async sign(role: RoleUsages, fields: LeafFields): Promise<Uint8Array> {
    const fixed = this.#roleExtensions(role);
    const publicKey = parsePublicKey(fields.spki);
    const tbs = new TBSCertificate({
      version: Version.v3,
      serialNumber: serialOctets(fields.serial),
      signature: this.#signatureAlgorithm,
      issuer: this.#issuerName,
      validity: new Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
      subject: leafSubject(fields.commonName),
      subjectPublicKeyInfo: publicKey.element,
      extensions: new Extensions([
        ...fixed.before,
        subjectAltName(fields.dns, fields.ips),
        subjectKeyIdentifier(publicKey.bits),
        ...fixed.after,
      ]),
    });
    // Encoded once: the same bytes are signed and then carried by the certificate, not encoded a second time.
    const tbsElement = encodedElement(AsnSerializer.toASN(tbs));
    const signature = await this.#issuer.signer.sign(new Uint8Array(tbsElement.toBER(false)));
    const certificate = new Certificate({
      tbsCertificate: convertible<TBSCertificate>(tbsElement),
      signatureAlgorithm: this.#signatureAlgorithm,
      // The signer returns the signature as X.509 carries it (DER Ecdsa-Sig-Value, or raw RSA): no conversion.
      signatureValue: toArrayBuffer(signature),
    });
    return new Uint8Array(AsnConvert.serialize(certificate));
  }

  #roleExtensions(role: RoleUsages): RoleExtensions {
    const key = `${role.key_usage.join(',')}|${role.ext_key_usage.join(',')}`;
    const cached = this.#roles.get(key);
    if (cached !== undefined) return cached;
    // Built through @peculiar/x509's extension classes, exactly as each certificate built them before.
    const before: Extension[] = [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(keyUsageFlags(role.key_usage), true),
      ...(role.ext_key_usage.length === 0
        ? []
        : [
            new ExtendedKeyUsageExtension(
              role.ext_key_usage.map((u) => EKU[u]),
              false,
            ),
          ]),
    ];
    const after: Extension[] = [
      ...(this.#issuer.keyId === undefined ? [] : [new AuthorityKeyIdentifierExtension(this.#issuer.keyId)]),
      new CRLDistributionPointsExtension([this.#crlUrl]),
    ];
    const toAsn = (ext: Extension) => preEncoded<AsnExtension>(ext.rawData);
    const built = { before: before.map(toAsn), after: after.map(toAsn) };
    if (this.#roles.size >= MAX_ROLE_TEMPLATES) this.#roles.clear();
    this.#roles.set(key, built);
    return built;
  }
}

const templates = new WeakMap<OpenedCa, Map<string, IssuerTemplate>>();

/** The template of an opened issuing CA; a CA re-opened after its record changed is a new object, so a new template. */
export function issuerTemplate(issuer: OpenedCa, crlUrl: string): IssuerTemplate {
  let byUrl = templates.get(issuer);
  if (byUrl === undefined) {
    byUrl = new Map();
    templates.set(issuer, byUrl);
  }
  let template = byUrl.get(crlUrl);
  if (template === undefined) {
    template = new IssuerTemplate(issuer, crlUrl);
    byUrl.set(crlUrl, template);
  }
  return template;
}

const EKU: Record<PkiRole['ext_key_usage'][number], string> = {
  ServerAuth: ExtendedKeyUsage.serverAuth,
  ClientAuth: ExtendedKeyUsage.clientAuth,
  CodeSigning: ExtendedKeyUsage.codeSigning,
  EmailProtection: ExtendedKeyUsage.emailProtection,
  TimeStamping: ExtendedKeyUsage.timeStamping,
  OCSPSigning: ExtendedKeyUsage.ocspSigning,
};

const KEY_USAGE_FLAGS: Record<PkiRole['key_usage'][number], KeyUsageFlags> = {
  DigitalSignature: KeyUsageFlags.digitalSignature,
  ContentCommitment: KeyUsageFlags.nonRepudiation,
  KeyEncipherment: KeyUsageFlags.keyEncipherment,
  DataEncipherment: KeyUsageFlags.dataEncipherment,
  KeyAgreement: KeyUsageFlags.keyAgreement,
  EncipherOnly: KeyUsageFlags.encipherOnly,
  DecipherOnly: KeyUsageFlags.decipherOnly,
};

function keyUsageFlags(usages: PkiRole['key_usage']): KeyUsageFlags {
  return usages.reduce<number>((flags, usage) => flags | KEY_USAGE_FLAGS[usage], 0) as KeyUsageFlags;
}

/** The serial as a positive DER INTEGER's octets (a leading zero when the first byte has its high bit set). */
function serialOctets(serialHex: string): ArrayBuffer {
  const bytes = Buffer.from(serialHex, 'hex');
  const octets = bytes[0]! > 0x7f ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
  return toArrayBuffer(octets);
}

/**
 * A CN-only subject, built structurally so a CN with ',' or '=' cannot inject other attributes. The string type
 * follows @peculiar/x509's `Name`: PrintableString when the value fits it, UTF8String otherwise (a wildcard's `*`).
 */
function leafSubject(commonName: string): AsnName {
  if (commonName.length === 0 || commonName.length > 64) {
    throw new ValidationError('common_name must be 1–64 characters');
  }
  const attribute = new AttributeTypeAndValue({ type: CN_OID });
  if (Name.isPrintableString(commonName)) attribute.value.printableString = commonName;
  else attribute.value.utf8String = commonName;
  return new AsnName([new RelativeDistinguishedName([attribute])]);
}

function subjectAltName(dns: readonly string[], ips: readonly string[]): AsnExtension {
  const names = new SubjectAlternativeName([
    ...dns.map((dNSName) => new GeneralName({ dNSName })),
    ...ips.map((iPAddress) => new GeneralName({ iPAddress })),
  ]);
  return new AsnExtension({
    extnID: id_ce_subjectAltName,
    critical: false,
    extnValue: new OctetString(AsnConvert.serialize(names)),
  });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's contents (as `der.ts` computes it). */
function subjectKeyIdentifier(subjectPublicKey: Uint8Array): AsnExtension {
  const keyId = createHash('sha1').update(subjectPublicKey).digest();
  return new AsnExtension({
    extnID: id_ce_subjectKeyIdentifier,
    critical: false,
    extnValue: new OctetString(AsnConvert.serialize(new SubjectKeyIdentifier(toArrayBuffer(keyId)))),
  });
}

/**
 * asn1js writes a constructed element's contents anew at every level it is nested in, so a certificate's constant
 * parts cost as much on each issue as the parts that change. An element encoded once is kept as its contents, and
 * asn1js writes its tag and length around them each time.
 */
function encodedElement(block: asn1js.AsnType): asn1js.Primitive {
  const base = block as asn1js.BaseBlock;
  const element = new asn1js.Primitive({
    idBlock: { tagClass: base.idBlock.tagClass, tagNumber: base.idBlock.tagNumber },
    valueHex: base.valueBlock.toBER(false),
  });
  // A Primitive's constructor clears the flag; the element keeps the form it was encoded in.
  element.idBlock.isConstructed = base.idBlock.isConstructed;
  return element;
}

/**
 * The key as the certificate carries it, and its subjectPublicKey bits for the SKI. Read with asn1js alone: the
 * schema-checked parse the generator did cost a fifth of the template's time, and the key is either ours (issue)
 * or was parsed and checked with the CSR (sign).
 */
function parsePublicKey(spki: Uint8Array): { element: SubjectPublicKeyInfo; bits: Uint8Array } {
  const parsed = asn1js.fromBER(spki);
  const bitString = parsed.result instanceof asn1js.Sequence ? parsed.result.valueBlock.value[1] : undefined;
  if (parsed.offset !== spki.byteLength || !(bitString instanceof asn1js.BitString)) {
    throw new ValidationError('the public key is not a DER SubjectPublicKeyInfo');
  }
  return {
    element: convertible<SubjectPublicKeyInfo>(encodedElement(parsed.result)),
    bits: bitString.valueBlock.valueHexView,
  };
}

/** DER the library encoded, parsed once, reused as a field of the template's structures. */
function preEncoded<T>(der: ArrayBuffer): T {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new Error(`template part does not parse: ${parsed.result.error}`);
  return convertible<T>(encodedElement(parsed.result));
}

/**
 * asn1-schema serialises any field value that has `toASN`/`fromASN` by calling `toASN`: the way to place an
 * encoded element in a schema-typed field. Write-only: the template is never parsed back.
 */
function convertible<T>(element: asn1js.Primitive): T {
  return {
    toASN: () => element,
    fromASN: () => {
      throw new Error('a pre-encoded template part is write-only');
    },
  } as unknown as T;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
