/**
 * Types of the token auth method: Vault-style service tokens with a TTL, a max TTL, an optional use limit, and a
 * parent/child tree so that revoking a token revokes everything it created.
 */

import type { PrincipalCeiling, PrincipalIdentity } from '../../principal.ts';

export { parseDuration } from '../../duration.ts';

/** Prefix of every token string, so leaked tokens are recognisable by secret scanners. */
export const TOKEN_PREFIX = 'cft_';
/** Prefix of every accessor: the non-secret handle used to look up or revoke a token without holding it. */
export const ACCESSOR_PREFIX = 'acc_';

/** Store partitions of the token method (see `TokenService` for the layout). */
export const TOKEN_PARTITIONS = {
  /** sk = sha256(token) in hex → `TokenRecord`. */
  tokens: 'tokens',
  /** sk = accessor → `AccessorItem`. */
  accessors: 'token-accessors',
  /** `token-children#<parentAccessor>`, sk = child accessor → `{}`. */
  childrenPrefix: 'token-children#',
} as const;

/** What is stored about a token. Never holds the token or its hash, so it is safe to return from lookups. */
export interface TokenRecord {
  readonly accessor: string;
  readonly displayName: string;
  readonly policies: string[];
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; null = never expires (root tokens). */
  readonly expiresAt: number | null;
  /** Epoch ms beyond which renewal cannot extend the token; null = no limit (root tokens). */
  readonly maxExpiresAt: number | null;
  /** The TTL the token was created with; the default renewal increment. */
  readonly ttlSeconds: number;
  readonly renewable: boolean;
  /** Uses granted at creation; 0 = unlimited. */
  readonly numUses: number;
  /** Uses left when `numUses > 0`; equals `numUses` (0) for unlimited tokens. */
  readonly usesRemaining: number;
  /** Accessor of the token that created this one; absent for orphans. */
  readonly parentAccessor?: string;
  /** True when revoking another token never revokes this one. */
  readonly orphan: boolean;
  /** Free-form metadata chosen by the creator: a descriptive label, like `displayName`, never identity. */
  readonly meta: Readonly<Record<string, string>>;
  /**
   * Who the token acts as: the name and metadata templated policies and the audit log see. Inherited from the parent;
   * only a root-policy parent may set another. Absent on records written before identities existed (see
   * `tokenIdentity`).
   */
  readonly identity?: PrincipalIdentity;
  /** The non-root ancestors the token descends from, as they were when it was created; see `Principal.ceilings`. */
  readonly ceilings?: readonly PrincipalCeiling[];
  /** The token authenticates only from these source addresses (a login role's `token_bound_cidrs`); absent = anywhere. */
  readonly boundCidrs?: readonly string[];
}

/** Index item: accessor → the hash under which the token record is stored. */
export type AccessorItem = { readonly tokenHash: string };

/** Options of a child token. Everything is optional: the defaults give a renewable copy of the parent's policies. */
export interface CreateTokenRequest {
  /** @default the parent's policies */
  policies?: string[] | undefined;
  /** Seconds or a duration such as `'1h'`; at most the max TTL. @default the service's default TTL (capped by max) */
  ttl?: string | number | undefined;
  /** A hard limit for renewal, at most the service's max TTL. @default the service's max TTL */
  explicitMaxTtl?: string | number | undefined;
  /** @default 0 (unlimited) */
  numUses?: number | undefined;
  /** @default true */
  renewable?: boolean | undefined;
  /** A descriptive label shown by lookups; not the identity. @default 'token' */
  displayName?: string | undefined;
  /** Descriptive labels shown by lookups; not identity metadata. @default {} */
  meta?: Record<string, string> | undefined;
  /** Another identity for the child; only a root-policy parent may give one that differs from its own. @default the parent's */
  identity?: { name: string; metadata?: Record<string, string> | undefined } | undefined;
  /** Create an orphan: a token that survives the revocation of its creator. Needs a root-policy parent. @default false */
  noParent?: boolean | undefined;
}

/** Names a token either by its secret string or by its accessor. */
export type TokenTarget = { readonly token: string } | { readonly accessor: string };

/** A freshly created token. `token` is shown exactly once: only its hash is stored. */
export interface CreatedToken {
  readonly token: string;
  readonly record: TokenRecord;
}

/** What an auth-method login grants, minted by `TokenService.createForLogin` as an orphan token. */
export interface LoginTokenGrant {
  readonly policies: readonly string[];
  /** @default the service's default TTL */
  readonly ttlSeconds?: number | undefined;
  /** @default the service's max TTL */
  readonly maxTtlSeconds?: number | undefined;
  /** 0 = unlimited. */
  readonly numUses: number;
  readonly displayName: string;
  readonly identity: PrincipalIdentity;
  /** Labels; `authMount` names the mount id, so disabling the mount finds its tokens. */
  readonly meta: Readonly<Record<string, string>>;
  /** The role writer's authority, as it was when it wrote the role. */
  readonly ceilings?: readonly PrincipalCeiling[] | undefined;
  /** Source addresses the token works from; empty or absent = anywhere. */
  readonly boundCidrs?: readonly string[] | undefined;
}
