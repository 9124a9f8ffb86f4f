/**
 * Types of the access-key auth method: AWS-style access key pairs, so that unmodified AWS SDKs and CLIs can call
 * Coffer's AWS-compatible APIs by signing their requests with Signature Version 4.
 *
 * The secret access key is a shared secret (SigV4 is an HMAC), so unlike a token it cannot be stored as a hash: it is
 * sealed under its own data key, exactly like a secret version.
 */

import type { PrincipalCeiling } from '../../principal.ts';

/** Prefix of every access key id Coffer issues ("Coffer" in the style of AWS's `AKIA`). */
export const ACCESS_KEY_ID_PREFIX = 'AKCF';

/** Store partition of the access-key method: sk = access key id → `AccessKeyItem`. */
export const ACCESS_KEY_PARTITION = 'access-keys';

/** `purpose` of the encryption context under which every secret access key's data key is wrapped. */
export const ACCESS_KEY_PURPOSE = 'access-key';

export type AccessKeyStatus = 'active' | 'inactive';

/** What is known about an access key, safe to return from listings: never holds the secret, sealed or not. */
export interface AccessKeyRecord {
  readonly accessKeyId: string;
  /**
   * Identity name of whoever holds the key, e.g. `ci-pipeline`: the principal's name in templated policies and audit.
   * A creator without root can only give its own.
   */
  readonly principal: string;
  readonly policies: string[];
  /** Identity metadata the key acts with: its non-root creator's. Absent = none. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Its non-root creators, as they were when it was created; see `Principal.ceilings`. Absent = none. */
  readonly ceilings?: readonly PrincipalCeiling[];
  /** Epoch ms. */
  readonly createdAt: number;
  /** Only an `active` key authenticates requests. */
  readonly status: AccessKeyStatus;
}

interface SealedAccessKey extends AccessKeyRecord {
  /** base64 iv || ciphertext || tag of the secret access key (see `crypto/envelope.ts`). */
  readonly sealed: string;
  /** The data key that sealed it, wrapped by the key provider under `{ purpose, accessKeyId }`. */
  readonly wrappedKey: string;
}

/**
 * Stored form: the record plus the envelope-sealed secret access key. A mapped type rather than an interface, so it
 * satisfies the store's `ItemData`.
 */
export type AccessKeyItem = { [K in keyof SealedAccessKey]: SealedAccessKey[K] };

/** Options of `AccessKeyService.create`. */
export interface CreateAccessKeyRequest {
  /**
   * Identity name of the holder: 1–64 characters of `A-Z a-z 0-9 + = , . @ _ -` (IAM user-name characters). Naming
   * anyone but the creator needs root. @default the creator's identity name
   */
  principal?: string | undefined;
  /** Policy names attached to the key. @default [] */
  policies?: string[] | undefined;
}

/** Options of `AccessKeyService.import`: an existing pair, such as LocalStack's `test`/`test`. */
export interface ImportAccessKeyRequest extends CreateAccessKeyRequest {
  /** 1–128 characters of `A-Z a-z 0-9`. */
  accessKeyId: string;
  /** 1–128 printable ASCII characters. */
  secretAccessKey: string;
}

/** A newly created or imported key. `secretAccessKey` is shown exactly once: only its sealed form is stored. */
export interface CreatedAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly record: AccessKeyRecord;
}

/** What the SigV4 verifier needs to check a signature: the plaintext secret and the key's record. */
export interface AccessKeySecret {
  readonly secret: string;
  readonly record: AccessKeyRecord;
}
