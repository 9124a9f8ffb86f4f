import * as z from 'zod';
import * as api from '../../api/index.ts';
import { ceilingDenial } from '../../core/auth/derived-credentials.ts';
import type { AccessRequest } from '../../core/policy/policy-engine.ts';
import { type Decision, evaluate, ROOT_POLICY } from '../../core/policy/policy-engine.ts';
import { CAPABILITIES } from '../../core/policy/policy-types.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';

const NameParam = z.object({ name: z.string().min(1).max(128) });

const TestBody = z
  .object({
    path: z.string().min(1).max(1024),
    capability: z.enum(CAPABILITIES).exclude(['deny']),
    /** Policies to evaluate; @default the caller's own. */
    policies: z.array(z.string().min(1).max(128)).max(64).optional(),
    sourceIp: z.string().max(64).optional(),
    /** ISO-8601 instant to evaluate time conditions at; @default now. */
    at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const policyRoutes: RouteDef[] = [
  defineRoute({
    operation: 'policy.list',
    method: 'GET',
    path: '/v1/sys/policies',
    summary: 'List policy names',
    mutating: false,
    response: api.PolicyNames,
    access: () => ({ path: 'sys/policies', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { policies: await deps.policies.list() } };
    },
  }),
  defineRoute({
    operation: 'policy.read',
    method: 'GET',
    path: '/v1/sys/policies/{name}',
    summary: 'Read a policy document',
    mutating: false,
    response: api.PolicyDocument,
    params: NameParam,
    access: ({ params }) => ({ path: `sys/policies/${params.name}`, capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: await deps.policies.get(params.name) };
    },
  }),
  defineRoute({
    operation: 'policy.write',
    method: 'PUT',
    path: '/v1/sys/policies/{name}',
    summary: 'Create or replace a policy document',
    mutating: true,
    response: api.PolicyDocument,
    params: NameParam,
    // The document's own schema lives in the core; the broker only insists on an object here.
    body: z.object({ description: z.string().optional(), rules: z.array(z.unknown()) }).passthrough(),
    access: ({ params }) => ({ path: `sys/policies/${params.name}`, capability: 'update' }),
    async handle({ params, body }, { deps }) {
      await deps.policies.put({ ...body, name: params.name });
      return { body: await deps.policies.get(params.name) };
    },
  }),
  defineRoute({
    operation: 'policy.delete',
    method: 'DELETE',
    path: '/v1/sys/policies/{name}',
    summary: 'Delete a policy',
    mutating: true,
    response: api.PolicyDeleted,
    params: NameParam,
    access: ({ params }) => ({ path: `sys/policies/${params.name}`, capability: 'delete' }),
    async handle({ params }, { deps }) {
      await deps.policies.delete(params.name);
      return { body: { name: params.name, deleted: true } };
    },
  }),
  defineRoute({
    operation: 'policy.test',
    method: 'POST',
    path: '/v1/sys/policy-test',
    summary: 'Explain whether a request would be allowed, naming the rule that decided',
    mutating: false,
    response: api.PolicyTestResult,
    body: TestBody,
    access: () => ({ path: 'sys/policy-test', capability: 'read' }),
    async handle({ body }, ctx) {
      const { deps, principal, request } = ctx;
      const names = body.policies ?? principal?.policies ?? [];
      const subject = principal ?? { type: 'token' as const, id: '', displayName: '', policies: names, metadata: {} };
      const access: AccessRequest = {
        path: body.path,
        capability: body.capability,
        principal: { ...subject, policies: names },
        context: {
          requestId: request.requestId,
          sourceIp: body.sourceIp ?? request.sourceIp,
          now: body.at === undefined ? request.now : Date.parse(body.at),
        },
      };
      let decision = await deps.policies.test(access, names);
      if (body.policies === undefined && decision.allowed && principal !== undefined) {
        // The caller's own policies: its ceilings bind them on a real request, so they bind the answer too.
        const ceiling = await ceilingDenial(deps.policies, principal, access, access.context);
        if (ceiling !== undefined) decision = { allowed: false, reason: ceiling, considered: decision.considered };
      }
      const hidden = await unreadablePolicies(names, ctx);
      if (hidden.size === 0) return { body: { policies: names, ...decision } };
      const readable = names.filter((name) => !hidden.has(name));
      const readableOnly = await deps.policies.test(access, readable);
      const held = new Set(principal?.policies ?? []);
      const explained = [...hidden].every((name) => held.has(name))
        ? withHeldRules(decision, readableOnly, hidden)
        : withoutHiddenRules(decision, access, readableOnly, hidden);
      return { body: { policies: names, ...explained } };
    },
  }),
];

/** The named policies whose rules the caller may not read (`read` on `sys/policies/<name>`). */
async function unreadablePolicies(names: readonly string[], ctx: RouteContext): Promise<Set<string>> {
  const unique = [...new Set(names)];
  const readable = await Promise.all(
    unique.map((name) => ctx.isAllowed({ path: `sys/policies/${name}`, capability: 'read' })),
  );
  return new Set(unique.filter((_, i) => !readable[i]));
}

/** The reason given when policies the caller may not read took part in the decision. */
export const HIDDEN_REASON =
  'policies the caller may not read took part in this decision: their rules are not shown (see readableOnly)';

/**
 * The decision when every policy the caller may not read is one it holds: the reason and the deciding rule are what
 * a refused request of the caller would be told (`permission denied: …: <reason>`), which names a rule and the key of
 * a failed condition but none of the rule's values. The unreadable policies' other rules stay hidden.
 */
function withHeldRules(decision: Decision, readableOnly: Decision, hidden: ReadonlySet<string>) {
  const { considered, ...readableSummary } = readableOnly;
  return {
    allowed: decision.allowed,
    reason: decision.reason,
    ...(decision.decidedBy === undefined ? {} : { decidedBy: decision.decidedBy }),
    considered,
    hiddenPolicies: [...hidden],
    readableOnly: readableSummary,
  };
}

/**
 * The decision as a caller who may not read every policy, nor holds them all, may see it: nothing beyond the outcome
 * that they could not work out from the policies they can read. Which rule decided, and whether one did, would tell what the hidden
 * policies hold (a more specific deny, no matching rule at all), so the reason says only that hidden policies took
 * part; `considered` lists the readable policies' rules (each rule's match is independent of the others), and
 * `readableOnly` explains how the readable policies alone would decide. A reason about the request itself (a
 * non-canonical path, which even the all-granting root policy refuses) is kept.
 */
function withoutHiddenRules(
  decision: Decision,
  access: AccessRequest,
  readableOnly: Decision,
  hidden: ReadonlySet<string>,
) {
  const aboutRequest = !evaluate([ROOT_POLICY], access).allowed;
  const { considered, ...readableSummary } = readableOnly;
  return {
    allowed: decision.allowed,
    reason: aboutRequest ? readableOnly.reason : HIDDEN_REASON,
    considered,
    hiddenPolicies: [...hidden],
    readableOnly: readableSummary,
  };
}
