import { PermissionDeniedError, ValidationError } from '../errors.ts';
import { evaluate } from '../policy/policy-engine.ts';
import { type PolicyDocument, type RequestedCapability, ROOT_POLICY_NAME } from '../policy/policy-types.ts';
import type { Principal, PrincipalCeiling, RequestContext } from '../principal.ts';

/**
 * The rules every credential derived from another (a child token, an access key, an IAM mapping) obeys: it never does
 * more than its creator. Policy names are checked when it is created; its ceilings are checked on every request.
 */

/**
 * Longest chain of non-root creators a credential may descend from. Every request evaluates each ceiling, so the chain
 * must stay short; 32 is far beyond any real delegation.
 */
export const MAX_CEILINGS = 32;
/**
 * Bound on the serialised ceilings of one credential: they are stored in its item (DynamoDB allows 400 KB) and read on
 * every request. Only chains of creators with very large metadata come near it.
 */
export const MAX_CEILINGS_CHARS = 128 * 1024;

/** Whether `principal` holds the built-in `root` policy, which may grant anything. */
export function holdsRoot(principal: Pick<Principal, 'policies'>): boolean {
  return principal.policies.includes(ROOT_POLICY_NAME);
}

/**
 * Refuses to let a creator without root hand out policies it does not hold itself.
 * @throws PermissionDeniedError naming the policies (already validated names, never secret input).
 * @example assertGrantable(creator, ['app'], 'an access key')
 */
export function assertGrantable(creator: Pick<Principal, 'policies'>, policies: readonly string[], what: string): void {
  if (holdsRoot(creator)) return;
  const extra = [...new Set(policies.filter((policy) => !creator.policies.includes(policy)))].sort();
  if (extra.length > 0) {
    throw new PermissionDeniedError(`${what} cannot have policies its creator lacks: ${extra.join(', ')}`, {
      details: { policies: extra },
    });
  }
}

/** Tells which policy names exist; `PolicyService` is one. */
export interface PolicyCatalog {
  /** The names among `names` that name no policy. */
  missing(names: readonly string[]): Promise<string[]>;
}

/** Where policy names are listed: `list` on it is what it takes to learn which policies exist. */
export const POLICY_LIST_PATH = 'sys/policies';

/**
 * Refuses a credential that names a policy that does not exist. Such a name grants nothing today, so it is a typo or a
 * stale name, and it is a dangling grant: whoever later creates a policy of that name would silently widen every
 * credential that already carries it.
 *
 * Whether a name exists is told only to a creator who may know it: for a policy it holds, or, for one it does not
 * hold (which only a `root` holder may grant), when `mayListPolicies` says it may list policy names. Any other name
 * is left to `assertGrantable`, which refuses it with the same 403 whether or not it exists.
 * @throws ValidationError naming the missing policies.
 * @throws PermissionDeniedError when a root holder that may not list policies names one it does not hold.
 * @example await assertPoliciesExist(policyService, caller, ['ci-read'], 'an access key', () => mayList(caller))
 */
export async function assertPoliciesExist(
  catalog: PolicyCatalog,
  creator: Pick<Principal, 'policies'>,
  policies: readonly string[],
  what: string,
  mayListPolicies: () => Promise<boolean>,
): Promise<void> {
  const held = policies.filter((policy) => creator.policies.includes(policy));
  const others = policies.filter((policy) => !creator.policies.includes(policy));
  let checked: readonly string[] = held;
  if (others.length > 0 && holdsRoot(creator)) {
    if (!(await mayListPolicies())) {
      throw new PermissionDeniedError(
        `${what} can name a policy its creator does not hold only when the creator may list policies (list on ${POLICY_LIST_PATH})`,
      );
    }
    checked = policies;
  }
  if (checked.length === 0) return;
  const missing = await catalog.missing(checked);
  if (missing.length === 0) return;
  const named = missing.map((name) => JSON.stringify(name)).join(', ');
  const which =
    missing.length === 1
      ? `policy ${named} does not exist (create it first)`
      : `policies ${named} do not exist (create them first)`;
  throw new ValidationError(`${what} cannot name a policy that does not exist: ${which}`, {
    details: { policies: missing },
  });
}

/**
 * The ceilings of a credential derived from `creator`: the creator's own, then the creator itself. Only a creator whose
 * sole policy is `root` adds none of its own, since it is allowed every canonical path; root next to other policies
 * is not (a more specific rule or a deny of theirs still binds it), so such a creator bounds what it derives.
 * @throws PermissionDeniedError when the chain would exceed `MAX_CEILINGS`.
 */
export function ceilingsFrom(creator: Principal): PrincipalCeiling[] {
  const ceilings = [...(creator.ceilings ?? [])];
  const onlyRoot = creator.policies.length > 0 && creator.policies.every((policy) => policy === ROOT_POLICY_NAME);
  if (!onlyRoot) {
    ceilings.push({
      id: creator.id,
      name: creator.displayName,
      metadata: { ...creator.metadata },
      policies: [...creator.policies],
    });
  }
  if (ceilings.length > MAX_CEILINGS) {
    throw new PermissionDeniedError(`credentials can be derived from at most ${MAX_CEILINGS} non-root creators`);
  }
  if (JSON.stringify(ceilings).length > MAX_CEILINGS_CHARS) {
    throw new PermissionDeniedError(
      'the chain of creators is too large to derive another credential from (their identity metadata is too long)',
    );
  }
  return ceilings;
}

/** Resolves policy names to documents; `PolicyService` is one. */
export interface PolicyDocumentSource {
  resolve(names: readonly string[]): Promise<PolicyDocument[]>;
}

/**
 * Whether every creator `principal` was derived from, as it was then, is also allowed `access`. The broker asks this
 * after the principal's own policies allowed the request. Each ceiling is evaluated with the creator's own identity,
 * so templates resolve as they did for the creator.
 */
export async function allowedByCeilings(
  policies: PolicyDocumentSource,
  principal: Principal,
  access: { readonly path: string; readonly capability: RequestedCapability },
  context: RequestContext,
): Promise<boolean> {
  return (await ceilingDenial(policies, principal, access, context)) === undefined;
}

/**
 * Why a ceiling of `principal` refuses `access`, or `undefined` when none does. The reason says only that a creator's
 * ceiling refused: the creator's policies are not the caller's, so their rules are not shown (a caller who may read
 * them can ask `policy test` with `--policy`).
 */
export async function ceilingDenial(
  policies: PolicyDocumentSource,
  principal: Principal,
  access: { readonly path: string; readonly capability: RequestedCapability },
  context: RequestContext,
): Promise<string | undefined> {
  for (const ceiling of principal.ceilings ?? []) {
    const creator: Principal = {
      type: principal.type,
      id: ceiling.id,
      displayName: ceiling.name,
      policies: ceiling.policies,
      metadata: ceiling.metadata,
    };
    const documents = await policies.resolve(ceiling.policies);
    if (!evaluate(documents, { ...access, principal: creator, context }).allowed) return CEILING_REASON;
  }
  return undefined;
}

/** The reason a ceiling refused; see `ceilingDenial`. */
export const CEILING_REASON =
  "this credential's own policies allow it, but a credential it was derived from does not (a derived credential never does more than its creator)";
