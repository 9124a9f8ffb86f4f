/** What the SSH engine keeps in the `Store`, one partition per kind of record. */
import type { ItemData } from '../../core/ports/store.ts';

/** The CA: one item, `current`. */
export const SSH_CA_PK = 'ssh#ca';
export const SSH_ROLE_PK = 'ssh#role';
/** Every certificate signed, by serial: a create-only write keeps serials unique. */
export const SSH_CERT_PK = 'ssh#cert';
/** Certificates revoked before their expiry, by serial: the revoked-keys list is built from them. */
export const SSH_REVOKED_PK = 'ssh#revoked';
/** Live one-time passwords, by the SHA-256 of the password (the password itself is never stored). */
export const SSH_OTP_PK = 'ssh#otp';
export const CA_SK = 'current';

/** CA key types: Ed25519 sealed by the engine; ECDSA and RSA through the `CaKeyStore` port (KMS on AWS). */
export const SSH_CA_KEY_TYPES = ['ed25519', 'ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type SshCaKeyType = (typeof SSH_CA_KEY_TYPES)[number];

export interface SshCaRecord extends ItemData {
  keyType: SshCaKeyType;
  /** The CA's public key as an OpenSSH line: what sshd's `TrustedUserCAKeys` holds. */
  publicKey: string;
  /** `engine` for an Ed25519 key sealed here, else the `CaKeyStore`'s kind (`local`, `kms`). */
  keyStore: string;
  /** The `CaKeyStore`'s reference to the key (never key material). */
  keyRef?: string;
  /** Ed25519 only: the PKCS#8 key sealed under a data key wrapped by the `KeyProvider`. */
  sealed?: { wrapped: string; blob: string };
  createdAt: number;
}

export interface SshCertRecord extends ItemData {
  serial: string;
  role: string;
  keyId: string;
  principals: string[];
  validUntil: number;
  issuedAt: number;
}

export interface SshRevokedRecord extends ItemData {
  serial: string;
  publicKey: string;
  validUntil: number;
  revokedAt: number;
}

export interface SshOtpRecord extends ItemData {
  hash: string;
  role: string;
  username: string;
  ip: string;
  expiresAt: number;
}
