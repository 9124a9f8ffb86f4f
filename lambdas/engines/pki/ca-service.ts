/**
 * The engine's certificate authorities: a root and an optional intermediate (signed by the root or by an external
 * CA). Their keys stay behind the `CaKeyStore`; this module keeps the records and the opened signers.
 */
import { timingSafeEqual } from 'node:crypto';
import { AlreadyExistsError, InvalidRequestError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { CaKeyStore, CaKeyType, CaSigner } from '../../core/ports/ca-key-store.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { ConditionFailedError, type Store } from '../../core/ports/store.ts';
import { subjectKeyIdentifier, subjectName } from './der.ts';
import { type ExternalKey, externalKey } from './external-signer.ts';
import { inspectPublicKey } from './leaf-keys.ts';
import { parseCertificate, parseCsr, pemText } from './pem.ts';
import { type CaRecord, type CaSlot, PK_CA } from './pki-records.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequestGenerator,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from './x509.ts';

/** Certificates are back-dated this much, so a client whose clock is a little behind accepts them at once. */
export const BACKDATE_MS = 30_000;

/** A CA whose key is open for signing, cached until its record changes. */
export interface OpenedCa {
  readonly slot: CaSlot;
  readonly rev: number;
  readonly record: CaRecord;
  readonly signer: CaSigner;
  readonly ext: ExternalKey;
  readonly cert: X509Certificate | undefined;
  readonly keyId: string | undefined;
}

export interface CaServiceOptions {
  readonly store: Store;
  readonly caKeys: CaKeyStore;
  readonly clock: Clock;
  /** A fresh certificate serial (32 hex digits). */
  readonly newSerial: () => string;
}

export class CaService {
  readonly #store: Store;
  readonly #caKeys: CaKeyStore;
  readonly #clock: Clock;
  readonly #newSerial: () => string;
  readonly #opened = new Map<CaSlot, OpenedCa>();

  constructor(options: CaServiceOptions) {
    this.#store = options.store;
    this.#caKeys = options.caKeys;
    this.#clock = options.clock;
    this.#newSerial = options.newSerial;
  }

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
    // CA certificates are not tracked as issued certificates: their serials need not be unique among leaves.
    const cert = await X509CertificateGenerator.create(
      {
        serialNumber: this.#newSerial(),
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
    const notAfter = this.notAfter(root, input.ttl);
    const name = input.common_name === undefined ? csr.subjectName : subjectName(input.common_name);
    const ski = subjectKeyIdentifier(new Uint8Array(csr.publicKey.rawData));
    const cert = await X509CertificateGenerator.create(
      {
        serialNumber: this.#newSerial(),
        subject: name,
        issuer: root.cert.subjectName,
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

  /** True once a root CA exists (a CRL can be signed). */
  async hasIssuer(): Promise<boolean> {
    return (await this.#store.get(PK_CA, 'root')) !== undefined;
  }

  /** The issuing CA: the intermediate once its certificate is set, else the root. */
  async issuer(): Promise<OpenedCa> {
    const intermediate = await this.#open('intermediate');
    if (intermediate?.cert !== undefined) return intermediate;
    const root = await this.#open('root');
    if (root?.cert === undefined) throw new InvalidRequestError('no CA: generate a root CA first (pki root generate)');
    return root;
  }

  /** The end of a certificate's validity `ttlSeconds` from now, refused when it would outlive its issuer. */
  notAfter(issuer: OpenedCa, ttlSeconds: number): Date {
    const notAfter = this.#clock.now() + ttlSeconds * 1000;
    const caNotAfter = issuer.cert!.notAfter.getTime();
    if (notAfter > caNotAfter) {
      throw new ValidationError(
        `ttl refused: the certificate would outlive the issuing CA (${issuer.cert!.notAfter.toISOString()})`,
      );
    }
    return new Date(notAfter);
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
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
