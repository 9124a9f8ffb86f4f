/**
 * Issuing leaf certificates under a role: `issue` generates the key pair on the server, `sign` takes a CSR. Every
 * name is checked against the role, and each certificate is recorded under a serial no other certificate holds.
 */
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import { queryAll } from '../../core/ports/store.ts';
import { retryOnConflict } from '../../core/retry.ts';
import { BACKDATE_MS, type CaService, type OpenedCa } from './ca-service.ts';
import { certificateExpiryEntries } from './certificate-expiry.ts';
import { checkKeyType, generateLeafKeyDer, inspectPublicKey } from './leaf-keys.ts';
import { issuerTemplate } from './leaf-template.ts';
import { checkDnsName, checkIpSan, normaliseDnsName } from './name-rules.ts';
import { parseCsr, pemText } from './pem.ts';
import { type CertRecord, normaliseSerial, PK_CERT } from './pki-records.ts';
import type { PkiRole } from './pki-role.ts';
import type { RoleService } from './role-service.ts';
import type { StoredKeys } from './stored-keys.ts';
import { PemConverter, SubjectAlternativeNameExtension } from './x509.ts';

const SERIAL_ATTEMPTS = 5;
const SAN_OID = '2.5.29.17';

export interface IssueRequest {
  readonly common_name: string;
  readonly alt_names?: readonly string[];
  readonly ip_sans?: readonly string[];
  /** Seconds; @default the role's ttl */
  readonly ttl?: number;
  /**
   * The secret the certificate is issued for (the certificate rotation engine's), named by its expiry events. Not a
   * member of the API's request: only an engine sets it. @default none
   */
  readonly forSecret?: string;
}

export interface SignRequest extends Partial<IssueRequest> {
  readonly csr: string;
}

export interface IssuedCertificate {
  readonly serial_number: string;
  readonly certificate: string;
  readonly issuing_ca: string;
  /** Issuing CA first, root last. */
  readonly ca_chain: string[];
  readonly expiration: string;
}

export interface IssuedWithKey extends IssuedCertificate {
  readonly private_key: string;
  readonly private_key_type: string;
}

interface CertificateNames {
  readonly cn: string;
  readonly dns: string[];
  readonly ips: string[];
}

export interface CertificateIssuerOptions {
  readonly store: Store;
  readonly cas: Pick<CaService, 'issuer' | 'notAfter'>;
  readonly roles: Pick<RoleService, 'get'>;
  readonly storedKeys: Pick<StoredKeys, 'seal'>;
  readonly clock: Clock;
  /** The CRL distribution point every issued certificate carries. */
  readonly crlUrl: string;
  /** A fresh certificate serial (32 hex digits). */
  readonly newSerial: () => string;
}

export class CertificateIssuer {
  readonly #store: Store;
  readonly #cas: Pick<CaService, 'issuer' | 'notAfter'>;
  readonly #roles: Pick<RoleService, 'get'>;
  readonly #storedKeys: Pick<StoredKeys, 'seal'>;
  readonly #clock: Clock;
  readonly #crlUrl: string;
  readonly #newSerial: () => string;

  constructor(options: CertificateIssuerOptions) {
    this.#store = options.store;
    this.#cas = options.cas;
    this.#roles = options.roles;
    this.#storedKeys = options.storedKeys;
    this.#clock = options.clock;
    this.#crlUrl = options.crlUrl;
    this.#newSerial = options.newSerial;
  }

  /** Generates a key pair on the server and a certificate for it. The private key is returned here, once. */
  async issue(roleName: string, request: IssueRequest): Promise<IssuedWithKey> {
    const role = await this.#roles.get(roleName);
    if (role.key_type === 'any') {
      throw new ValidationError("the role's key_type is 'any', which only applies to sign: set a key_type to issue");
    }
    const names = checkNames(role, request);
    const ttl = resolveTtl(role, request.ttl);
    const issuer = await this.#cas.issuer();
    const notAfter = this.#cas.notAfter(issuer, ttl);
    const { spki, pkcs8 } = await generateLeafKeyDer(role.key_type);
    try {
      const issued = await this.#issueCertificate(
        issuer,
        roleName,
        role,
        names,
        spki,
        notAfter,
        pkcs8,
        request.forSecret,
      );
      return {
        ...issued,
        private_key: pemText(PemConverter.encode(pkcs8, 'PRIVATE KEY')),
        private_key_type: role.key_type,
      };
    } finally {
      pkcs8.fill(0);
    }
  }

  /** Signs a CSR after checking its proof of possession, its key against the role, and every name. */
  async sign(roleName: string, request: SignRequest): Promise<IssuedCertificate> {
    const role = await this.#roles.get(roleName);
    const csr = await parseCsr(request.csr);
    const spki = new Uint8Array(csr.publicKey.rawData);
    checkKeyType(role.key_type, inspectPublicKey(spki));
    const verified = await csr.verify().catch(() => false);
    if (!verified) throw new ValidationError('CSR refused: its signature does not verify (no proof of possession)');
    const commonName = request.common_name ?? csr.subjectName.getField('CN')[0];
    if (commonName === undefined) throw new ValidationError('no common_name: give one or put a CN in the CSR');
    const sanExtension = csr.getExtension(SAN_OID);
    const csrSans =
      sanExtension === null ? [] : new SubjectAlternativeNameExtension(sanExtension.rawData).names.toJSON();
    const names = checkNames(role, {
      common_name: commonName,
      alt_names: [...(request.alt_names ?? []), ...csrSans.filter((n) => n.type === 'dns').map((n) => n.value)],
      ip_sans: [...(request.ip_sans ?? []), ...csrSans.filter((n) => n.type === 'ip').map((n) => n.value)],
    });
    for (const other of csrSans) {
      if (other.type !== 'dns' && other.type !== 'ip') {
        throw new ValidationError(`CSR refused: subject alternative names of type ${other.type} are not supported`);
      }
    }
    const ttl = resolveTtl(role, request.ttl);
    const issuer = await this.#cas.issuer();
    const notAfter = this.#cas.notAfter(issuer, ttl);
    return this.#issueCertificate(issuer, roleName, role, names, spki, notAfter, undefined, request.forSecret);
  }

  /** A certificate's status and PEM (never its private key). */
  async certificate(serialInput: string): Promise<{
    serial_number: string;
    certificate: string;
    status: 'valid' | 'revoked';
    common_name: string;
    role: string;
    expiration: string;
    revocation_time?: string;
    private_key_stored: boolean;
  }> {
    const serial = normaliseSerial(serialInput);
    const item = await this.#store.get<CertRecord>(PK_CERT, serial);
    if (item === undefined) throw new NotFoundError(`no certificate with serial ${serial}`);
    const c = item.data;
    return {
      serial_number: serial,
      certificate: c.certificate,
      status: c.status,
      common_name: c.commonName,
      role: c.role,
      expiration: new Date(c.notAfter).toISOString(),
      ...(c.revokedAt === undefined ? {} : { revocation_time: new Date(c.revokedAt).toISOString() }),
      private_key_stored: c.sealedKey !== undefined,
    };
  }

  async listCertificates(): Promise<{ serial_number: string; status: string; expiration: string }[]> {
    return (await queryAll<CertRecord>(this.#store, PK_CERT)).map((item) => ({
      serial_number: item.sk,
      status: item.data.status,
      expiration: new Date(item.data.notAfter).toISOString(),
    }));
  }

  async #issueCertificate(
    issuer: OpenedCa,
    roleName: string,
    role: PkiRole,
    names: CertificateNames,
    spki: Uint8Array,
    notAfter: Date,
    pkcs8: Buffer | undefined,
    forSecret: string | undefined,
  ): Promise<IssuedCertificate> {
    const template = issuerTemplate(issuer, this.#crlUrl);
    const now = this.#clock.now();
    // A serial already in use: sign again under a fresh one. 2^-128 per pair, but uniqueness is a promise. The
    // collision is not contention, so there is nothing to wait for between attempts.
    const stored = await retryOnConflict(
      async () => {
        const serial = this.#newSerial();
        const der = await template.sign(role, {
          serial,
          commonName: names.cn,
          dns: names.dns,
          ips: names.ips,
          notBefore: new Date(now - BACKDATE_MS),
          notAfter,
          spki,
        });
        const record: CertRecord = {
          serial,
          commonName: names.cn,
          role: roleName,
          issuerKeyRef: issuer.record.keyRef,
          issuedAt: now,
          notAfter: notAfter.getTime(),
          status: 'valid',
          certificate: pemText(PemConverter.encode(der, 'CERTIFICATE')),
          ...(forSecret === undefined ? {} : { secretName: forSecret }),
          ...(pkcs8 !== undefined && role.store_private_key
            ? { sealedKey: await this.#storedKeys.seal(serial, pkcs8) }
            : {}),
        };
        await this.#store.transact([
          { type: 'put', pk: PK_CERT, sk: serial, data: record, condition: { kind: 'absent' } },
          ...certificateExpiryEntries(serial, now, record.notAfter),
        ]);
        return record;
      },
      { maxAttempts: SERIAL_ATTEMPTS, baseDelayMs: 0, maxDelayMs: 0 },
    );
    const chain = [issuer.record.certificate!, ...issuer.record.chain];
    return {
      serial_number: stored.serial,
      certificate: stored.certificate,
      issuing_ca: chain[0]!,
      ca_chain: chain,
      expiration: notAfter.toISOString(),
    };
  }
}

/** The common name and alternative names a request asks for, normalised, each one allowed by the role. */
function checkNames(role: PkiRole, request: Partial<IssueRequest>): CertificateNames {
  if (request.common_name === undefined || request.common_name.trim() === '') {
    throw new ValidationError('common_name is required');
  }
  const cn = normaliseDnsName(request.common_name);
  const dns = [...new Set([cn, ...(request.alt_names ?? []).map(normaliseDnsName)])];
  for (const name of dns) checkDnsName(role, name);
  const ips = [...new Set((request.ip_sans ?? []).map((ip) => checkIpSan(role, ip)))];
  return { cn, dns, ips };
}

function resolveTtl(role: PkiRole, requested: number | undefined): number {
  const ttl = requested ?? role.ttl;
  if (ttl <= 0) throw new ValidationError('ttl must be positive');
  if (ttl > role.max_ttl) {
    throw new ValidationError(`ttl refused: ${ttl}s exceeds the role's max_ttl of ${role.max_ttl}s`);
  }
  return ttl;
}
