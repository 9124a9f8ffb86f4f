import { createHash } from 'node:crypto';

/** One hardcoded secret: where it is and which rule found it, but never the secret itself. */
export interface Finding {
  /** e.g. `@secretlint/secretlint-rule-aws`, `coffer/jwt`. */
  readonly ruleId: string;
  readonly message: string;
  /** Relative to the working directory for files; relative to the repository root for history and staged blobs. */
  readonly path: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  /** The commit that introduced the text (`--git-history` only). */
  readonly commit?: string;
  /** The first characters of the secret, then its length: enough to recognise it, not enough to use it. */
  readonly redacted: string;
  /** Stable across runs and line moves: rule + path + SHA-256 of the secret (see `fingerprintOf`). */
  readonly fingerprint: string;
}

/** Characters of a secret that may be shown: 4, or fewer for secrets shorter than 16 characters. */
export function redact(secret: string): string {
  const shown = Math.min(4, Math.floor(secret.length / 4));
  return `${secret.slice(0, shown)}…(${secret.length} chars)`;
}

/**
 * The key of a finding in a baseline and of a SARIF result in GitHub code scanning. It holds a hash of the secret, not
 * the secret, and no line number, so a finding keeps its fingerprint when lines move above it.
 */
export function fingerprintOf(ruleId: string, path: string, secret: string): string {
  const secretHash = createHash('sha256').update(secret, 'utf8').digest('hex');
  return createHash('sha256').update(`${ruleId}\0${path}\0${secretHash}`, 'utf8').digest('hex');
}
