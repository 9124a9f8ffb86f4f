/**
 * What the PKI engine keeps in the `Store`: one partition per kind of record (CAs, roles, issued certificates, the
 * revocation list's entries, the signed CRL), and the helpers every part of the engine reads them with.
 */
import { ValidationError } from '../../core/errors.ts';
import type { CaKeyType } from '../../core/ports/ca-key-store.ts';
import type { ItemData } from '../../core/ports/store.ts';

export const PK_CA = 'pki#ca';
export const PK_ROLE = 'pki#role';
export const PK_CERT = 'pki#cert';
export const PK_REVOKED = 'pki#revoked';
export const PK_CRL = 'pki#crl';
/** The CRL partition holds one item: the CRL currently served. */
export const CRL_SK = 'current';

export type CaSlot = 'root' | 'intermediate';

export interface CaRecord extends ItemData {
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

export interface CertRecord extends ItemData {
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
  /** The secret it was issued for, by the certificate rotation engine; its expiry events name it. */
  secretName?: string;
}

export interface RevokedRecord extends ItemData {
  serial: string;
  issuerKeyRef: string;
  revokedAt: number;
  notAfter: number;
}

export interface CrlRecord extends ItemData {
  crlNumber: number;
  issuerKeyRef: string;
  thisUpdate: number;
  nextUpdate: number;
  crl: string;
}

/** Every item of a partition, page by page. */
/** 128 random bits as 32 hex digits (the first byte is never 0, so the DER and hex forms stay canonical). */
export function newSerial(randomSerial: () => Buffer): string {
  for (;;) {
    const bytes = randomSerial();
    if (bytes.length !== 16) throw new RangeError('a serial needs 16 bytes');
    if (bytes[0] !== 0) return bytes.toString('hex');
  }
}

/** Accepts `0a1b…`, `0A:1B:…` and the like; returns lower-case hex without separators. */
export function normaliseSerial(serial: string): string {
  const hex = serial.trim().toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{1,40}$/.test(hex)) throw new ValidationError('a serial number is hexadecimal, up to 20 bytes');
  return hex;
}
