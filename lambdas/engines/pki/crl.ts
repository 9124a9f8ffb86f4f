/**
 * Revocation and the certificate revocation list: revoking marks the certificate and lists it under its issuer,
 * and every change re-signs the issuing CA's CRL, whose number only ever grows. Tidy drops expired certificates.
 */
import { NotFoundError } from '../../core/errors.ts';
import type { RevocationStatus } from '../../core/ports/certificate-revocation.ts';
import type { Clock } from '../../core/ports/clock.ts';
import { queryAll, type Store, type WriteOp } from '../../core/ports/store.ts';
import { retryOnConflict } from '../../core/retry.ts';
import type { CaService } from './ca-service.ts';
import { derInteger } from './der.ts';
import { pemText } from './pem.ts';
import {
  type CaRecord,
  type CertRecord,
  CRL_SK,
  type CrlRecord,
  normaliseSerial,
  PK_CA,
  PK_CERT,
  PK_CRL,
  PK_REVOKED,
  type RevokedRecord,
} from './pki-records.ts';
import { AuthorityKeyIdentifierExtension, Extension, PemConverter, X509Certificate, X509CrlGenerator } from './x509.ts';

/** A certificate's record changes only when it is revoked or its stored key re-wrapped: a few re-reads settle it. */
const REVOKE_ATTEMPTS = 4;
/** Every revocation re-signs the CRL, so concurrent revocations of different certificates contend here. */
const PUBLISH_ATTEMPTS = 6;

export interface CrlServiceOptions {
  readonly store: Store;
  readonly cas: Pick<CaService, 'issuer' | 'hasIssuer'>;
  readonly clock: Clock;
  /** nextUpdate − thisUpdate; the CRL is re-signed once half of it has passed. */
  readonly crlLifetimeMs: number;
}

export class CrlService {
  readonly #store: Store;
  readonly #cas: Pick<CaService, 'issuer' | 'hasIssuer'>;
  readonly #clock: Clock;
  readonly #crlLifetimeMs: number;
  readonly #parsedCas = new Map<string, X509Certificate>();

  constructor(options: CrlServiceOptions) {
    this.#store = options.store;
    this.#cas = options.cas;
    this.#clock = options.clock;
    this.#crlLifetimeMs = options.crlLifetimeMs;
  }

  /** Revokes a certificate by serial and publishes a new CRL. Revoking twice is a no-op. */
  async revoke(serialInput: string): Promise<{ serial_number: string; revocation_time: string; crl_number: number }> {
    const serial = normaliseSerial(serialInput);
    const marked = await retryOnConflict(
      async () => {
        const item = await this.#store.get<CertRecord>(PK_CERT, serial);
        if (item === undefined) throw new NotFoundError(`no certificate with serial ${serial}`);
        if (item.data.status === 'revoked') return { revokedAt: item.data.revokedAt!, already: true };
        const revokedAt = this.#clock.now();
        const revoked: RevokedRecord = {
          serial,
          issuerKeyRef: item.data.issuerKeyRef,
          revokedAt,
          notAfter: item.data.notAfter,
        };
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
        return { revokedAt, already: false };
      },
      { maxAttempts: REVOKE_ATTEMPTS },
    );
    const revocationTime = new Date(marked.revokedAt).toISOString();
    if (!marked.already) {
      const crl = await this.#publish();
      return { serial_number: serial, revocation_time: revocationTime, crl_number: crl.crlNumber };
    }
    // A CRL signed before this revocation (the first attempt failed after recording it) is re-signed now.
    const published = await this.#store.get<CrlRecord>(PK_CRL, CRL_SK);
    if (published === undefined || published.data.thisUpdate < marked.revokedAt) await this.#publish();
    const crl = await this.crl();
    return { serial_number: serial, revocation_time: revocationTime, crl_number: crl.crl_number };
  }

  /**
   * Whether a certificate one of this engine's CAs issued is revoked (for certificate login). The issuing CA is found
   * by name and then proven by the certificate's signature, so a look-alike issuer name from another CA is `unknown`.
   */
  async revocationStatus(certificate: Uint8Array): Promise<RevocationStatus> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificate);
    } catch {
      return 'unknown';
    }
    for (const slot of ['intermediate', 'root'] as const) {
      const ca = (await this.#store.get<CaRecord>(PK_CA, slot))?.data;
      if (ca?.certificate === undefined) continue;
      const caCert = this.#parsedCa(ca.certificate);
      if (caCert.subject !== cert.issuer) continue;
      if (!(await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }))) continue;
      const revoked = await this.#store.get<RevokedRecord>(PK_REVOKED, serialOf(cert));
      return revoked?.data.issuerKeyRef === ca.keyRef ? 'revoked' : 'good';
    }
    return 'unknown';
  }

  /** A CA certificate parsed once per PEM (parsing costs more than a signature check; CAs change rarely). */
  #parsedCa(pem: string): X509Certificate {
    const cached = this.#parsedCas.get(pem);
    if (cached !== undefined) return cached;
    const cert = new X509Certificate(pem);
    if (this.#parsedCas.size >= 8) this.#parsedCas.clear();
    this.#parsedCas.set(pem, cert);
    return cert;
  }

  /** The current CRL of the issuing CA (PEM), re-signed first when it is missing, stale or from another CA. */
  async crl(): Promise<{ crl: string; crl_number: number; this_update: string; next_update: string }> {
    const issuer = await this.#cas.issuer();
    const current = await this.#store.get<CrlRecord>(PK_CRL, CRL_SK);
    const now = this.#clock.now();
    let record = current?.data;
    if (
      record === undefined ||
      record.issuerKeyRef !== issuer.record.keyRef ||
      now >= record.thisUpdate + this.#crlLifetimeMs / 2
    ) {
      record = await this.#publish();
    }
    return {
      crl: record.crl,
      crl_number: record.crlNumber,
      this_update: new Date(record.thisUpdate).toISOString(),
      next_update: new Date(record.nextUpdate).toISOString(),
    };
  }

  /**
   * Removes certificates that expired more than `safetyBufferSeconds` ago from the index, and their entries from
   * the CRL (an expired certificate is rejected on its dates alone), then re-signs the CRL if it changed.
   */
  async tidy(safetyBufferSeconds = 259_200): Promise<{ removed: number; removed_from_crl: number }> {
    const cutoff = this.#clock.now() - safetyBufferSeconds * 1000;
    const expired = (await queryAll<CertRecord>(this.#store, PK_CERT)).filter((item) => item.data.notAfter < cutoff);
    const staleRevoked = (await queryAll<RevokedRecord>(this.#store, PK_REVOKED)).filter(
      (item) => item.data.notAfter < cutoff,
    );
    const ops: WriteOp[] = [
      ...expired.map((item): WriteOp => ({ type: 'delete', pk: PK_CERT, sk: item.sk })),
      ...staleRevoked.map((item): WriteOp => ({ type: 'delete', pk: PK_REVOKED, sk: item.sk })),
    ];
    for (let i = 0; i < ops.length; i += 100) await this.#store.transact(ops.slice(i, i + 100));
    if (staleRevoked.length > 0 && (await this.#cas.hasIssuer())) await this.#publish();
    return { removed: expired.length, removed_from_crl: staleRevoked.length };
  }

  /** Signs and stores a new CRL; a writer that published meanwhile makes it rebuild, so the number only grows. */
  #publish(): Promise<CrlRecord> {
    return retryOnConflict(
      async () => {
        const issuer = await this.#cas.issuer();
        const current = await this.#store.get<CrlRecord>(PK_CRL, CRL_SK);
        const revoked = (await queryAll<RevokedRecord>(this.#store, PK_REVOKED)).filter(
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
      },
      { maxAttempts: PUBLISH_ATTEMPTS },
    );
  }
}

/** A certificate's serial as the engine keys it: lower-case hex without the DER sign byte. */
function serialOf(cert: X509Certificate): string {
  return normaliseSerial(cert.serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f])/, ''));
}
