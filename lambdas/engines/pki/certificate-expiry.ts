import type { Store, WriteOp } from '../../core/ports/store.ts';
import {
  DEFAULT_NOTIFY_BEFORE_MS,
  expiredEvent,
  expiringEvent,
} from '../../core/secrets/expiration/expiration-policy.ts';
import { certificateExpiryEvent } from '../../core/secrets/expiration/expiry-events.ts';
import { type ExpiryIndexItem, expiryEntry } from '../../core/secrets/expiration/expiry-index.ts';
import type { ExpirySource } from '../../core/secrets/expiration/expiry-sweep.ts';
import { type CertRecord, PK_CERT } from './pki-records.ts';

/**
 * The expiry index of issued certificates: `CertificateExpiring` at each lead time before a certificate's `notAfter`
 * that is still ahead when it is issued (a 24-hour certificate gets the 1-day one only), and `CertificateExpired` at
 * `notAfter`. Written in the transaction that indexes the certificate, read by the expiry sweep.
 */
export const PK_CERT_EXPIRY = 'pki#cert-expiry';

/** The index entries of a certificate issued at `issuedAt`, to add to its transaction. */
export function certificateExpiryEntries(
  serial: string,
  issuedAt: number,
  notAfter: number,
  leadsMs: readonly number[] = DEFAULT_NOTIFY_BEFORE_MS,
): WriteOp[] {
  const entry = (due: number, event: string) => expiryEntry(PK_CERT_EXPIRY, { subject: serial, event, due });
  return [
    ...leadsMs.filter((lead) => notAfter - lead > issuedAt).map((lead) => entry(notAfter - lead, expiringEvent(lead))),
    entry(notAfter, expiredEvent('time')),
  ];
}

/**
 * Certificates as an expiry source: an entry of a certificate revoked or tidied away since is dropped (a revoked
 * certificate's end is no news; the CRL lists it). Reads only the certificate's record: no CA key, no X.509 parsing.
 */
export function certificateExpirySource(store: Store): ExpirySource {
  return {
    partition: PK_CERT_EXPIRY,
    async resolve(entry: ExpiryIndexItem) {
      const cert = await store.get<CertRecord>(PK_CERT, entry.subject);
      if (cert === undefined || cert.data.status !== 'valid') return undefined;
      return certificateExpiryEvent({
        serial: cert.data.serial,
        commonName: cert.data.commonName,
        role: cert.data.role,
        secretName: cert.data.secretName,
        notAfter: cert.data.notAfter,
        event: entry.event,
        due: entry.due,
      });
    },
  };
}
