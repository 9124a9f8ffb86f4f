import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { allowedByCeilings, type PolicyDocumentSource } from '../../../../lambdas/core/auth/derived-credentials.ts';
import { TokenService } from '../../../../lambdas/core/auth/token/token-service.ts';
import type { CreatedToken, CreateTokenRequest } from '../../../../lambdas/core/auth/token/token-types.ts';
import { PermissionDeniedError } from '../../../../lambdas/core/errors.ts';
import { evaluate, ROOT_POLICY } from '../../../../lambdas/core/policy/policy-engine.ts';
import {
  CAPABILITIES,
  type Capability,
  type PolicyDocument,
  type PolicyRule,
  type RequestedCapability,
  ROOT_POLICY_NAME,
} from '../../../../lambdas/core/policy/policy-types.ts';
import type { Principal } from '../../../../lambdas/core/principal.ts';

/**
 * Property: along any chain of child tokens, a child is allowed (path, capability) only if its parent is, and a
 * creation that asks for more than the parent has (policies, identity, an orphan) is refused. Policies are random,
 * with templates on the identity, `+`, globs and denies; the children ask for random policies and random labels.
 */

const NAMES = ['alice', 'bob', 'carol'];
const TEAMS = ['red', 'blue'];
const SEGMENTS = ['secrets', 'users', 'teams', 'x', ...NAMES, ...TEAMS];
const POLICY_NAMES = ['p0', 'p1', 'p2', 'p3'];
const REQUESTABLE = CAPABILITIES.filter((c): c is RequestedCapability => c !== 'deny');

const segment = fc.constantFrom(...SEGMENTS);
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));

const patternPart = fc.oneof(
  { weight: 3, arbitrary: segment },
  { weight: 1, arbitrary: fc.constant('+') },
  { weight: 2, arbitrary: fc.constant('{{principal.name}}') },
  { weight: 2, arbitrary: fc.constant('{{principal.metadata.team}}') },
);
const pattern = fc
  .tuple(fc.array(patternPart, { minLength: 1, maxLength: 4 }), fc.constantFrom('none', 'child-glob', 'prefix-glob'))
  .map(([parts, ending]) => {
    const body = parts.join('/');
    if (ending === 'child-glob') return `${body}/*`;
    // A glob must not follow a template in the same segment, so only plain segments get a prefix glob.
    if (ending === 'prefix-glob' && !parts.at(-1)!.startsWith('{{') && parts.at(-1) !== '+') return `${body}*`;
    return body;
  });
const rule: fc.Arbitrary<PolicyRule> = fc.record({
  path: pattern,
  capabilities: fc.subarray([...CAPABILITIES] as Capability[], { minLength: 1 }),
});
const documents = fc
  .tuple(...POLICY_NAMES.map(() => fc.array(rule, { minLength: 1, maxLength: 4 })))
  .map((rulesPerPolicy) => rulesPerPolicy.map((rules, i): PolicyDocument => ({ name: POLICY_NAMES[i]!, rules })));

const identity = fc.record(
  {
    name: fc.constantFrom(...NAMES),
    metadata: fc.option(fc.record({ team: fc.constantFrom(...TEAMS) }), { nil: undefined }),
  },
  { requiredKeys: ['name'] },
);
const policySet = fc.subarray([...POLICY_NAMES, ROOT_POLICY_NAME]);
/** What a child asks for: random policies (subset or superset), labels that try to name someone, sometimes more. */
const childRequest: fc.Arbitrary<CreateTokenRequest> = fc.record(
  {
    policies: policySet,
    displayName: fc.constantFrom(...NAMES),
    meta: fc.record({ team: fc.constantFrom(...TEAMS) }),
    identity,
    noParent: fc.boolean(),
  },
  { requiredKeys: ['displayName', 'meta'] },
);
const probes = fc.array(fc.tuple(path, fc.constantFrom(...REQUESTABLE)), { minLength: 10, maxLength: 25 });

function source(docs: readonly PolicyDocument[]): PolicyDocumentSource {
  return {
    async resolve(names) {
      return names.flatMap((name) => (name === ROOT_POLICY_NAME ? [ROOT_POLICY] : docs.filter((d) => d.name === name)));
    },
  };
}

/** The broker's decision (`Broker.isAllowed`, resource policies aside): the principal's policies, then its ceilings. */
async function allowed(
  policies: PolicyDocumentSource,
  principal: Principal,
  probe: readonly [string, RequestedCapability],
): Promise<boolean> {
  const [probePath, capability] = probe;
  const context = { requestId: 'r', sourceIp: '127.0.0.1', now: 0 };
  const access = { path: probePath, capability };
  const own = evaluate(await policies.resolve(principal.policies), { ...access, principal, context });
  return own.allowed && (await allowedByCeilings(policies, principal, access, context));
}

function sameIdentity(a: Principal, b: { name: string; metadata?: Record<string, string> | undefined }): boolean {
  return a.displayName === b.name && JSON.stringify(a.metadata) === JSON.stringify(b.metadata ?? {});
}

describe('Derived credentials (properties)', () => {
  it('a child token is allowed only what its parent is, and asking for more is refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        documents,
        policySet,
        identity,
        fc.array(childRequest, { minLength: 1, maxLength: 5 }),
        probes,
        async (docs, firstPolicies, firstIdentity, requests, probeList) => {
          const tokens = new TokenService({ store: new MemoryStore(), clock: { now: () => 1_000 } });
          const policies = source(docs);
          const root = await tokens.createRoot();
          let parent: CreatedToken = await tokens.create(root.record, {
            policies: firstPolicies,
            identity: firstIdentity,
          });
          for (const request of requests) {
            const parentPrincipal = tokens.toPrincipal(parent.record);
            const parentIsRoot = parentPrincipal.policies.includes(ROOT_POLICY_NAME);
            const asksMore =
              !parentIsRoot &&
              ((request.policies ?? []).some((p) => !parentPrincipal.policies.includes(p)) ||
                request.noParent === true ||
                (request.identity !== undefined && !sameIdentity(parentPrincipal, request.identity)));
            let child: CreatedToken;
            try {
              child = await tokens.create(parent.record, request);
            } catch (err) {
              expect(err).toBeInstanceOf(PermissionDeniedError);
              expect(asksMore).toBe(true);
              continue;
            }
            expect(asksMore).toBe(false);
            const childPrincipal = tokens.toPrincipal(child.record);
            if (!parentIsRoot || request.identity === undefined) {
              expect(childPrincipal.displayName).toBe(parentPrincipal.displayName);
              expect(childPrincipal.metadata).toEqual(parentPrincipal.metadata);
            }
            for (const probe of probeList) {
              if (await allowed(policies, childPrincipal, probe)) {
                expect(await allowed(policies, parentPrincipal, probe)).toBe(true);
              }
            }
            parent = child;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
