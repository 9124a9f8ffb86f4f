/**
 * One audit record. Request and response records of one call share `requestId`.
 *
 * Sensitive strings (secret values, tokens, accessors, request tokens) appear only as `hmac-sha256:<hex>` computed
 * with the install's audit salt, so an operator can search for a known value (`coffer audit hash`) without the log
 * revealing it.
 */
export interface AuditPrincipal {
  readonly type: string;
  /** HMAC'd when it is a token accessor; IAM ARNs are kept as they are. */
  readonly id: string;
  readonly displayName: string;
  readonly policies: readonly string[];
}

/** A policy path and the capability checked on it. */
export interface AuditAccess {
  readonly path: string;
  readonly capability: string;
}

/** A refused access, with the reason the caller was given (`permission denied: <capability> on <path>: <reason>`). */
export interface AuditDenial extends AuditAccess {
  /** Absent when the refusal was not a policy decision (e.g. no principal). */
  readonly reason?: string;
}

/**
 * What the response record of a login attempt (`auth.login`) says of it, success or refusal: enough to count and
 * search logins by method, mount and role, and never a credential.
 */
export interface AuditLogin {
  /** The auth method's type: `approle`, `jwt`, … */
  readonly method: string;
  /** The mount path under `/v1/auth/`. */
  readonly mount: string;
  /** The matched role, once the credential named one (a refusal may come before). */
  readonly role?: string;
  /**
   * Who logged in within the mount (an AppRole role id, a JWT subject, a user name) as its HMAC: the same workload
   * has the same value across logins, searchable with `coffer audit hash`, never readable. On successes only.
   */
  readonly alias?: string;
}

export interface AuditRecord {
  /**
   * `request` before an operation runs, `response` after it; `system` for what the log records about itself
   * (a recovered torn write, a continuation in a new file after rotation, a head anchor that does not match).
   */
  readonly type: 'request' | 'response' | 'system';
  /** ISO-8601 time. */
  readonly time: string;
  readonly requestId: string;
  /** Operation name, e.g. `secret.read`, `token.create`. */
  readonly operation: string;
  /** The policy path the operation acts on, e.g. `secrets/prod/db`. */
  readonly path: string;
  readonly sourceIp: string;
  readonly principal?: AuditPrincipal;
  /** Request parameters, already HMAC'd where sensitive. */
  readonly request?: Readonly<Record<string, unknown>>;
  /** Response: `ok`, `denied` or `error`. */
  readonly outcome?: 'ok' | 'denied' | 'error';
  readonly status?: number;
  readonly errorCode?: string;
  /** Response data, already HMAC'd where sensitive. */
  readonly response?: Readonly<Record<string, unknown>>;
  readonly latencyMs?: number;
  /**
   * On a response: every access the request was granted through an enforced check, the route's own and those of the
   * resources it names inside its body or settings (`references`), so the log shows what the request acted with.
   */
  readonly grants?: readonly AuditAccess[];
  /** On a refused response: the access that was refused, and why. */
  readonly denied?: AuditDenial;
  /** On the response to a login attempt that reached a mounted method: method, mount, role (see {@link AuditLogin}). */
  readonly login?: AuditLogin;
  /** Facts of a `system` record, e.g. `{ discardedBytes: 37 }`. Never secret material. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What a sink writes: the record plus its place in the hash chain. */
export interface ChainedAuditRecord extends AuditRecord {
  readonly seq: number;
  /** Hash of the previous chained record (hex), or 64 zeros for the first. */
  readonly prev: string;
  /** sha256 over `prev` and the canonical record without `hash`. */
  readonly hash: string;
}
