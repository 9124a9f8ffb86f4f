import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AuditPrincipal } from '../core/audit/audit-types.ts';
import {
  isCofferError,
  PayloadTooLargeError,
  PermissionDeniedError,
  UnauthenticatedError,
  ValidationError,
} from '../core/errors.ts';
import { evaluate } from '../core/policy/policy-engine.ts';
import type { Principal, RequestContext } from '../core/principal.ts';
import type { BrokerDeps } from './broker-deps.ts';
import { errorBody, toHttpError } from './http-errors.ts';
import type { BrokerRequest, BrokerResponse } from './http-types.ts';
import type { AccessCheck, RouteContext, RouteDef, RouteInput } from './route.ts';
import { RouteTable } from './route-table.ts';

export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** Logs server-side failures without request data (which may hold secrets): only the error's name and stack. */
export type ErrorReporter = (requestId: string, err: unknown) => void;

const defaultReporter: ErrorReporter = (requestId, err) => {
  const name = err instanceof Error ? err.name : typeof err;
  const stack = err instanceof Error ? err.stack?.split('\n').slice(1, 6).join('\n') : '';
  process.stderr.write(`[coffer] request ${requestId} failed: ${name}\n${stack ?? ''}\n`);
};

/**
 * The one broker handler: routing, validation, authentication, authorisation and audit for every entry point
 * (local HTTP server and API Gateway). Business rules live in the core services it calls.
 */
export class Broker {
  private readonly table: RouteTable;
  private readonly maxBodyBytes: number;

  constructor(
    private readonly deps: BrokerDeps,
    routes: readonly RouteDef[],
    private readonly reportError: ErrorReporter = defaultReporter,
  ) {
    this.table = new RouteTable(routes);
    this.maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  async handle(req: BrokerRequest): Promise<BrokerResponse> {
    const started = performance.now();
    const requestId = randomUUID();
    const context: RequestContext = { requestId, sourceIp: req.sourceIp, now: this.deps.clock.now() };
    const match = this.table.match(req.method, req.rawPath);
    if (match.kind !== 'found') {
      const status = match.kind === 'method' ? 405 : 404;
      const code = match.kind === 'method' ? 'method_not_allowed' : 'not_found';
      const message = match.kind === 'method' ? `method ${req.method} not allowed here` : 'no such endpoint';
      return json(status, errorBody({ status, code, message, exposed: true }, requestId), requestId);
    }
    const { route } = match;
    let audited = !this.deps.audit.excluded(route.operation, '');
    let principal: Principal | undefined;
    // HMAC'd once per request: both records carry it.
    let auditPrincipal: AuditPrincipal | undefined;
    let auditPath = '';
    let requestAudited = false;
    const about = () => ({
      requestId,
      operation: route.operation,
      path: auditPath,
      sourceIp: req.sourceIp,
      principal: auditPrincipal,
    });
    try {
      const input = this.parseInput(route, match.params, req);
      const check = route.access?.(input);
      auditPath = check?.path ?? route.resource?.(input) ?? '';
      audited = !this.deps.audit.excluded(route.operation, auditPath);
      if (route.auth !== 'none') {
        principal = await this.authenticate(req);
        auditPrincipal = this.auditPrincipal(principal);
      }
      if (audited) {
        await this.deps.audit.request({
          ...about(),
          request: this.deps.audit.redact(auditable(input), route.sensitive ?? []),
          durable: route.mutating,
        });
        requestAudited = true;
      }
      const ctx: RouteContext = {
        requestId,
        principal,
        request: context,
        deps: this.deps,
        authorize: (c) => this.authorize(principal, c, context),
      };
      if (check !== undefined) await ctx.authorize(check);
      const result = await route.handle(input, ctx);
      const status = result.status ?? 200;
      const body = result.body === undefined ? '' : JSON.stringify(result.body);
      if (audited) {
        await this.deps.audit.response({
          ...about(),
          outcome: 'ok',
          status,
          response: isPlainObject(result.body) ? this.deps.audit.redact(result.body, route.sensitive ?? []) : undefined,
          latencyMs: round(performance.now() - started),
          durable: route.mutating,
        });
      }
      return json(status, body, requestId);
    } catch (err) {
      const httpError = toHttpError(err);
      if (!httpError.exposed) this.reportError(requestId, err);
      if (audited && (requestAudited || !isCofferError(err) || err.code !== 'audit_unavailable')) {
        try {
          // A request refused before its request record (bad input, bad token) still leaves a record of the refusal.
          await this.deps.audit.response({
            ...about(),
            outcome: httpError.status === 403 || httpError.status === 401 ? 'denied' : 'error',
            status: httpError.status,
            errorCode: httpError.code,
            latencyMs: round(performance.now() - started),
            durable: route.mutating,
          });
        } catch (auditErr) {
          const failure = toHttpError(auditErr);
          return json(failure.status, errorBody(failure, requestId), requestId);
        }
      }
      return json(httpError.status, errorBody(httpError, requestId), requestId);
    }
  }

  private parseInput(
    route: RouteDef,
    params: Record<string, string>,
    req: BrokerRequest,
  ): RouteInput<unknown, unknown, unknown> {
    const parsedParams = validate(route.params, params, 'path');
    const query = validate(route.query, req.query, 'query');
    let body: unknown;
    if (route.body !== undefined) {
      const raw = req.body ?? Buffer.alloc(0);
      if (raw.length > this.maxBodyBytes) {
        throw new PayloadTooLargeError(`request body exceeds ${this.maxBodyBytes} bytes`);
      }
      const type = req.headers['content-type'];
      if (raw.length > 0 && type !== undefined && !/^application\/(.+\+)?json\b/i.test(type)) {
        throw new ValidationError('content-type must be application/json');
      }
      let decoded: unknown = {};
      if (raw.length > 0) {
        try {
          decoded = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new ValidationError('request body is not valid JSON');
        }
      }
      body = validate(route.body, decoded, 'body');
    }
    return { params: parsedParams, query, body };
  }

  private async authenticate(req: BrokerRequest): Promise<Principal> {
    if (req.iamArn !== undefined && this.deps.resolveIamPrincipal !== undefined) {
      const principal = await this.deps.resolveIamPrincipal(req.iamArn);
      if (principal === undefined) throw new UnauthenticatedError('no Coffer identity is mapped to this IAM principal');
      return principal;
    }
    if (req.headers.authorization?.startsWith('AWS4-') === true) {
      if (this.deps.sigv4 === undefined) throw new UnauthenticatedError('SigV4-signed requests are not accepted here');
      return (await this.deps.sigv4.verify(req)).principal;
    }
    const token = bearerToken(req.headers);
    if (token === undefined)
      throw new UnauthenticatedError('missing token: send X-Coffer-Token or Authorization: Bearer');
    const record = await this.deps.tokens.authenticate(token);
    return this.deps.tokens.toPrincipal(record);
  }

  private async authorize(
    principal: Principal | undefined,
    check: AccessCheck,
    context: RequestContext,
  ): Promise<void> {
    if (principal === undefined) throw new UnauthenticatedError('authentication required');
    const policies = await this.deps.policies.resolve(principal.policies);
    const decision = evaluate(policies, { path: check.path, capability: check.capability, principal, context });
    if (!decision.allowed) {
      throw new PermissionDeniedError(`permission denied: ${check.capability} on ${check.path}`);
    }
  }

  private auditPrincipal(principal: Principal | undefined): AuditPrincipal | undefined {
    if (principal === undefined) return undefined;
    return {
      type: principal.type,
      id: principal.type === 'token' ? this.deps.audit.hmac(principal.id) : principal.id,
      displayName: principal.displayName,
      policies: principal.policies,
    };
  }
}

function validate(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (schema === undefined) return {};
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : where}: ${issue.message}`);
  throw new ValidationError(`invalid ${where}: ${issues.join('; ')}`);
}

function bearerToken(headers: Readonly<Record<string, string>>): string | undefined {
  const direct = headers['x-coffer-token'];
  if (direct !== undefined && direct.length > 0) return direct;
  const auth = headers.authorization;
  if (auth === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(auth);
  return match?.[1];
}

function auditable(input: RouteInput<unknown, unknown, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of [input.params, input.query, input.body]) {
    if (isPlainObject(part)) Object.assign(out, part);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function json(status: number, body: string, requestId: string): BrokerResponse {
  const headers: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store' };
  if (body.length > 0) headers['content-type'] = 'application/json';
  return { status: body.length === 0 && status === 200 ? 204 : status, headers, body };
}
