/**
 * Rotation: the vocabulary shared by the rotation service, the step handlers, the engines (rotators) and the
 * runners (Step Functions on AWS, the same definition run in-process locally).
 *
 * The contract is AWS Secrets Manager's four steps (see `/work/shared/REFERENCE.md`): createSecret stores the new
 * value as AWSPENDING, setSecret applies it at the target, testSecret proves it works, finishSecret moves AWSCURRENT.
 * Every step is idempotent and keyed by the rotation's client request token, which is also the new version's id.
 */
import type { EgressGuard } from '../egress/egress-policy.ts';
import type { ResourceReference } from '../policy/policy-types.ts';
import type { SecretValue } from '../secrets/secret-types.ts';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The engines that can rotate a secret. Adding one here forces a rotator into every registry. */
export type RotationType =
  | 'postgres-single'
  | 'postgres-alternating'
  | 'api-key-http'
  | 'api-key-coffer'
  | 'certificate';

export const ROTATION_TYPES = [
  'postgres-single',
  'postgres-alternating',
  'api-key-http',
  'api-key-coffer',
  'certificate',
] as const satisfies readonly RotationType[];

/** How a rotation was started. */
export type RotationTrigger = 'schedule' | 'on-demand' | 'breach';

/** As Secrets Manager's RotationRules: one of `automaticallyAfterDays` / `scheduleExpression`, plus a window. */
export interface RotationRules {
  /** 1–1000 days after the last rotation. */
  readonly automaticallyAfterDays?: number | undefined;
  /** `rate(N days|hours)` or `cron(min hour dom month dow year)` in UTC, as EventBridge Scheduler. */
  readonly scheduleExpression?: string | undefined;
  /** The window in which a due rotation may start, e.g. `3h` (1h–24h, as AWS). */
  readonly duration?: string | undefined;
}

/**
 * What a rotator may reach beyond its own secret: other Coffer secrets (admin or provider credentials), only those
 * its configurer was authorised to read (the config's recorded grant), each read audited; and the network, only
 * through the egress guard.
 */
export interface RotationSecrets {
  /**
   * The AWSCURRENT value of `secretId` (a name).
   * @throws RotationStepError when the secret is not in the rotation's grant; NotFoundError when it is gone
   */
  readCurrent(secretId: string): Promise<SecretValue>;
  /** Every connection a rotator makes is checked (and pinned) by this guard. */
  readonly egress: EgressGuard;
}

/**
 * The authority a rotation acts with, recorded when it was configured: who configured it, in which request, and the
 * resources (beyond the secret itself) that caller was authorised for. Rotations run later without a caller; they
 * never act beyond this.
 */
export interface RotationGrant {
  /** The configurer as the audit log names it (a token's id is its HMAC'd accessor). */
  readonly grantedBy: { readonly type: string; readonly id: string; readonly displayName: string };
  readonly requestId: string;
  /** Epoch ms. */
  readonly grantedAt: number;
  readonly references: readonly ResourceReference[];
  /**
   * Where the secret's value pointed the rotation when it was configured (see `Rotator.target`): a rotation whose
   * value names another target fails instead of acting there with the engine's credentials.
   */
  readonly target?: Readonly<Record<string, string>> | undefined;
}

/** What a rotator is given at every step. */
export interface RotatorContext<S> {
  readonly secretName: string;
  readonly arn: string;
  /** The rotation's client request token: the pending version's id. */
  readonly token: string;
  readonly settings: S;
  readonly secrets: RotationSecrets;
  /** Epoch ms. */
  readonly now: number;
  /** The AWSCURRENT value; undefined only for a secret that has none yet. */
  readonly current: SecretValue | undefined;
  /** The AWSPREVIOUS value, if any: alternating strategies restore it on rollback. */
  readonly previous: SecretValue | undefined;
  /** True when the rotation answers a breach: no grace period, revoke at once. */
  readonly breach: boolean;
}

/**
 * A non-secret reference to a credential that must be revoked later (a username, an API key id, a certificate
 * serial). Stored in the revocation queue, so it must never hold secret material.
 */
export type RevocationHandle = Readonly<Record<string, string>>;

/**
 * One rotation engine. Every method may be retried (the workflow retries transient errors and a restarted local
 * node replays an interrupted rotation from its first step), so each must be idempotent.
 *
 * Throw {@link TransientRotationError} for failures worth retrying (connection refused, timeouts, 5xx); any other
 * error fails the rotation at once and rolls it back.
 */
export interface Rotator<S = unknown> {
  readonly type: RotationType;
  /** Validates and normalises the settings of a rotation config. @throws ValidationError naming the setting */
  parseSettings(input: unknown): S;
  /**
   * The resources these settings make the rotation use, with the capability it uses them for (another secret it
   * reads, a PKI role it issues from). The configurer must hold each; a rotation whose grant lacks one fails.
   */
  references(settings: S): ResourceReference[];
  /**
   * The target a value points the rotation at, for engines that act there with a credential of their own (a database
   * admin): host, port, database and user. It is pinned in the grant when rotation is configured, so a caller who may
   * only update the secret's value cannot redirect the admin to another user or server; changing the target means
   * configuring rotation again. @throws RotationStepError when the value names no target
   */
  target?(current: SecretValue): Readonly<Record<string, string>>;
  /**
   * Checks, at configuration time, the outbound targets the settings name (a provider's URL), so a target off the
   * allow-list is refused when configured rather than at the first rotation. @throws PermissionDeniedError
   */
  checkTargets?(settings: S, egress: EgressGuard): Promise<void>;
  /**
   * createSecret: the new value, derived from the current one (same host/user fields, new password/key/cert).
   * Called at most once per token: the service stores the result as AWSPENDING under the token and reuses it.
   */
  createValue(ctx: RotatorContext<S>): Promise<SecretValue>;
  /** setSecret: applies `pending` at the target (a no-op where createValue already did). */
  setSecret(ctx: RotatorContext<S>, pending: SecretValue): Promise<void>;
  /** testSecret: proves `pending` works (logs in and probes). @throws when it does not */
  testSecret(ctx: RotatorContext<S>, pending: SecretValue): Promise<void>;
  /**
   * Undoes whatever createValue/setSecret did, so `current` (and, for alternating strategies, `previous`) works at
   * the target again and nothing made for `pending` survives. Called whatever step failed, even before setSecret
   * ran and even when `pending` is undefined (createSecret failed before storing it).
   */
  rollback(ctx: RotatorContext<S>, pending: SecretValue | undefined): Promise<void>;
  /**
   * After finishSecret, the credential that just became AWSPREVIOUS: how to revoke it, and when.
   * `afterMs` undefined means "not by time" (alternating users stay valid until the next rotation changes them,
   * certificates until they expire); a breach rotation revokes the handle at once regardless.
   * Returns undefined when there is nothing to revoke. May answer through a promise (a rotator that loads its parser
   * at first use).
   */
  retire(ctx: RotatorContext<S>, previous: SecretValue): Retired | undefined | Promise<Retired | undefined>;
  /** Revokes a retired credential. Idempotent: succeeds when it is already gone. */
  revoke(settings: S, handle: RevocationHandle, secrets: RotationSecrets): Promise<void>;
  /**
   * When the value itself asks for the next rotation (a certificate at two-thirds of its lifetime), epoch ms. May
   * answer through a promise, as `retire` may.
   */
  dueAt?(settings: S, current: SecretValue): number | undefined | Promise<number | undefined>;
}

/** What `retire` answers: how to revoke the retired credential, and when. */
export interface Retired {
  readonly handle: RevocationHandle;
  readonly afterMs?: number | undefined;
}

/**
 * One rotator per type. A mapped type, so a registry that forgets a type does not compile:
 * `const rotators = { ... } satisfies RotatorRegistry`.
 */
// biome-ignore lint/suspicious/noExplicitAny: each rotator has its own settings type
export type RotatorRegistry = { readonly [T in RotationType]: Rotator<any> & { readonly type: T } };

/** A failure worth retrying with backoff (the state machine's Retry matches this name). */
export class TransientRotationError extends Error {
  override readonly name = 'TransientRotationError';
}

/** A step found the target or the value in a state it cannot rotate from; retrying will not help. */
export class RotationStepError extends Error {
  override readonly name = 'RotationStepError';
}
