/**
 * The policy model. A policy is a named list of path rules; a principal carries policy names, and every request is
 * checked against the union of its policies (see `policy-engine.ts`). Deny by default: no matching rule, no access.
 */

/**
 * What a rule may grant on a path. `sudo` guards privileged `sys/` operations; `deny` is not a grant but a veto that
 * beats every allow on the same path.
 */
export const CAPABILITIES = ['create', 'read', 'update', 'delete', 'list', 'rotate', 'sudo', 'deny'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** The capabilities a request can ask for: nobody "requests" a deny. */
export type RequestedCapability = Exclude<Capability, 'deny'>;

/**
 * A resource a request or an engine setting names, with the capability the engine will use it for: `read` on
 * `secrets/<name>` for a credential it will read, `update` on `pki/issue/<role>` for a role it will issue from.
 * The caller must hold it when it configures the engine; the engine later acts only within it.
 */
export interface ResourceReference {
  readonly path: string;
  readonly capability: RequestedCapability;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * Extra facts that must hold for a rule to apply. All given conditions must hold (logical AND). For an allow rule an
 * unmet condition withholds the grant; for a deny rule it switches the veto off.
 */
export interface PolicyConditions {
  /** IPv4/IPv6 CIDRs the caller's source address must fall in. An IPv4-mapped IPv6 source counts as its IPv4. */
  sourceCidrs?: string[];
  /** Local time window in `timezone`; may wrap midnight (`22:00`–`06:00`). `start` is inclusive, `end` exclusive. */
  timeOfDay?: { start: string; end: string };
  /** Local weekdays in `timezone` on which the rule applies. */
  weekdays?: Weekday[];
  /**
   * IANA time zone for `timeOfDay` and `weekdays`.
   * @default 'UTC'
   */
  timezone?: string;
  /** ISO-8601 instant at which the rule stops applying (a time-boxed grant). */
  notAfter?: string;
  /**
   * Regions the request must act in (as AWS's `aws:RequestedRegion`): its SigV4 signing region, `X-Coffer-Region`
   * or the node's home region. Absent: every region.
   */
  regions?: string[];
}

export interface PolicyRule {
  /** A path pattern: literal segments, `+` for exactly one segment, an optional trailing `*` prefix glob, templates. */
  path: string;
  capabilities: Capability[];
  conditions?: PolicyConditions;
}

export interface PolicyDocument {
  name: string;
  description?: string;
  rules: PolicyRule[];
}

/** The built-in policy that grants everything. It cannot be written or deleted. */
export const ROOT_POLICY_NAME = 'root';
