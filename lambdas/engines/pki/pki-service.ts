import { createHash, randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import { open as openSealed, seal } from '../../core/crypto/envelope.ts';
import { AlreadyExistsError, InvalidRequestError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import {
  ConditionFailedError,
  type ItemData,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../core/ports/store.ts';
import type { CaKeyStore, CaKeyType, CaSigner } from './ca-key-store.ts';
import { type ExternalKey, externalKey } from './external-signer.ts';
import { checkKeyType, generateLeafKey, inspectPublicKey } from './leaf-keys.ts';
import { checkDnsName, checkIpSan, normaliseDnsName } from './name-rules.ts';
import { type PkiRole, type PkiRoleInput, PkiRoleSchema, ROLE_NAME } from './pki-role.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  Extension,
  type JsonGeneralNames,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  PemConverter,
  Pkcs10CertificateRequest,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  X509CrlGenerator,
} from './x509.ts';

const PK_CA = 'pki#ca';
const PK_ROLE = 'pki#role';
const PK_CERT = 'pki#cert';
const PK_REVOKED = 'pki#revoked';
const PK_CRL = 'pki#crl';
const CRL_SK = 'current';
/** Certificates are back-dated this much, so a client whose clock is a little behind accepts them at once. */
const BACKDATE_MS = 30_000;
const SERIAL_ATTEMPTS = 5;
const PAGE = 1000;
const SAN_OID = '2.5.29.17';

export type CaSlot = 'root' | 'intermediate';

interface CaRecord extends ItemData {
  keyRef: string;
  keyType: CaKeyType;
  keyStore: string;
  commonName: string;
  /** PEM; absent while an intermediate waits for its signed certificate. */
  certificate?: string;
  csr?: string;
  /** Issuer certificates above this one, nearest first (PEM). Empty for the root. */
  chain: string[];
  createdAt: number;
}

interface CertRecord extends ItemData {
  serial: string;
  commonName: string;
  role: string;
  /** keyRef of the CA that signed it: the CRL of that CA lists it once revoked. */
  issuerKeyRef: string;
  issuedAt: number;
  notAfter: number;
  status: 'valid' | 'revoked';
  revokedAt?: number;
  certificate: string;
  /** Only when the role has `store_private_key`: the PKCS#8 key sealed under its own data key. */
  sealedKey?: { wrapped: string; blob: string };
}

interface RevokedRecord extends ItemData {
  serial: string;
  issuerKeyRef: string;
  revokedAt: number;
  notAfter: number;
}

interface CrlRecord extends ItemData {
  crlNumber: number;
  issuerKeyRef: string;
  thisUpdate: number;
  nextUpdate: number;
  crl: string;
}

export interface PkiServiceOptions {
  readonly store: Store;
  /** Seals private keys that a role asks to store. */
  readonly keyProvider: KeyProvider;
  readonly caKeys: CaKeyStore;
  readonly clock: Clock;
  /** Base URL the CRL is served under; issued certificates carry `<publicUrl>/v1/pki/crl` as CRL distribution point. */
  readonly publicUrl: string;
  /** How long a CRL is valid (nextUpdate − thisUpdate); it is re-signed once half of it has passed. @default 259_200 (72 h) */
  readonly crlLifetimeSeconds?: number;
  /** Source of the 16 serial-number bytes; injectable so tests can force a collision. @default crypto random */
  readonly randomSerial?: () => Buffer;
}

export interface IssueRequest {
  readonly common_name: string;
  readonly alt_names?: readonly string[];
  readonly ip_sans?: readonly string[];
  /** Seconds; @default the role's ttl */
  readonly ttl?: number;
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

interface OpenedCa {
  readonly slot: CaSlot;
  readonly rev: number;
  readonly record: CaRecord;
  readonly signer: CaSigner;
  readonly ext: ExternalKey;
  readonly cert: X509Certificate | undefined;
  readonly keyId: string | undefined;
}

/**
 * The PKI engine: a root CA, an optional intermediate (signed by the root or by an external CA), roles, issue and
 * sign, revocation with a CRL, and tidy. CA keys stay behind a `CaKeyStore`; issued private keys are returned once
 * and stored (sealed) only when the role asks.
 */
export class PkiService {
  readonly #store: Store;
  readonly #keyProvider: KeyProvider;
  readonly #caKeys: CaKeyStore;
  readonly #clock: Clock;
  readonly #crlUrl: string;
  readonly #crlLifetimeMs: number;
  readonly #randomSerial: () => Buffer;
  readonly #opened = new Map<CaSlot, OpenedCa>();

  constructor(options: PkiServiceOptions) {
    this.#store = options.store;
    this.#keyProvider = options.keyProvider;
    this.#caKeys = options.caKeys;
    this.#clock = options.clock;
    this.#crlUrl = `${options.publicUrl.replace(/\/+$/, '')}/v1/pki/crl`;
    this.#crlLifetimeMs = (options.crlLifetimeSeconds ?? 259_200) * 1000;
    this.#randomSerial = options.randomSerial ?? (() => randomBytes(16));
  }

  get crlUrl(): string {
    return this.#crlUrl;
  }

  // ---- CAs -------------------------------------------------------------------------------------------------

  /** Generates the root CA: a new key in the CaKeyStore and a self-signed certificate. Create-only. */
  async generateRoot(input: { common_name: string; key_type: CaKeyType; ttl: number }): Promise<{
    certificate: string;
    serial_number: string;
    expiration: string;
    key_store: string;
  }> {
    if ((await this.#store.get(PK_CA, 'root')) !== undefined) {
      throw new AlreadyExistsError('a root CA already exists');
    }
    const signer = await this.#caKeys.create(input.key_type, 'root');
    const ext = externalKey(signer);
    const name = subjectName(input.common_name);
    const now = this.#clock.now();
    const ski = subjectKeyIdentifier(signer.spki);
    const cert = await this.#withSerial((serialNumber) =>
      X509CertificateGenerator.create(
        {
          serialNumber,
          subject: name,
          issuer: name,
          notBefore: new Date(now - BACKDATE_MS),
          notAfter: new Date(now + input.ttl * 1000),
          publicKey: signer.spki,
          signingKey: ext.privateKey,
          signingAlgorithm: ext.signingAlgorithm,
          extensions: [
            new BasicConstraintsExtension(true, undefined, true),
            new KeyUsagesExtension(
              KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
              true,
            ),
            ski,
            new AuthorityKeyIdentifierExtension(ski.keyId),
          ],
        },
        ext.crypto,
      ),
    );
    const record: CaRecord = {
      keyRef: signer.keyRef,
      keyType: input.key_type,
      keyStore: this.#caKeys.kind,
      commonName: input.common_name,
      certificate: pemText(cert.toString('pem')),
      chain: [],
      createdAt: now,
    };
    try {
      await this.#store.transact([{ type: 'put', pk: PK_CA, sk: 'root', data: record, condition: { kind: 'absent' } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new AlreadyExistsError('a root CA already exists');
      throw err;
    }
    this.#opened.clear();
    return {
      certificate: record.certificate!,
      serial_number: cert.serialNumber,
      expiration: cert.notAfter.toISOString(),
      key_store: this.#caKeys.kind,
    };
  }

  /**
   * Generates the intermediate's key and CSR. With `sign_with_root`, our root signs it at once and it becomes the
   * issuing CA; otherwise the CSR goes to an external CA and comes back through `setIntermediateCertificate`.
   */
  async generateIntermediate(input: {
    common_name: string;
    key_type: CaKeyType;
    sign_with_root: boolean;
    ttl: number;
  }): Promise<{ csr: string; certificate?: string; serial_number?: string; expiration?: string }> {
    const existing = await this.#store.get<CaRecord>(PK_CA, 'intermediate');
    if (existing?.data.certificate !== undefined) {
      throw new AlreadyExistsError('an intermediate CA is already set');
    }
    if (input.sign_with_root && (await this.#store.get(PK_CA, 'root')) === undefined) {
      throw new InvalidRequestError('no root CA: generate one first (pki root generate)');
    }
    const signer = await this.#caKeys.create(input.key_type, 'intermediate');
    const ext = externalKey(signer);
    const csr = await Pkcs10CertificateRequestGenerator.create(
      {
        name: subjectName(input.common_name),
        keys: { privateKey: ext.privateKey, publicKey: ext.publicKey },
        signingAlgorithm: ext.signingAlgorithm,
      },
      ext.crypto,
    );
    const record: CaRecord = {
      keyRef: signer.keyRef,
      keyType: input.key_type,
      keyStore: this.#caKeys.kind,
      commonName: input.common_name,
      csr: pemText(csr.toString('pem')),
      chain: [],
      createdAt: this.#clock.now(),
    };
    await this.#store.transact([
      {
        type: 'put',
        pk: PK_CA,
        sk: 'intermediate',
        data: record,
        condition: existing === undefined ? { kind: 'absent' } : { kind: 'rev', rev: existing.rev },
      },
    ]);
    this.#opened.delete('intermediate');
    if (!input.sign_with_root) return { csr: record.csr! };
    const signed = await this.signIntermediate({ csr: record.csr!, ttl: input.ttl });
    await this.setIntermediateCertificate({ certificate: signed.certificate });
    return { csr: record.csr!, ...signed };
  }

  /** The root signs a CA certificate for a CSR (ours or another intermediate's), path length 0. */
  async signIntermediate(input: { csr: string; ttl: number; common_name?: string }): Promise<{
    certificate: string;
    serial_number: string;
    expiration: string;
  }> {
    const root = await this.#open('root');
    if (root === undefined || root.cert === undefined) throw new InvalidRequestError('no root CA: generate one first');
    const csr = await parseCsr(input.csr);
    const key = inspectPublicKey(new Uint8Array(csr.publicKey.rawData));
    if (key.family === 'ed25519') throw new ValidationError('key refused: an intermediate CA key must be RSA or EC');
    const notAfter = this.#notAfter(root, input.ttl);
    const name = input.common_name === undefined ? csr.subjectName : subjectName(input.common_name);
    const ski = subjectKeyIdentifier(new Uint8Array(csr.publicKey.rawData));
    const cert = await this.#withSerial((serialNumber) =>
      X509CertificateGenerator.create(
        {
          serialNumber,
          subject: name,
          issuer: root.cert!.subjectName,
          notBefore: new Date(this.#clock.now() - BACKDATE_MS),
          notAfter,
          publicKey: csr.publicKey,
          signingKey: root.ext.privateKey,
          signingAlgorithm: root.ext.signingAlgorithm,
          extensions: [
            new BasicConstraintsExtension(true, 0, true),
            new KeyUsagesExtension(
              KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
              true,
            ),
            ski,
            // No CRL distribution point: the URL serves the issuing CA's CRL, which does not cover the intermediate.
            ...(root.keyId === undefined ? [] : [new AuthorityKeyIdentifierExtension(root.keyId)]),
          ],
        },
        root.ext.crypto,
      ),
    );
    return {
      certificate: pemText(cert.toString('pem')),
      serial_number: cert.serialNumber,
      expiration: cert.notAfter.toISOString(),
    };
  }

  /**
   * Imports the intermediate's signed certificate. It must hold the intermediate's own public key, be a CA
   * certificate, and verify against the first certificate of `chain` (default: our root).
   */
  async setIntermediateCertificate(input: { certificate: string; chain?: readonly string[] }): Promise<{
    serial_number: string;
    expiration: string;
  }> {
    const item = await this.#store.get<CaRecord>(PK_CA, 'intermediate');
    if (item === undefined) throw new NotFoundError('no intermediate CA: generate its CSR first');
    if (item.data.certificate !== undefined) throw new AlreadyExistsError('an intermediate CA is already set');
    const cert = parseCertificate(input.certificate, 'certificate');
    const signer = await this.#caKeys.open(item.data.keyRef, item.data.keyType);
    if (!sameBytes(new Uint8Array(cert.publicKey.rawData), signer.spki)) {
      throw new ValidationError("the certificate's public key does not match the intermediate CA's key");
    }
    const basic = cert.getExtension(BasicConstraintsExtension);
    if (basic?.ca !== true) throw new ValidationError('the certificate is not a CA certificate (basicConstraints)');
    let chain = (input.chain ?? []).map((pem, i) => parseCertificate(pem, `chain[${i}]`));
    if (chain.length === 0) {
      const root = await this.#store.get<CaRecord>(PK_CA, 'root');
      if (root?.data.certificate === undefined) {
        throw new ValidationError('give the issuing chain: there is no root CA here to verify the certificate with');
      }
      chain = [new X509Certificate(root.data.certificate)];
    }
    const verified = await cert.verify({ publicKey: chain[0]!.publicKey, signatureOnly: true }).catch(() => false);
    if (!verified) throw new ValidationError('the certificate is not signed by the first certificate of the chain');
    const now = this.#clock.now();
    if (cert.notAfter.getTime() <= now) throw new ValidationError('the certificate has expired');
    const record: CaRecord = {
      ...item.data,
      certificate: pemText(cert.toString('pem')),
      chain: chain.map((c) => pemText(c.toString('pem'))),
    };
    await this.#store.transact([
      { type: 'put', pk: PK_CA, sk: 'intermediate', data: record, condition: { kind: 'rev', rev: item.rev } },
    ]);
    this.#opened.delete('intermediate');
    return { serial_number: cert.serialNumber, expiration: cert.notAfter.toISOString() };
  }

  /** The issuing CA's certificate and chain (issuing CA first, root last). */
  async caChain(): Promise<{ certificate: string; ca_chain: string[]; pem: string }> {
    // Public certificates only: read the records, never open (unseal) a CA key for an unauthenticated request.
    const intermediate = await this.#store.get<CaRecord>(PK_CA, 'intermediate');
    const root = await this.#store.get<CaRecord>(PK_CA, 'root');
    const issuer = intermediate?.data.certificate !== undefined ? intermediate.data : root?.data;
    if (issuer?.certificate === undefined) {
      throw new InvalidRequestError('no CA: generate a root CA first (pki root generate)');
    }
    const chain = [issuer.certificate, ...issuer.chain];
    return { certificate: chain[0]!, ca_chain: chain, pem: chain.join('') };
  }

  // ---- roles -----------------------------------------------------------------------------------------------

  async putRole(name: string, input: PkiRoleInput): Promise<PkiRole> {
    checkRoleName(name);
    const parsed = PkiRoleSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`invalid role: ${issue.path.join('.') || 'role'}: ${issue.message}`);
    }
    await this.#store.transact([{ type: 'put', pk: PK_ROLE, sk: name, data: parsed.data }]);
    return parsed.data;
  }

  async getRole(name: string): Promise<PkiRole> {
    checkRoleName(name);
    const item = await this.#store.get<PkiRole>(PK_ROLE, name);
    if (item === undefined) throw new NotFoundError(`no PKI role "${name}"`);
    return item.data;
  }

  async deleteRole(name: string): Promise<void> {
    checkRoleName(name);
    try {
      await this.#store.transact([{ type: 'delete', pk: PK_ROLE, sk: name, condition: { kind: 'exists' } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError(`no PKI role "${name}"`);
      throw err;
    }
  }

  async listRoles(): Promise<string[]> {
    return (await this.#all(PK_ROLE)).map((item) => item.sk);
  }

  // ---- issue and sign --------------------------------------------------------------------------------------

  /** Generates a key pair on the server and a certificate for it. The private key is returned here, once. */
  async issue(roleName: string, request: IssueRequest): Promise<IssuedWithKey> {
    const role = await this.getRole(roleName);
    if (role.key_type === 'any') {
      throw new ValidationError("the role's key_type is 'any', which only applies to sign: set a key_type to issue");
    }
    const names = this.#names(role, request);
    const ttl = resolveTtl(role, request.ttl);
    const issuer = await this.#issuer();
    const notAfter = this.#notAfter(issuer, ttl);
    const keys = await generateLeafKey(role.key_type);
    const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    try {
      const issued = await this.#issueCertificate(issuer, roleName, role, names, spki, notAfter, pkcs8);
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
    const role = await this.getRole(roleName);
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
    const names = this.#names(role, {
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
    const issuer = await this.#issuer();
    return this.#issueCertificate(issuer, roleName, role, names, spki, this.#notAfter(issuer, ttl), undefined);
  }

  // ---- revocation, CRL, tidy -------------------------------------------------------------------------------

  /** Revokes a certificate by serial and publishes a new CRL. Revoking twice is a no-op. */
  async revoke(serialInput: string): Promise<{ serial_number: string; revocation_time: string; crl_number: number }> {
    const serial = normaliseSerial(serialInput);
    for (let attempt = 0; ; attempt++) {
      const item = await this.#store.get<CertRecord>(PK_CERT, serial);
      if (item === undefined) throw new NotFoundError(`no certificate with serial ${serial}`);
      if (item.data.status === 'revoked') {
        // A CRL signed before this revocation (the first attempt failed after recording it) is re-signed now.
        const published = await this.#store.get<CrlRecord>(PK_CRL, CRL_SK);
        if (published === undefined || published.data.thisUpdate < item.data.revokedAt!) await this.#publishCrl();
        const crl = await this.crl();
        return {
          serial_number: serial,
          revocation_time: new Date(item.data.revokedAt!).toISOString(),
          crl_number: crl.crl_number,
        };
      }
      const revokedAt = this.#clock.now();
      const revoked: RevokedRecord = {
        serial,
        issuerKeyRef: item.data.issuerKeyRef,
        revokedAt,
        notAfter: item.data.notAfter,
      };
      try {
        await this.#store.transact([
          {
            type: 'put',
            pk: PK_CERT,
            sk: serial,
            data: { ...item.data, status: 'revoked', revokedAt },
            condition: { kind: 'rev', rev: item.rev },
          },
          { type: 'put', pk: PK_REVOKED, sk: serial, data: revoked },
        ]);
      } catch (err) {
        if (err instanceof ConditionFailedError && attempt < 3) continue;
        throw err;
      }
      const crl = await this.#publishCrl();
      return { serial_number: serial, revocation_time: new Date(revokedAt).toISOString(), crl_number: crl.crlNumber };
    }
  }

  /** The current CRL of the issuing CA (PEM), re-signed first when it is missing, stale or from another CA. */
  async crl(): Promise<{ crl: string; crl_number: number; this_update: string; next_update: string }> {
    const issuer = await this.#issuer();
    const current = await this.#store.get<CrlRecord>(PK_CRL, CRL_SK);
    const now = this.#clock.now();
    let record = current?.data;
    if (
      record === undefined ||
      record.issuerKeyRef !== issuer.record.keyRef ||
      now >= record.thisUpdate + this.#crlLifetimeMs / 2
    ) {
      record = await this.#publishCrl();
    }
    return {
      crl: record.crl,
      crl_number: record.crlNumber,
      this_update: new Date(record.thisUpdate).toISOString(),
      next_update: new Date(record.nextUpdate).toISOString(),
    };
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

  /** The private key a `store_private_key` role kept, unsealed. */
  async storedPrivateKey(serialInput: string): Promise<{ serial_number: string; private_key: string }> {
    const serial = normaliseSerial(serialInput);
    const item = await this.#store.get<CertRecord>(PK_CERT, serial);
    if (item === undefined) throw new NotFoundError(`no certificate with serial ${serial}`);
    const sealed = item.data.sealedKey;
    if (sealed === undefined) throw new NotFoundError(`the private key of ${serial} was not stored`);
    const binding = { secretId: `pki/cert/${serial}`, versionId: 'private-key' };
    const dataKey = await this.#keyProvider.unwrapDataKey(sealed.wrapped, keyContext(serial));
    const pkcs8 = openSealed(dataKey, { blob: sealed.blob }, binding);
    try {
      return { serial_number: serial, private_key: pemText(PemConverter.encode(pkcs8, 'PRIVATE KEY')) };
    } finally {
      // Only the plaintext key is ours to zero; a caching provider hands out its cached data-key buffer.
      pkcs8.fill(0);
    }
  }

  async listCertificates(): Promise<{ serial_number: string; status: string; expiration: string }[]> {
    return (await this.#all<CertRecord>(PK_CERT)).map((item) => ({
      serial_number: item.sk,
      status: item.data.status,
      expiration: new Date(item.data.notAfter).toISOString(),
    }));
  }

  /**
   * Removes certificates that expired more than `safetyBufferSeconds` ago from the index, and their entries from
   * the CRL (an expired certificate is rejected on its dates alone), then re-signs the CRL if it changed.
   */
  async tidy(safetyBufferSeconds = 259_200): Promise<{ removed: number; removed_from_crl: number }> {
    const cutoff = this.#clock.now() - safetyBufferSeconds * 1000;
    const expired = (await this.#all<CertRecord>(PK_CERT)).filter((item) => item.data.notAfter < cutoff);
    const staleRevoked = (await this.#all<RevokedRecord>(PK_REVOKED)).filter((item) => item.data.notAfter < cutoff);
    const ops: WriteOp[] = [
      ...expired.map((item): WriteOp => ({ type: 'delete', pk: PK_CERT, sk: item.sk })),
      ...staleRevoked.map((item): WriteOp => ({ type: 'delete', pk: PK_REVOKED, sk: item.sk })),
    ];
    for (let i = 0; i < ops.length; i += 100) await this.#store.transact(ops.slice(i, i + 100));
    if (staleRevoked.length > 0 && (await this.#hasIssuer())) await this.#publishCrl();
    return { removed: expired.length, removed_from_crl: staleRevoked.length };
  }

  /** Re-wraps the data keys of stored private keys under the current root key (after a keyring rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    let rewrapped = 0;
    for (const item of await this.#all<CertRecord>(PK_CERT)) {
      const sealed = item.data.sealedKey;
      if (sealed === undefined || this.#keyProvider.isCurrent(sealed.wrapped)) continue;
      const wrapped = await this.#keyProvider.rewrapDataKey(sealed.wrapped, keyContext(item.sk));
      try {
        await this.#store.transact([
          {
            type: 'put',
            pk: PK_CERT,
            sk: item.sk,
            data: { ...item.data, sealedKey: { ...sealed, wrapped } },
            condition: { kind: 'rev', rev: item.rev },
          },
        ]);
        rewrapped++;
      } catch (err) {
        // Revoked meanwhile: the next pass picks it up at its new revision.
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    return { rewrapped };
  }

  // ---- internals -------------------------------------------------------------------------------------------

  #names(role: PkiRole, request: Partial<IssueRequest>): { cn: string; dns: string[]; ips: string[] } {
    if (request.common_name === undefined || request.common_name.trim() === '') {
      throw new ValidationError('common_name is required');
    }
    const cn = normaliseDnsName(request.common_name);
    const dns = [...new Set([cn, ...(request.alt_names ?? []).map(normaliseDnsName)])];
    for (const name of dns) checkDnsName(role, name);
    const ips = [...new Set((request.ip_sans ?? []).map((ip) => checkIpSan(role, ip)))];
    return { cn, dns, ips };
  }

  #notAfter(issuer: OpenedCa, ttlSeconds: number): Date {
    const notAfter = this.#clock.now() + ttlSeconds * 1000;
    const caNotAfter = issuer.cert!.notAfter.getTime();
    if (notAfter > caNotAfter) {
      throw new ValidationError(
        `ttl refused: the certificate would outlive the issuing CA (${issuer.cert!.notAfter.toISOString()})`,
      );
    }
    return new Date(notAfter);
  }

  async #issueCertificate(
    issuer: OpenedCa,
    roleName: string,
    role: PkiRole,
    names: { cn: string; dns: string[]; ips: string[] },
    spki: Uint8Array,
    notAfter: Date,
    pkcs8: Buffer | undefined,
  ): Promise<IssuedCertificate> {
    const sans: JsonGeneralNames = [
      ...names.dns.map((value) => ({ type: 'dns' as const, value })),
      ...names.ips.map((value) => ({ type: 'ip' as const, value })),
    ];
    const extensions: Extension[] = [
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
      new SubjectAlternativeNameExtension(sans, false),
      subjectKeyIdentifier(spki),
      ...(issuer.keyId === undefined ? [] : [new AuthorityKeyIdentifierExtension(issuer.keyId)]),
      new CRLDistributionPointsExtension([this.#crlUrl]),
    ];
    const now = this.#clock.now();
    for (let attempt = 1; ; attempt++) {
      const serial = this.#nextSerial();
      const cert = await X509CertificateGenerator.create(
        {
          serialNumber: serial,
          subject: subjectName(names.cn),
          issuer: issuer.cert!.subjectName,
          notBefore: new Date(now - BACKDATE_MS),
          notAfter,
          publicKey: spki,
          signingKey: issuer.ext.privateKey,
          signingAlgorithm: issuer.ext.signingAlgorithm,
          extensions,
        },
        issuer.ext.crypto,
      );
      const pem = pemText(cert.toString('pem'));
      const record: CertRecord = {
        serial,
        commonName: names.cn,
        role: roleName,
        issuerKeyRef: issuer.record.keyRef,
        issuedAt: now,
        notAfter: notAfter.getTime(),
        status: 'valid',
        certificate: pem,
        ...(pkcs8 !== undefined && role.store_private_key ? { sealedKey: await this.#sealKey(serial, pkcs8) } : {}),
      };
      try {
        await this.#store.transact([
          { type: 'put', pk: PK_CERT, sk: serial, data: record, condition: { kind: 'absent' } },
        ]);
      } catch (err) {
        // A serial already in use: sign again under a fresh one. 2^-128 per pair, but uniqueness is a promise.
        if (err instanceof ConditionFailedError && attempt < SERIAL_ATTEMPTS) continue;
        throw err;
      }
      const chain = [issuer.record.certificate!, ...issuer.record.chain];
      return {
        serial_number: serial,
        certificate: pem,
        issuing_ca: chain[0]!,
        ca_chain: chain,
        expiration: notAfter.toISOString(),
      };
    }
  }

  async #sealKey(serial: string, pkcs8: Buffer): Promise<{ wrapped: string; blob: string }> {
    const { plaintext, wrapped } = await this.#keyProvider.generateDataKey(keyContext(serial));
    try {
      const sealed = seal(plaintext, pkcs8, { secretId: `pki/cert/${serial}`, versionId: 'private-key' });
      return { wrapped, blob: sealed.blob };
    } finally {
      plaintext.fill(0);
    }
  }

  /** 128 random bits as 32 hex digits (the first byte is never 0, so the DER and hex forms stay canonical). */
  #nextSerial(): string {
    for (;;) {
      const bytes = this.#randomSerial();
      if (bytes.length !== 16) throw new RangeError('a serial needs 16 bytes');
      if (bytes[0] !== 0) return bytes.toString('hex');
    }
  }

  /** CA certificates are not tracked as issued certificates: their serials need not be unique among leaves. */
  async #withSerial<T>(create: (serialNumber: string) => Promise<T>): Promise<T> {
    return create(this.#nextSerial());
  }

  async #publishCrl(): Promise<CrlRecord> {
    for (let attempt = 0; ; attempt++) {
      const issuer = await this.#issuer();
      const current = await this.#store.get<CrlRecord>(PK_CRL, CRL_SK);
      const revoked = (await this.#all<RevokedRecord>(PK_REVOKED)).filter(
        (item) => item.data.issuerKeyRef === issuer.record.keyRef,
      );
      const crlNumber = (current?.data.crlNumber ?? 0) + 1;
      const thisUpdate = this.#clock.now();
      const nextUpdate = thisUpdate + this.#crlLifetimeMs;
      const crl = await X509CrlGenerator.create(
        {
          issuer: issuer.cert!.subjectName,
          thisUpdate: new Date(thisUpdate),
          nextUpdate: new Date(nextUpdate),
          entries: revoked.map((item) => ({
            serialNumber: item.data.serial,
            revocationDate: new Date(item.data.revokedAt),
          })),
          extensions: [
            new Extension('2.5.29.20', false, derInteger(crlNumber)),
            ...(issuer.keyId === undefined ? [] : [new AuthorityKeyIdentifierExtension(issuer.keyId)]),
          ],
          signingKey: issuer.ext.privateKey,
          signingAlgorithm: issuer.ext.signingAlgorithm,
        },
        issuer.ext.crypto,
      );
      const record: CrlRecord = {
        crlNumber,
        issuerKeyRef: issuer.record.keyRef,
        thisUpdate,
        nextUpdate,
        // OpenSSL and most tools only read the RFC 7468 label 'X509 CRL'.
        crl: pemText(PemConverter.encode(crl.rawData, 'X509 CRL')),
      };
      try {
        await this.#store.transact([
          {
            type: 'put',
            pk: PK_CRL,
            sk: CRL_SK,
            data: record,
            condition: current === undefined ? { kind: 'absent' } : { kind: 'rev', rev: current.rev },
          },
        ]);
        return record;
      } catch (err) {
        // Another writer published meanwhile; rebuild so the CRL number still only ever grows.
        if (err instanceof ConditionFailedError && attempt < 5) continue;
        throw err;
      }
    }
  }

  async #hasIssuer(): Promise<boolean> {
    return (await this.#store.get(PK_CA, 'root')) !== undefined;
  }

  /** The issuing CA: the intermediate once its certificate is set, else the root. */
  async #issuer(): Promise<OpenedCa> {
    const intermediate = await this.#open('intermediate');
    if (intermediate?.cert !== undefined) return intermediate;
    const root = await this.#open('root');
    if (root?.cert === undefined) throw new InvalidRequestError('no CA: generate a root CA first (pki root generate)');
    return root;
  }

  async #open(slot: CaSlot): Promise<OpenedCa | undefined> {
    const item = await this.#store.get<CaRecord>(PK_CA, slot);
    if (item === undefined) return undefined;
    const cached = this.#opened.get(slot);
    if (cached !== undefined && cached.rev === item.rev && cached.record.keyRef === item.data.keyRef) return cached;
    const signer = await this.#caKeys.open(item.data.keyRef, item.data.keyType);
    const cert = item.data.certificate === undefined ? undefined : new X509Certificate(item.data.certificate);
    const opened: OpenedCa = {
      slot,
      rev: item.rev,
      record: item.data,
      signer,
      ext: externalKey(signer),
      cert,
      keyId: cert?.getExtension(SubjectKeyIdentifierExtension)?.keyId,
    };
    this.#opened.set(slot, opened);
    return opened;
  }

  async #all<T extends ItemData>(pk: string): Promise<StoredItem<T>[]> {
    const out: StoredItem<T>[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.#store.query<T>(pk, { limit: PAGE, ...(startAfter === undefined ? {} : { startAfter }) });
      out.push(...page.items);
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return out;
  }
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

function keyContext(serial: string) {
  return { engine: 'pki', serial, purpose: 'private-key' };
}

/** A subject holding only a CN, built structurally so a CN with ',' or '=' cannot inject other attributes. */
function subjectName(commonName: string): Name {
  if (commonName.length === 0 || commonName.length > 64) {
    throw new ValidationError('common_name must be 1–64 characters');
  }
  return new Name([{ CN: [commonName] }]);
}

function resolveTtl(role: PkiRole, requested: number | undefined): number {
  const ttl = requested ?? role.ttl;
  if (ttl <= 0) throw new ValidationError('ttl must be positive');
  if (ttl > role.max_ttl) {
    throw new ValidationError(`ttl refused: ${ttl}s exceeds the role's max_ttl of ${role.max_ttl}s`);
  }
  return ttl;
}

function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) throw new ValidationError('a role name is 1–128 letters, digits, "_", "." or "-"');
}

/** Accepts `0a1b…`, `0A:1B:…` and the like; returns lower-case hex without separators. */
export function normaliseSerial(serial: string): string {
  const hex = serial.trim().toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{1,40}$/.test(hex)) throw new ValidationError('a serial number is hexadecimal, up to 20 bytes');
  return hex;
}

async function parseCsr(pem: string): Promise<Pkcs10CertificateRequest> {
  try {
    return new Pkcs10CertificateRequest(pem);
  } catch {
    throw new ValidationError('csr is not a PEM or DER PKCS#10 certificate request');
  }
}

function parseCertificate(pem: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ValidationError(`${field} is not a PEM X.509 certificate`);
  }
}

/**
 * RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING. Computed here rather than by the library,
 * which parses and re-exports the key for it (a sixth of the cost of an issue).
 */
function subjectKeyIdentifier(spki: Uint8Array): SubjectKeyIdentifierExtension {
  let offset = 0;
  const header = (): number => {
    offset++; // tag
    const first = spki[offset++]!;
    if (first < 0x80) return first;
    let length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = (length << 8) | spki[offset++]!;
    return length;
  };
  header(); // SubjectPublicKeyInfo SEQUENCE
  const algorithmLength = header(); // AlgorithmIdentifier, skipped (read first: `offset += header()` reads stale offset)
  offset += algorithmLength;
  const bitStringLength = header();
  const key = spki.subarray(offset + 1, offset + bitStringLength); // after the unused-bits byte
  return new SubjectKeyIdentifierExtension(createHash('sha1').update(key).digest('hex'));
}

/** PEM ending in a newline, so concatenated chains stay parseable. */
function pemText(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** DER INTEGER of a non-negative safe integer (the CRL number). */
function derInteger(value: number): ArrayBuffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.unshift(rest % 256);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  if (bytes[0]! >= 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]).buffer;
}
