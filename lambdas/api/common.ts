import * as z from 'zod';

/**
 * Shapes shared by the answers of several operations. This folder is the wire contract of the native API: the broker's
 * routes answer with these schemas and the clients (SDK, agent, CLI) read with them, so it imports nothing but zod.
 */

/** An instant on the wire: ISO-8601 in UTC. */
export const Instant = z.string().describe('ISO-8601 instant (UTC)');

/** The answer of an operation that has nothing to say (HTTP 204). */
export const NoContent = z.undefined();

export const StringMap = z.record(z.string(), z.string());

/** Labels to version ids as AWS's `VersionIdsToStages`: only versions that carry at least one label. */
export const StageMap = z.record(z.string(), z.array(z.string()));

/** The error body of every non-2xx native answer (`lambdas/broker/http-errors.ts`). */
export const ErrorResponse = z.object({
  error: z.object({
    code: z.string().describe('A stable code: validation, not_found, permission_denied, conflict, throttled, ...'),
    message: z.string().describe('Safe to show; never holds secret material'),
    requestId: z.string().describe('Finds the request in the audit log'),
  }),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** Who configured an engine (a rotation, a database connection), as the audit log names them. */
export const GrantedBy = z.object({ type: z.string(), id: z.string(), displayName: z.string() });
