/**
 * The key-wrapping port of envelope encryption. Data keys are generated and wrapped by the provider (a root key file
 * locally, KMS on AWS); the core only ever holds plaintext data keys in memory.
 *
 * The encryption context is authenticated, not secret: unwrapping with a different context must fail. This binds a
 * wrapped data key to the secret and version it was made for.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

export interface GeneratedDataKey {
  /** 32 random bytes. The caller must not persist it. */
  readonly plaintext: Buffer;
  /** Opaque, self-describing wrapped form (includes which root key wrapped it). Safe to store. */
  readonly wrapped: string;
}

export interface KeyProvider {
  /** A stable identifier of the provider and its current root key, for describe/audit. Never key material. */
  describe(): { provider: string; keyId: string };
  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey>;
  /** Throws `DecryptionFailureError` if the wrapped key or the context were tampered with. */
  unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer>;
  /** Re-wraps a data key under the current root key (after a root-key rotation). */
  rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string>;
  /** True if `wrapped` was made by the current root key, so re-wrapping can skip it. */
  isCurrent(wrapped: string): boolean;
}
