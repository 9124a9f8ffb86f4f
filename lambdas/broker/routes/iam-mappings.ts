import * as z from 'zod';
import * as api from '../../api/index.ts';
import { assertPoliciesExist, POLICY_LIST_PATH } from '../../core/auth/derived-credentials.ts';
import { UnauthenticatedError } from '../../core/errors.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';

/**
 * Which IAM callers (as API Gateway's IAM authoriser reports them) get which Coffer policies. Changing a mapping
 * grants access, so it needs `sudo` on `auth/iam/mappings`, and without root only the caller's own policies can be
 * mapped (the service enforces it); reading needs `read`.
 */
const MAPPINGS_PATH = 'auth/iam/mappings';
const PutBody = z
  .object({
    pattern: z.string().min(1).max(2048).describe('An IAM or STS ARN; a trailing * matches a prefix'),
    policies: z.array(z.string().min(1).max(128)).min(1).max(64),
  })
  .strict();
const DeleteQuery = z.object({ pattern: z.string().min(1).max(2048) }).strict();

function mappings(deps: BrokerDeps) {
  return requireService(deps, 'iamPrincipals');
}

export const iamMappingRoutes: RouteDef[] = [
  defineRoute({
    operation: 'iam.mapping.put',
    method: 'PUT',
    path: '/v1/auth/iam/mappings',
    summary: 'Map IAM callers whose ARN matches a pattern to Coffer policies (replaces that pattern’s mapping)',
    mutating: true,
    response: api.IamMapping,
    body: PutBody,
    access: () => ({ path: MAPPINGS_PATH, capability: 'sudo' }),
    async handle({ body }, { deps, principal, isAllowed }) {
      if (principal === undefined) throw new UnauthenticatedError('authentication required');
      const service = mappings(deps);
      await assertPoliciesExist(deps.policies, principal, body.policies, 'an IAM mapping', () =>
        isAllowed({ path: POLICY_LIST_PATH, capability: 'list' }),
      );
      return { body: await service.put(body.pattern, body.policies, principal) };
    },
  }),
  defineRoute({
    operation: 'iam.mapping.list',
    method: 'GET',
    path: '/v1/auth/iam/mappings',
    summary: 'List the IAM caller mappings',
    mutating: false,
    response: api.IamMappingList,
    access: () => ({ path: MAPPINGS_PATH, capability: 'read' }),
    async handle(_input, { deps }) {
      return { body: { mappings: await mappings(deps).list() } };
    },
  }),
  defineRoute({
    operation: 'iam.mapping.delete',
    method: 'DELETE',
    path: '/v1/auth/iam/mappings',
    summary: 'Remove the mapping of one pattern',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    query: DeleteQuery,
    access: () => ({ path: MAPPINGS_PATH, capability: 'sudo' }),
    async handle({ query }, { deps }) {
      await mappings(deps).delete(query.pattern);
      return { status: 204, body: undefined };
    },
  }),
];
