/**
 * Leases: every dynamic credential Coffer hands out is tracked by one lease, so it can be renewed, revoked, and
 * revoked for certain when it expires.
 */

/** The kinds of dynamic credential Coffer can issue. Adding one here forces a provider into every registry. */
export type DynamicKind = 'database' | 'aws' | 'ssh' | 'oauth';

/** What each kind issues, and what its provider needs later to revoke it. Handles are stored; credentials never are. */
export interface DynamicKinds {
  database: {
    readonly credential: { readonly username: string; readonly password: string };
    readonly handle: { readonly config: string; readonly role: string; readonly username: string };
  };
  aws: {
    readonly credential: {
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
      readonly sessionToken: string;
      readonly expiration: string;
    };
    readonly handle: { readonly role: string; readonly roleArn: string; readonly accessKeyId: string };
  };
  /** A signed OpenSSH certificate, or a one-time password (the role's type decides). */
  ssh: {
    readonly credential:
      | { readonly type: 'certificate'; readonly signedKey: string; readonly serialNumber: string }
      | { readonly type: 'otp'; readonly key: string; readonly username: string; readonly ip: string };
    readonly handle:
      | {
          readonly type: 'certificate';
          readonly role: string;
          readonly serial: string;
          /** The certified public key (OpenSSH line): what the revoked-keys list names once the lease is revoked. */
          readonly publicKey: string;
          readonly validUntil: number;
        }
      | { readonly type: 'otp'; readonly role: string; readonly otpHash: string };
  };
  /** An OAuth 2.0 access token from the configured authorisation server. */
  oauth: {
    readonly credential: {
      readonly accessToken: string;
      readonly tokenType: string;
      /** The scopes the server granted (it may grant fewer than were asked for). */
      readonly scope: string;
      /** Epoch ms: the server's own expiry of the token, when it named one (`expires_in`). */
      readonly expiresAt?: number | undefined;
    };
    readonly handle: {
      readonly role: string;
      /**
       * SHA-256 (hex) of the access token: the engine keeps the token sealed under this name, since revocation
       * (RFC 7009) must present the token itself and a lease record is no place for a bearer credential.
       */
      readonly tokenHash: string;
      readonly expiresAt?: number | undefined;
    };
  };
}

export type CredentialOf<K extends DynamicKind> = DynamicKinds[K]['credential'];
export type HandleOf<K extends DynamicKind> = DynamicKinds[K]['handle'];

/** TTL limits (and an optional lease quota) of one role, as its engine stores them. */
export interface RoleLimits {
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
  /** Live leases allowed for this role; overrides the service-wide default. */
  readonly maxLeases?: number | undefined;
}

/**
 * One dynamic-secret engine, as the lease service sees it. Every method may be retried: `revoke` in particular must
 * succeed when the credential is already gone.
 */
export interface DynamicProvider<K extends DynamicKind> {
  readonly kind: K;
  /** @throws NotFoundError when the role does not exist */
  roleLimits(role: string): Promise<RoleLimits>;
  /** Creates the credential at the target, valid until `expiresAt` (epoch ms) where the target supports it. */
  issue(
    role: string,
    ttlSeconds: number,
    expiresAt: number,
    /** What the caller asked for beyond a TTL (the public key to sign, the OTP's user and host); the engine parses it. */
    request?: unknown,
  ): Promise<{
    credential: CredentialOf<K>;
    revokeHandle: HandleOf<K>;
    /**
     * Epoch ms: when the target itself ends the credential, if that is before the lease would. The lease then ends
     * with it, and no renewal moves it further (an OAuth access token's `expires_in`).
     */
    endsAt?: number | undefined;
  }>;
  /** Removes the credential at the target. Idempotent. */
  revoke(handle: HandleOf<K>): Promise<void>;
  /** Extends the credential at the target, where the target enforces an expiry of its own. */
  renew?(handle: HandleOf<K>, expiresAt: number): Promise<void>;
}

/**
 * One provider per kind. A mapped type, so a registry that forgets a kind does not compile:
 * `const registry = { database, aws } satisfies ProviderRegistry`.
 */
export type ProviderRegistry = { readonly [K in DynamicKind]: DynamicProvider<K> };

export type LeaseState = 'issuing' | 'active' | 'revoking';

export type LeaseRecord = {
  readonly leaseId: string;
  readonly kind: DynamicKind;
  /** The role path, e.g. `database/creds/app`; the lease id is this plus a random suffix. */
  readonly rolePath: string;
  readonly role: string;
  readonly principalId: string;
  state: LeaseState;
  readonly issuedAt: number;
  expiresAt: number;
  readonly maxExpiresAt: number;
  /** The TTL granted at issue: the default increment of a renewal. */
  readonly ttlSeconds: number;
  /** Key of this lease's entry in the due index: expiry while active, next attempt while revoking. */
  dueAt: number;
  revokeHandle?: Record<string, unknown> | undefined;
  /** Revocation attempts that failed so far. */
  attempts: number;
  /** Message of the last failed attempt; never holds a credential. */
  lastError?: string | undefined;
  lastAttemptAt?: number | undefined;
  revokeRequestedAt?: number | undefined;
};

/** The wire/CLI view of a lease: no handle. */
export interface LeaseView {
  readonly leaseId: string;
  readonly kind: DynamicKind;
  readonly state: LeaseState;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly maxExpiresAt: number;
  readonly attempts: number;
  readonly lastError?: string | undefined;
  readonly lastAttemptAt?: number | undefined;
}

export function viewOf(lease: LeaseRecord): LeaseView {
  return {
    leaseId: lease.leaseId,
    kind: lease.kind,
    state: lease.state,
    issuedAt: lease.issuedAt,
    expiresAt: lease.expiresAt,
    maxExpiresAt: lease.maxExpiresAt,
    attempts: lease.attempts,
    lastError: lease.lastError,
    lastAttemptAt: lease.lastAttemptAt,
  };
}

/** Store layout. Sort keys of the due index start with a fixed-width time, so "everything due by now" is a range. */
export const LEASE_PK = 'lease';
export const DUE_PK = 'lease-due';
export const FAILED_PK = 'lease-failed';
export const QUOTA_PK = 'lease-quota';
export const PREFIX_JOB_PK = 'lease-prefix-revoke';

export function dueKey(dueAt: number, leaseId: string): string {
  return `${String(Math.max(0, Math.floor(dueAt))).padStart(15, '0')}/${leaseId}`;
}
