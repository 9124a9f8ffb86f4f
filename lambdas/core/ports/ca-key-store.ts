/**
 * The PKI engine's signing-key port, in the core like every port so that its adapters need not import the engine.
 * A CA's private key lives behind it and never reaches the engine: the engine
 * hands over the bytes to sign (a TBSCertificate, a TBSCertList, a CertificationRequestInfo) and gets a signature.
 *
 * Adapters: `adapters/local/pki-keys` (key generated in process, sealed by the `KeyProvider`, stored in the `Store`)
 * and `adapters/aws/kms-ca-signer` (a KMS asymmetric key: KMS `Sign`, the key is never exportable).
 */

/** Key types a CA may use: the ones both adapters (and KMS `KeySpec`) support. */
export const CA_KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type CaKeyType = (typeof CA_KEY_TYPES)[number];

export interface CaSigner {
  /** Opaque reference the adapter can re-open the key by (a local id, a KMS key ARN). Never key material. */
  readonly keyRef: string;
  readonly keyType: CaKeyType;
  /** DER SubjectPublicKeyInfo of the key. */
  readonly spki: Uint8Array;
  /**
   * Signs `data` with the key's one scheme: ECDSA with SHA-256 (P-256) or SHA-384 (P-384), RSASSA-PKCS1-v1_5 with
   * SHA-256 (RSA). Returns the signature as X.509 carries it: DER `Ecdsa-Sig-Value` for ECDSA, raw for RSA.
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface CaKeyStore {
  /** Which adapter, for describe/audit ('local', 'kms'). */
  readonly kind: string;
  /** Generates a new key. `label` is descriptive only (e.g. 'root', 'intermediate'). */
  create(keyType: CaKeyType, label: string): Promise<CaSigner>;
  /** Re-opens a key made by `create`. Throws `NotFoundError` if it does not exist. */
  open(keyRef: string, keyType: CaKeyType): Promise<CaSigner>;
}

/** The hash each CA key type signs with. */
export function caHash(keyType: CaKeyType): 'SHA-256' | 'SHA-384' {
  return keyType === 'ec-p384' ? 'SHA-384' : 'SHA-256';
}
