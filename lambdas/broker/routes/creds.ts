import * as z from 'zod';
import { parseDuration } from '../../core/duration.ts';
import type { DynamicKind } from '../../core/leases/lease-types.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { describeLease } from './leases.ts';

const TtlBody = z
  .object({
    ttl: z
      .union([z.string().max(32), z.number().int().min(1)])
      .optional()
      .describe('e.g. "15m"; capped by the role'),
  })
  .strict();

/**
 * `GET|POST /v1/<engine>/creds/{role}` for one dynamic kind: issue a credential under a new lease. Both methods create
 * a credential at the target and a lease, so both are audited durably; POST may ask for a TTL.
 */
export function credsRoutes(options: {
  readonly kind: DynamicKind;
  /** URL and policy-path segment, e.g. `database` → `/v1/database/creds/{role}`, `database/creds/<role>`. */
  readonly engine: 'database' | 'aws';
  readonly role: z.ZodType<string>;
  readonly summary: string;
  /** Fields of the credential HMAC'd in the audit log. */
  readonly sensitive: readonly string[];
  readonly renewable: boolean;
  /** The credential under its lease, as this kind issues it. */
  readonly response: z.ZodType;
}): RouteDef[] {
  const RoleParam = z.object({ role: options.role });
  return (['GET', 'POST'] as const).map((method) =>
    defineRoute({
      operation: `${options.engine}.creds.${method === 'GET' ? 'read' : 'issue'}`,
      method,
      path: `/v1/${options.engine}/creds/{role}`,
      summary: options.summary,
      wrappable: true,
      mutating: true,
      response: options.response,
      feature: [options.engine, 'leases'],
      params: RoleParam,
      ...(method === 'POST' ? { body: TtlBody } : {}),
      sensitive: options.sensitive,
      access: ({ params }) => ({
        path: `${options.engine}/creds/${params.role}`,
        capability: method === 'GET' ? 'read' : 'update',
      }),
      async handle({ params, body }, { deps, principal }) {
        const leases = requireService(deps, 'leases');
        const ttl = (body as z.infer<typeof TtlBody> | undefined)?.ttl;
        const { lease, credential } = await leases.issue({
          kind: options.kind,
          role: params.role,
          principalId: principal?.id ?? 'anonymous',
          ttlSeconds: ttl === undefined ? undefined : parseDuration(ttl),
        });
        return {
          body: {
            ...describeLease(lease),
            leaseDuration: Math.round((lease.expiresAt - deps.clock.now()) / 1000),
            renewable: options.renewable,
            ...credential,
          },
        };
      },
    }),
  );
}
