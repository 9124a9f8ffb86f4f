import { createHmac } from 'node:crypto';

/** The shortest per-install salt accepted: the HMAC key must be as strong as the hash it keys. */
export const MIN_AUDIT_SALT_BYTES = 32;

/** Prefix of every hashed value in the audit log, so a reader can tell a hash from a literal. */
export const AUDIT_HMAC_PREFIX = 'hmac-sha256:';

/**
 * Hashes sensitive strings for the audit log with HMAC-SHA256 keyed by the install's audit salt (Vault semantics).
 *
 * The salt makes the hashes useless for offline guessing by anyone who only has the log, while an operator holding
 * the salt can compute the hash of a known value (`coffer audit hash <value>`) and search the log for it.
 *
 * @example
 * ```ts
 * const hasher = new AuditHasher(await readFile(saltPath));
 * hasher.hmac('s.abcdef'); // 'hmac-sha256:3f1c…'
 * ```
 */
export class AuditHasher {
  readonly #salt: Buffer;

  /** @param salt the per-install audit salt, at least 32 bytes; it is copied. */
  constructor(salt: Buffer) {
    if (!Buffer.isBuffer(salt) || salt.length < MIN_AUDIT_SALT_BYTES) {
      throw new RangeError(`audit salt must be at least ${MIN_AUDIT_SALT_BYTES} bytes`);
    }
    this.#salt = Buffer.from(salt);
  }

  /** `hmac-sha256:` followed by the lowercase hex HMAC of `value` (strings are hashed as UTF-8). */
  hmac(value: string | Buffer): string {
    return AUDIT_HMAC_PREFIX + createHmac('sha256', this.#salt).update(value).digest('hex');
  }
}
