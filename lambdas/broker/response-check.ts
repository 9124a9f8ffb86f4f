import type { RouteDef } from './route.ts';

/**
 * Under test (`VITEST`) or when `COFFER_CHECK_RESPONSES=1`, every answer of a native route is checked against the
 * route's `response` schema before it is sent, so the OpenAPI document and the clients' types cannot drift from what
 * the handlers really return. Off in production: the types already hold there, and the check costs a walk per answer.
 */
export const CHECK_RESPONSES = process.env.VITEST !== undefined || process.env.COFFER_CHECK_RESPONSES === '1';

/** An answer that does not match its route's schema: a bug in the route, answered as a bare 500. */
export class ResponseShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseShapeError';
  }
}

/**
 * @throws ResponseShapeError naming the operation and, for each mismatch, only where it is and what kind it is: an
 * answer may hold secret material (a value, an issued key), so no value from it ever reaches the message.
 */
export function checkResponse(route: RouteDef, status: number, body: unknown): void {
  if (route.response === undefined) return;
  const problems: string[] = [];
  if (!(route.statuses ?? [200]).includes(status as 200)) problems.push(`status ${status} is not declared`);
  const parsed = route.response.safeParse(body);
  if (parsed.success) {
    // zod drops members its objects do not name; a member the schema does not name is undocumented, so it fails too.
    for (const path of undeclared(body, parsed.data, '')) problems.push(`${path} (not in the schema)`);
  } else {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(body)'} (${issue.code})`);
  }
  if (problems.length === 0) return;
  const message = `the answer of ${route.operation} does not match its response schema: ${problems.join(', ')}`;
  process.stderr.write(`[coffer] ${message}\n`);
  throw new ResponseShapeError(message);
}

/** Paths of members present (and defined) in what the handler returned but absent from what the schema kept. */
function undeclared(sent: unknown, kept: unknown, path: string): string[] {
  if (Array.isArray(sent) && Array.isArray(kept)) {
    return sent.flatMap((item, i) => undeclared(item, kept[i], `${path}${path === '' ? '' : '.'}${i}`));
  }
  if (!isObject(sent) || !isObject(kept)) return [];
  return Object.entries(sent).flatMap(([key, value]) => {
    const at = path === '' ? key : `${path}.${key}`;
    if (value === undefined) return [];
    return key in kept ? undeclared(value, kept[key], at) : [at];
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}
