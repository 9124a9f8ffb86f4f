import type { Principal, RequestContext } from '../principal.ts';
import { type CompiledConditions, compileConditions, type UnmetCondition } from './conditions.ts';
import {
  compareSpecificity,
  matchesPath,
  nonCanonicalReason,
  type ParsedPattern,
  parsePattern,
  RequestPath,
  type ResolvedPattern,
  resolvePattern,
  resolveStatic,
} from './path-pattern.ts';
import { PolicyDocumentSchema } from './policy-schema.ts';
import {
  CAPABILITIES,
  type Capability,
  type PolicyDocument,
  type RequestedCapability,
  ROOT_POLICY_NAME,
} from './policy-types.ts';

/**
 * Policy evaluation: deny by default, `deny` always wins, otherwise the most specific matching pattern decides.
 *
 * Called on every request, so documents are compiled once (cached per document object) and a request costs a string
 * comparison per rule in the common case.
 */

export interface AccessRequest {
  /** The canonical resource path, e.g. `secrets/prod/db`. */
  readonly path: string;
  readonly capability: RequestedCapability;
  readonly principal: Principal;
  readonly context: RequestContext;
}

/** Identifies one rule: `rule` is its index in the policy's `rules`. */
export interface RuleRef {
  readonly policy: string;
  readonly rule: number;
  readonly path: string;
}

/** How one rule fared; for `coffer policy test`. */
export interface ConsideredRule extends RuleRef {
  readonly matched: boolean;
  /** Conditions are only evaluated for rules whose pattern matched; `false` for the others. */
  readonly conditionsMet: boolean;
  /** The first unmet condition, with the rule's values: shown only to those who may read the policy. */
  readonly unmetCondition?: string;
}

export interface Decision {
  readonly allowed: boolean;
  /**
   * Human-readable, naming the deciding rule and any failed condition (its key and what it tests, and facts of the
   * request, never the rule's values). Depends on the path, never on whether a resource exists there, and never holds
   * secret values; a refused caller is shown it (`permission denied: <capability> on <path>: <reason>`), so it
   * names rules of the evaluated policies only.
   */
  readonly reason: string;
  /** The rule that decided; absent when no rule did (no match, non-canonical path). */
  readonly decidedBy?: RuleRef;
  /** Every rule of every policy, in order, with whether it matched. */
  readonly considered: ConsideredRule[];
}

/** The built-in policy: every capability except `deny`, on every path. */
export const ROOT_POLICY: PolicyDocument = deepFreeze({
  name: ROOT_POLICY_NAME,
  description: 'Built-in: full access to everything.',
  rules: [{ path: '*', capabilities: CAPABILITIES.filter((capability) => capability !== 'deny') }],
});

interface CompiledRule {
  readonly ref: RuleRef;
  readonly pattern: ParsedPattern;
  /** Resolved at compile time when the pattern has no templates. */
  readonly resolved: ResolvedPattern | undefined;
  readonly grants: ReadonlySet<Capability>;
  readonly denies: boolean;
  readonly conditions: CompiledConditions | undefined;
}

type CompiledPolicy =
  | { readonly valid: true; readonly rules: readonly CompiledRule[] }
  | { readonly valid: false; readonly problem: string };

interface Match {
  readonly rule: CompiledRule;
  readonly pattern: ResolvedPattern;
  readonly unmet: UnmetCondition | undefined;
}

const compiledPolicies = new WeakMap<PolicyDocument, CompiledPolicy>();
const REQUESTABLE: ReadonlySet<string> = new Set(CAPABILITIES.filter((capability) => capability !== 'deny'));
const SHOWN_PATH_LENGTH = 120;

/**
 * Decides whether `request` is allowed by the union of `policies`.
 *
 * 1. A non-canonical path is denied. 2. A matching `deny` rule whose conditions hold denies, whatever its specificity.
 * 3. Otherwise the most specific matching pattern decides (equal patterns from several policies merge): the
 *    capability must be granted by one of its rules whose conditions hold. A broader rule never rescues a more
 *    specific one whose conditions fail. 4. No match: denied.
 *
 * Documents are assumed immutable once evaluated: compilation is cached per object.
 * @example evaluate([ROOT_POLICY], { path: 'secrets/a', capability: 'read', principal, context }).allowed // true
 */
export function evaluate(policies: readonly PolicyDocument[], request: AccessRequest): Decision {
  const { capability } = request;
  const considered: ConsideredRule[] = [];
  const shownPath = showPath(request.path);
  if (!REQUESTABLE.has(capability)) {
    return { allowed: false, reason: `unknown capability ${JSON.stringify(capability)}`, considered };
  }
  const canonicalProblem = nonCanonicalReason(request.path);
  if (canonicalProblem !== undefined) {
    return { allowed: false, reason: `${shownPath} is not a canonical path: ${canonicalProblem}`, considered };
  }
  const path = new RequestPath(request.path);
  const matches: Match[] = [];
  for (const policy of policies) {
    const compiled = compilePolicy(policy);
    if (!compiled.valid) {
      // Fail closed: a corrupt document might hold denies we can no longer see.
      return {
        allowed: false,
        reason: `policy ${JSON.stringify(policy.name)} is invalid: ${compiled.problem}`,
        considered,
      };
    }
    for (const rule of compiled.rules) {
      const pattern = rule.resolved ?? resolvePattern(rule.pattern, request.principal);
      if (pattern === undefined || !matchesPath(pattern, path)) {
        considered.push(consideredRule(rule.ref, false, undefined));
        continue;
      }
      const unmet = rule.conditions?.unmet(request.context);
      considered.push(consideredRule(rule.ref, true, unmet));
      matches.push({ rule, pattern, unmet });
    }
  }

  const veto = mostSpecific(matches.filter((match) => match.rule.denies && match.unmet === undefined));
  if (veto !== undefined) {
    return deny(`${describe(veto)} denies ${capability} on ${shownPath}`, veto, considered);
  }

  // Rules that only deny take no part in choosing the deciding pattern: a deny whose conditions are off is inert.
  const granting = matches.filter((match) => match.rule.grants.size > 0);
  const best = mostSpecific(granting);
  if (best === undefined) {
    return { allowed: false, reason: `no rule grants ${capability} on ${shownPath}`, considered };
  }
  const tier = granting.filter((match) => compareSpecificity(match.pattern, best.pattern) === 0);
  const grant = tier.find((match) => match.unmet === undefined && match.rule.grants.has(capability));
  if (grant !== undefined) {
    return {
      allowed: true,
      reason: `${describe(grant)} grants ${capability} on ${shownPath}`,
      decidedBy: grant.rule.ref,
      considered,
    };
  }
  const withheld = tier.find((match) => match.rule.grants.has(capability));
  if (withheld !== undefined) {
    return deny(`${describe(withheld)} grants ${capability} but ${unmetReason(withheld.unmet!)}`, withheld, considered);
  }
  return deny(
    `most specific match ${describe(tier[0]!)} does not grant ${capability} on ${shownPath}`,
    tier[0]!,
    considered,
  );
}

/** Built field by field: spreading `ref` here made evaluation several times slower. */
function consideredRule(ref: RuleRef, matched: boolean, unmet: UnmetCondition | undefined): ConsideredRule {
  const { policy, rule, path } = ref;
  if (!matched) return { policy, rule, path, matched, conditionsMet: false };
  if (unmet === undefined) return { policy, rule, path, matched, conditionsMet: true };
  return { policy, rule, path, matched, conditionsMet: false, unmetCondition: unmet.detail };
}

/** The failed condition as a refused caller may see it: its key and test, and what the request showed. */
function unmetReason(unmet: UnmetCondition): string {
  return `its condition ${unmet.requirement} did not hold: ${unmet.observed}`;
}

function deny(reason: string, match: Match, considered: ConsideredRule[]): Decision {
  return { allowed: false, reason, decidedBy: match.rule.ref, considered };
}

function describe(match: Match): string {
  const { policy, rule, path } = match.rule.ref;
  const resolved = match.pattern.text === path ? '' : ` as ${JSON.stringify(match.pattern.text)}`;
  return `policy ${JSON.stringify(policy)} rules[${rule}] (${JSON.stringify(path)}${resolved})`;
}

/** The most specific match; among equal patterns, the first in policy order. */
function mostSpecific(matches: readonly Match[]): Match | undefined {
  let best: Match | undefined;
  for (const match of matches) {
    if (best === undefined || compareSpecificity(match.pattern, best.pattern) > 0) best = match;
  }
  return best;
}

function showPath(path: string): string {
  const shown = path.length > SHOWN_PATH_LENGTH ? `${path.slice(0, SHOWN_PATH_LENGTH)}…` : path;
  return JSON.stringify(shown);
}

function compilePolicy(policy: PolicyDocument): CompiledPolicy {
  let compiled = compiledPolicies.get(policy);
  if (compiled === undefined) {
    compiled = compileUncached(policy);
    compiledPolicies.set(policy, compiled);
  }
  return compiled;
}

function compileUncached(policy: PolicyDocument): CompiledPolicy {
  // Callers normally pass documents the service already validated; checking again costs once per document object and
  // keeps a hand-built or corrupted document from being half-understood.
  const parsed = PolicyDocumentSchema.safeParse(policy);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { valid: false, problem: issue === undefined ? 'malformed' : `${issue.path.join('.')}: ${issue.message}` };
  }
  const rules = parsed.data.rules.map((rule, index): CompiledRule => {
    const pattern = parsePattern(rule.path);
    return {
      ref: { policy: parsed.data.name, rule: index, path: rule.path },
      pattern,
      resolved: pattern.templated ? undefined : resolveStatic(pattern),
      grants: new Set(rule.capabilities.filter((capability) => capability !== 'deny')),
      denies: rule.capabilities.includes('deny'),
      conditions: rule.conditions === undefined ? undefined : compileConditions(rule.conditions),
    };
  });
  return { valid: true, rules };
}

/** Freezes a document so the compiled cache cannot drift from it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
