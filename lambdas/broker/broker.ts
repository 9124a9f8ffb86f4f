import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AuditPrincipal } from '../core/audit/audit-types.ts';
import { allowedByCeilings } from '../core/auth/derived-credentials.ts';
import {
  isCofferError,
  PayloadTooLargeError,
  PermissionDeniedError,
  UnauthenticatedError,
  ValidationError,
} from '../core/errors.ts';
import { evaluate } from '../core/policy/policy-engine.ts';
import {
  deniedByResourcePolicy,
  parseResourcePolicy,
  principalArn,
  type ResourcePolicyStatement,
} from '../core/policy/resource-policy.ts';
import type { Principal, RequestContext } from '../core/principal.ts';
import type { BrokerDeps } from './broker-deps.ts';
import { awsJsonErrorBody, errorBody, type HttpError, toAwsJsonError, toHttpError } from './http-errors.ts';
import type { BrokerRequest, BrokerResponse } from './http-types.ts';
import type { AccessCheck, RouteContext, RouteDef, RouteInput, RouteProtocol } from './route.ts';
import { RouteTable } from './route-table.ts';

export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
const SECRET_PATH_PREFIX = 'secrets/';

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
    const requestId = randomUUID();
    const scope = this.deps.requestScope;
    if (scope === undefined) return this.handleRequest(req, requestId);
    try {
      return await scope(requestId, () => this.handleRequest(req, requestId));
    } catch (err) {
      // The scope could not finish (e.g. the audit outbox refused the last records): the request fails closed.
      return this.errorResponse('coffer', err, requestId);
    }
  }

  private async handleRequest(req: BrokerRequest, requestId: string): Promise<BrokerResponse> {
    const started = performance.now();
    const context: RequestContext = { requestId, sourceIp: req.sourceIp, now: this.deps.clock.now() };
    const match = this.table.match(req.method, req.rawPath, req.headers['x-amz-target']);
    if (match.kind === 'target') {
      const error = unknownOperation(match.target);
      return respond('aws-json', error.status, awsJsonErrorBody(error), requestId);
    }
    if (match.kind !== 'found') {
      const status = match.kind === 'method' ? 405 : 404;
      const code = match.kind === 'method' ? 'method_not_allowed' : 'not_found';
      const message = match.kind === 'method' ? `method ${req.method} not allowed here` : 'no such endpoint';
      return respond('coffer', status, errorBody({ status, code, message, exposed: true }, requestId), requestId);
    }
    const { route } = match;
    const protocol = route.protocol ?? 'coffer';
    let audited = !this.deps.audit.excluded(route.operation, '');
    let principal: Principal | undefined;
    let signingRegion: string | undefined;
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
        ({ principal, signingRegion } = await this.authenticate(req));
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
        isAllowed: (c) => this.isAllowed(principal, c, context),
        signingRegion,
      };
      if (check !== undefined) await ctx.authorize(check);
      const result = await route.handle(input, ctx);
      const status = result.status ?? 200;
      // An AWS JSON 1.1 response always has a body, `{}` at least: SDKs parse it.
      const body = result.body === undefined ? (protocol === 'aws-json' ? '{}' : '') : JSON.stringify(result.body);
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
      if (result.raw !== undefined) {
        return {
          status,
          headers: { 'x-request-id': requestId, 'cache-control': 'no-store', 'content-type': result.raw.contentType },
          body: '',
          bytes: result.raw.bytes,
        };
      }
      return respond(protocol, status, body, requestId);
    } catch (err) {
      const httpError = toHttpError(err);
      const awsError = protocol === 'aws-json' ? toAwsJsonError(err) : undefined;
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
          return this.errorResponse(protocol, auditErr, requestId);
        }
      }
      if (awsError !== undefined) return respond(protocol, awsError.status, awsJsonErrorBody(awsError), requestId);
      return respond(protocol, httpError.status, errorBody(httpError, requestId), requestId);
    }
  }

  private errorResponse(protocol: RouteProtocol, err: unknown, requestId: string): BrokerResponse {
    if (protocol === 'aws-json') {
      const error = toAwsJsonError(err);
      return respond(protocol, error.status, awsJsonErrorBody(error), requestId);
    }
    const failure: HttpError = toHttpError(err);
    return respond(protocol, failure.status, errorBody(failure, requestId), requestId);
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
      const jsonType = route.protocol === 'aws-json' ? AWS_JSON_TYPE : JSON_TYPE;
      if (raw.length > 0 && type !== undefined && !jsonType.test(type)) {
        throw new ValidationError(
          route.protocol === 'aws-json'
            ? 'content-type must be application/x-amz-json-1.1'
            : 'content-type must be application/json',
          { details: { malformed: 'serialization' } },
        );
      }
      let decoded: unknown = {};
      if (raw.length > 0) {
        try {
          decoded = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new ValidationError('request body is not valid JSON', { details: { malformed: 'serialization' } });
        }
      }
      body = validate(route.body, decoded, 'body');
    }
    return { params: parsedParams, query, body };
  }

  private async authenticate(req: BrokerRequest): Promise<{ principal: Principal; signingRegion?: string }> {
    if (req.iamArn !== undefined && this.deps.resolveIamPrincipal !== undefined) {
      const principal = await this.deps.resolveIamPrincipal(req.iamArn);
      if (principal === undefined) throw new UnauthenticatedError('no Coffer identity is mapped to this IAM principal');
      return { principal };
    }
    if (req.headers.authorization?.startsWith('AWS4-') === true) {
      if (this.deps.sigv4 === undefined) throw new UnauthenticatedError('SigV4-signed requests are not accepted here');
      const verified = await this.deps.sigv4.verify(req);
      return { principal: verified.principal, signingRegion: verified.region };
    }
    const token = bearerToken(req.headers);
    if (token === undefined)
      throw new UnauthenticatedError('missing token: send X-Coffer-Token or Authorization: Bearer');
    const record = await this.deps.tokens.authenticate(token);
    return { principal: this.deps.tokens.toPrincipal(record) };
  }

  private async isAllowed(
    principal: Principal | undefined,
    check: AccessCheck,
    context: RequestContext,
  ): Promise<boolean> {
    if (principal === undefined) return false;
    const policies = await this.deps.policies.resolve(principal.policies);
    if (!evaluate(policies, { path: check.path, capability: check.capability, principal, context }).allowed) {
      return false;
    }
    if (!(await allowedByCeilings(this.deps.policies, principal, check, context))) return false;
    return !(await this.deniedByResourcePolicy(principal, check));
  }

  /** A secret's resource policy can only take access away (see `core/policy/resource-policy.ts`). */
  private async deniedByResourcePolicy(principal: Principal, check: AccessCheck): Promise<boolean> {
    if (!check.path.startsWith(SECRET_PATH_PREFIX)) return false;
    const secret = await this.deps.secrets.resourcePolicyOf(check.path.slice(SECRET_PATH_PREFIX.length));
    if (secret?.policy === undefined) return false;
    // Stored documents were validated when put; one that no longer parses denies rather than silently allowing.
    let statements: ResourcePolicyStatement[];
    try {
      statements = parseResourcePolicy(secret.policy, { blockPublicPolicy: false });
    } catch {
      return true;
    }
    return deniedByResourcePolicy(statements, {
      principalArn: principalArn(principal, secret.account),
      capability: check.capability,
      secretArn: secret.arn,
    });
  }

  private async authorize(
    principal: Principal | undefined,
    check: AccessCheck,
    context: RequestContext,
  ): Promise<void> {
    if (principal === undefined) throw new UnauthenticatedError('authentication required');
    if (!(await this.isAllowed(principal, check, context))) {
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

const JSON_TYPE = /^application\/(.+\+)?json\b/i;
/** AWS SDKs send 1.1; 1.0 and plain JSON are what hand-written clients and curl users reach for. */
const AWS_JSON_TYPE = /^application\/(x-amz-json-1\.[01]|json)\b/i;

function validate(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (schema === undefined) return {};
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : where}: ${issue.message}`);
  throw new ValidationError(`invalid ${where}: ${issues.join('; ')}`, { details: { malformed: where } });
}

function unknownOperation(target: string | undefined): ReturnType<typeof toAwsJsonError> {
  return {
    status: 400,
    type: 'UnknownOperationException',
    message: target === undefined ? 'Missing X-Amz-Target header' : 'Unknown operation',
    exposed: true,
  };
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

function respond(protocol: RouteProtocol, status: number, body: string, requestId: string): BrokerResponse {
  const headers: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store' };
  if (protocol === 'aws-json') {
    headers['x-amzn-requestid'] = requestId;
    headers['content-type'] = 'application/x-amz-json-1.1';
    return { status, headers, body };
  }
  if (body.length > 0) headers['content-type'] = 'application/json';
  return { status: body.length === 0 && status === 200 ? 204 : status, headers, body };
}
