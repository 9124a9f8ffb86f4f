/**
 * Revocation of certificates Coffer issued itself, as a port: certificate login (core) asks, the PKI engine answers
 * from the revocations it records (the entries of its CRL), on every runtime alike.
 */
export type RevocationStatus = 'good' | 'revoked' | 'unknown';

export interface CertificateRevocation {
  /**
   * The status of a certificate (DER): `revoked` when one of Coffer's CAs issued it (its signature verifies) and
   * revoked it, `good` when one issued it and did not, `unknown` when none of them issued it.
   */
  revocationStatus(certificate: Uint8Array): Promise<RevocationStatus>;
}
