import type { AccessRequest } from '../../../../lambdas/core/policy/policy-engine.ts';
import type { PolicyDocument, PolicyRule, RequestedCapability } from '../../../../lambdas/core/policy/policy-types.ts';
import type { Principal, RequestContext } from '../../../../lambdas/core/principal.ts';

/** Wednesday, noon UTC. */
export const NOW = Date.parse('2024-06-05T12:00:00Z');

export const ALICE: Principal = {
  type: 'token',
  id: 'acc-123',
  displayName: 'alice',
  policies: [],
  metadata: { team: 'payments' },
};

export function policy(name: string, ...rules: PolicyRule[]): PolicyDocument {
  return { name, rules };
}

export function rule(path: string, capabilities: PolicyRule['capabilities'], conditions?: PolicyRule['conditions']) {
  return conditions === undefined ? { path, capabilities } : { path, capabilities, conditions };
}

export function request(
  path: string,
  capability: RequestedCapability,
  overrides: { principal?: Partial<Principal>; sourceIp?: string; now?: number } = {},
): AccessRequest {
  const context: RequestContext = {
    requestId: 'req-1',
    sourceIp: overrides.sourceIp ?? '10.1.2.3',
    now: overrides.now ?? NOW,
  };
  return { path, capability, principal: { ...ALICE, ...overrides.principal }, context };
}
