import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import type { AuditAccess, AuditDenial, AuditLogin, AuditPrincipal } from '../core/audit/audit-types.ts';
import { ceilingDenial } from '../core/auth/derived-credentials.ts';
import { LoginFailedError } from '../core/auth/methods/login-error.ts';
import { parseDuration } from '../core/duration.ts';
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
import { RateLimitedError } from '../core/quota/quota-errors.ts';
import { WRAP_TTL_LIMITS } from '../core/wrapping/response-wrapping.ts';
import { awsJsonValidationError } from './aws-json-validation.ts';
import type { BrokerDeps } from './broker-deps.ts';
import { checkFeatures, requireService } from './features.ts';
import { awsJsonErrorBody, errorBody, type HttpError, toAwsJsonError, toHttpError } from './http-errors.ts';
import type { BrokerRequest, BrokerResponse } from './http-types.ts';
import { CHECK_RESPONSES, checkResponse } from './response-check.ts';
import type { AccessCheck, RouteContext, RouteDef, RouteInput, RouteProtocol, RouteResult } from './route.ts';
import { type RouteMatch, RouteTable } from './route-table.ts';

export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/**
 * The deepest nesting of `{` and `[` a request body may have. Real requests need a handful of levels; refusing deeper
 * ones before parsing keeps every later walk of the value (validation, audit redaction, serialisation) far from the
 * stack limit.
 */
export const MAX_BODY_DEPTH = 64;
const SECRET_PATH_PREFIX = 'secrets/';
/** Names no statement: the document belongs to the secret, not to the caller. */
const RESOURCE_POLICY_REASON = "the secret's resource policy denies it to this caller";
/** Operation recorded for a request no route serves (404, 405, or a body too large to route on the local server). */
export const UNROUTABLE_OPERATION = 'unroutable';
/** Operation recorded for an AWS JSON request with a missing or unknown `X-Amz-Target`. */
export const UNKNOWN_AWS_OPERATION = 'aws.unknown-operation';
/** Strict: a body that is not UTF-8 is refused, never silently turned into U+FFFD. BOM kept, so JSON.parse refuses it. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Logs server-side failures without request data (which may hold secrets): the operation, the error's name and stack,
 * and the names of its causes.
 */
export type ErrorReporter = (requestId: string, err: unknown, operation: string) => void;

const defaultReporter: ErrorReporter = (requestId, err, operation) => {
  const stack = err instanceof Error ? err.stack?.split('\n').slice(1, 6).join('\n') : '';
  process.stderr.write(`[coffer] request ${requestId} ${operation} failed: ${describeError(err)}\n${stack ?? ''}\n`);
};

/**
 * An error as the log names it: its name, and a Coffer error's code and message (written to hold no secret value,
 * and an internal error's message is meant for this log), then each cause's the same way. Other errors' messages
 * stay out: a driver's may quote the data it was given.
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    if (!(current instanceof Error)) {
      parts.push(typeof current);
      break;
    }
    parts.push(isCofferError(current) ? `${current.name} (${current.code}): ${current.message}` : current.name);
    current = current.cause;
  }
  return parts.join('; caused by ');
}

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
    let context: RequestContext = { requestId, sourceIp: req.sourceIp, now: this.deps.clock.now() };
    const match = this.table.match(req.method, req.rawPath, req.headers['x-amz-target']);
    if (match.kind === 'target' && req.bodyTooLarge !== true) {
      const error = unknownOperation(match.target);
      const answer = respond('aws-json', error.status, awsJsonErrorBody(error), requestId);
      return this.unroutable(req, requestId, started, 'aws-json', UNKNOWN_AWS_OPERATION, error.type, answer);
    }
    if (match.kind !== 'found') {
      const failure: HttpError =
        req.bodyTooLarge === true
          ? toHttpError(new PayloadTooLargeError(`request body exceeds ${this.maxBodyBytes} bytes`))
          : match.kind === 'method'
            ? {
                status: 405,
                code: 'method_not_allowed',
                message: `method ${req.method} not allowed here`,
                exposed: true,
              }
            : { status: 404, code: 'not_found', message: 'no such endpoint', exposed: true };
      const answer = respond('coffer', failure.status, errorBody(failure, requestId), requestId);
      return this.unroutable(req, requestId, started, 'coffer', UNROUTABLE_OPERATION, failure.code, answer);
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
    const grants: AuditAccess[] = [];
    let denied: AuditDenial | undefined;
    let login: AuditLogin | undefined;
    let check: AccessCheck | undefined;
    const about = () => ({
      requestId,
      operation: route.operation,
      path: auditPath,
      sourceIp: req.sourceIp,
      principal: auditPrincipal,
    });
    try {
      const input = this.parseInput(route, match, req);
      // Checked before anything runs: a bad or misplaced wrap header must not cost a side effect.
      const wrapTtl = wrapTtlOf(route, req.headers);
      const wrapping = wrapTtl === undefined ? undefined : requireService(this.deps, 'wrapping');
      check = route.access?.(input);
      auditPath = check?.path ?? route.resource?.(input) ?? '';
      audited = !this.deps.audit.excluded(route.operation, auditPath);
      if (route.auth !== 'none') {
        ({ principal, signingRegion } = await this.authenticate(req));
        auditPrincipal = this.auditPrincipal(principal);
      }
      // Rate-limit quotas: once, before the request record and anything the handler would do.
      await this.deps.quotas?.enforce({ path: auditPath, sourceIp: req.sourceIp, principalId: principal?.id });
      if (audited) {
        await this.deps.audit.request({
          ...about(),
          request: this.deps.audit.redact(auditable(input), route.sensitive ?? []),
          durable: route.mutating,
        });
        requestAudited = true;
      }
      // AWS's clients say the region by signing for it; the native API (signed or not) by the header.
      const signedRegion = protocol === 'aws-json' ? signingRegion : undefined;
      const region = requestRegion(signedRegion, req.headers, this.deps.regionalSecrets.homeRegion);
      const secrets = this.deps.regionalSecrets.in(region);
      context = { ...context, region };
      const ctx: RouteContext = {
        requestId,
        principal,
        request: context,
        deps: this.deps,
        authorize: async (c) => {
          try {
            await this.authorize(principal, c, c.region === undefined ? context : { ...context, region: c.region });
          } catch (err) {
            const reason = err instanceof PermissionDeniedError ? err.details?.reason : undefined;
            denied ??= {
              path: c.path,
              capability: c.capability,
              ...(typeof reason === 'string' && { reason: this.auditedReason(reason, principal, auditPrincipal) }),
            };
            throw err;
          }
          grants.push({ path: c.path, capability: c.capability });
        },
        isAllowed: async (c) => {
          const allowed = await this.isAllowed(principal, c, context);
          this.deps.onAccessDecision?.({ requestId, path: c.path, capability: c.capability, allowed, kind: 'filter' });
          return allowed;
        },
        signingRegion,
        region,
        secrets,
        ...(req.clientCertificate !== undefined && { clientCertificate: req.clientCertificate }),
      };
      if (check !== undefined) await ctx.authorize(check);
      // An operation of a feature this runtime lacks answers the same error everywhere (to a caller allowed to ask),
      // and touches nothing.
      checkFeatures(this.deps, route.feature);
      // Resources named inside the body or settings: the engine will act on them later, so the caller must be able to.
      for (const reference of (await route.references?.(input, ctx)) ?? []) await ctx.authorize(reference);
      const answer = await route.handle(input, ctx);
      const status = answer.status ?? 200;
      if (answer.login !== undefined) {
        const { alias, ...facts } = answer.login;
        login = { ...facts, alias: this.deps.audit.hmac(alias) };
        this.deps.onLogin?.({ method: facts.method, mount: facts.mount, succeeded: true });
      }
      if (CHECK_RESPONSES) checkResponse(route, status, answer.body);
      const result =
        wrapping === undefined || wrapTtl === undefined || answer.body === undefined
          ? answer
          : { ...answer, body: { wrap_info: await wrapping.wrap(JSON.stringify(answer.body), wrapTtl, auditPath) } };
      // An AWS JSON 1.1 response always has a body, `{}` at least: SDKs parse it.
      const body = result.body === undefined ? (protocol === 'aws-json' ? '{}' : '') : JSON.stringify(result.body);
      if (audited) {
        await this.deps.audit.response({
          ...about(),
          outcome: 'ok',
          status,
          response: auditedResponse(route, result, body, (value) =>
            this.deps.audit.redact(value, wrapTtl === undefined ? (route.sensitive ?? []) : WRAPPED_SENSITIVE),
          ),
          latencyMs: round(performance.now() - started),
          ...(grants.length === 0 ? {} : { grants }),
          ...(login === undefined ? {} : { login }),
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
      const response = respond(protocol, status, body, requestId);
      if (result.headers !== undefined) Object.assign(response.headers, result.headers);
      return response;
    } catch (err) {
      const httpError = toHttpError(err);
      const awsError = protocol === 'aws-json' ? toAwsJsonError(err, route.operation) : undefined;
      // A refused login is no policy decision: its method, mount, role and reason go into the record's `denied`.
      if (err instanceof LoginFailedError) {
        denied ??= err.denial;
        if (err.mount !== undefined) {
          login = { method: err.mount.type, mount: err.mount.path, ...(err.role !== undefined && { role: err.role }) };
          this.deps.onLogin?.({ method: err.mount.type, mount: err.mount.path, succeeded: false });
        }
      }
      // A quota or a login lockout refused it before it ran: `rate_limited` or `locked_out`.
      const limited = err instanceof RateLimitedError;
      if (limited) denied ??= { path: auditPath, capability: check?.capability ?? 'update', reason: err.reason };
      if (!httpError.exposed) this.reportError(requestId, err, route.operation);
      if (audited && (requestAudited || !isCofferError(err) || err.code !== 'audit_unavailable')) {
        try {
          // A request refused before its request record (bad input, bad token) still leaves a record of the refusal.
          await this.deps.audit.response({
            ...about(),
            outcome: httpError.status === 403 || httpError.status === 401 || limited ? 'denied' : 'error',
            status: httpError.status,
            errorCode: httpError.code,
            ...(denied === undefined ? {} : { denied }),
            ...(login === undefined ? {} : { login }),
            latencyMs: round(performance.now() - started),
            durable: route.mutating,
          });
        } catch (auditErr) {
          return this.errorResponse(protocol, auditErr, requestId);
        }
      }
      const answer =
        awsError !== undefined
          ? respond(protocol, awsError.status, awsJsonErrorBody(awsError), requestId)
          : respond(protocol, httpError.status, errorBody(httpError, requestId), requestId);
      // Whole seconds, rounded up (RFC 9110); AWS SDKs ignore it and back off on the ThrottlingException itself.
      if (limited) answer.headers['retry-after'] = String(err.retryAfterSeconds);
      else if (httpError.retryAfterSeconds !== undefined) {
        answer.headers['retry-after'] = String(httpError.retryAfterSeconds);
      }
      return answer;
    }
  }

  /**
   * Records a request that no route serves, then gives `answer`. It has no operation or policy path of its own, and
   * its raw path and target are attacker-chosen text that may even hold a secret pasted into the wrong place: the
   * record keeps the method, the path only as its HMAC (searchable with `coffer audit hash`), the target only when it
   * looks like an operation name, and never the query or body. Fails closed like every other record.
   */
  private async unroutable(
    req: BrokerRequest,
    requestId: string,
    started: number,
    protocol: RouteProtocol,
    operation: string,
    errorCode: string,
    answer: BrokerResponse,
  ): Promise<BrokerResponse> {
    if (this.deps.audit.excluded(operation, '')) return answer;
    const target = req.headers['x-amz-target'];
    const facts: Record<string, unknown> = {
      method: /^[A-Z]{1,16}$/.test(req.method) ? req.method : 'invalid',
      rawPath: this.deps.audit.hmac(req.rawPath),
    };
    if (protocol === 'aws-json' && target !== undefined) {
      facts.target = SAFE_TARGET.test(target) ? target : this.deps.audit.hmac(target);
    }
    try {
      await this.deps.audit.response({
        requestId,
        operation,
        path: '',
        sourceIp: req.sourceIp,
        request: facts,
        outcome: 'error',
        status: answer.status,
        errorCode,
        latencyMs: round(performance.now() - started),
      });
    } catch (auditErr) {
      return this.errorResponse(protocol, auditErr, requestId);
    }
    return answer;
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
    match: Extract<RouteMatch, { kind: 'found' }>,
    req: BrokerRequest,
  ): RouteInput<unknown, unknown, unknown> {
    if (req.bodyTooLarge === true) throw new PayloadTooLargeError(`request body exceeds ${this.maxBodyBytes} bytes`);
    if (match.malformed !== undefined) {
      throw new ValidationError(`invalid path: ${match.malformed} is not valid percent-encoded UTF-8`, {
        details: { malformed: 'path' },
      });
    }
    if (req.rawQuery !== undefined && !isUtf8Query(req.rawQuery)) {
      throw new ValidationError('invalid query: not valid percent-encoded UTF-8', { details: { malformed: 'query' } });
    }
    const parsedParams = validate(route.params, match.params, 'path');
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
        let text: string;
        try {
          text = UTF8.decode(raw);
        } catch {
          throw new ValidationError('request body is not valid UTF-8', { details: { malformed: 'serialization' } });
        }
        if (nestedDeeperThan(text, MAX_BODY_DEPTH)) {
          throw new ValidationError(`request body is nested deeper than ${MAX_BODY_DEPTH} levels`, {
            details: { malformed: 'serialization' },
          });
        }
        try {
          decoded = JSON.parse(text);
        } catch {
          throw new ValidationError('request body is not valid JSON', { details: { malformed: 'serialization' } });
        }
      }
      body =
        route.protocol === 'aws-json' && route.body !== undefined
          ? validateAwsJson(route.body, decoded, route.sensitive ?? [])
          : validate(route.body, decoded, 'body');
    }
    return { params: parsedParams, query, body };
  }

  private async authenticate(req: BrokerRequest): Promise<{ principal: Principal; signingRegion?: string }> {
    if (req.iamOnly === true && (req.iamArn === undefined || this.deps.resolveIamPrincipal === undefined)) {
      throw new UnauthenticatedError('this API accepts only callers API Gateway authenticated by IAM (SigV4)');
    }
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
    const record = await this.deps.tokens.authenticate(token, req.sourceIp);
    return { principal: this.deps.tokens.toPrincipal(record) };
  }

  private async isAllowed(
    principal: Principal | undefined,
    check: AccessCheck,
    context: RequestContext,
  ): Promise<boolean> {
    return principal !== undefined && (await this.denial(principal, check, context)) === undefined;
  }

  /**
   * Why `check` is refused to `principal`, or `undefined` when it is allowed. The reason is shown to the caller, so it
   * names rules of the caller's own policies only, and is the same whether or not a resource exists at the path: the
   * policies decide on the path alone, and a secret's resource policy is consulted (and named) only for a caller its
   * own policies allow, who may learn whether the secret exists.
   */
  private async denial(principal: Principal, check: AccessCheck, context: RequestContext): Promise<string | undefined> {
    const policies = await this.deps.policies.resolve(principal.policies);
    const decision = evaluate(policies, { path: check.path, capability: check.capability, principal, context });
    if (!decision.allowed) return decision.reason;
    const ceiling = await ceilingDenial(this.deps.policies, principal, check, context);
    if (ceiling !== undefined) return ceiling;
    if (await this.deniedByResourcePolicy(principal, check, context)) return RESOURCE_POLICY_REASON;
    return undefined;
  }

  /** A secret's resource policy can only take access away (see `core/policy/resource-policy.ts`). */
  private async deniedByResourcePolicy(
    principal: Principal,
    check: AccessCheck,
    context: RequestContext,
  ): Promise<boolean> {
    if (!check.path.startsWith(SECRET_PATH_PREFIX)) return false;
    const regional = context.region === undefined ? this.deps.secrets : this.deps.regionalSecrets.in(context.region);
    const secret = await regional.resourcePolicyOf(check.path.slice(SECRET_PATH_PREFIX.length));
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
    const reason = await this.denial(principal, check, context);
    this.deps.onAccessDecision?.({
      requestId: context.requestId,
      path: check.path,
      capability: check.capability,
      allowed: reason === undefined,
      kind: 'enforce',
    });
    if (reason !== undefined) {
      throw new PermissionDeniedError(`permission denied: ${check.capability} on ${check.path}: ${reason}`, {
        details: { reason },
      });
    }
  }

  /**
   * A denial reason as the audit log keeps it. A templated rule shows the pattern it resolved to, which may hold the
   * caller's id; the caller may see its own, but the log keeps a token accessor only as its HMAC.
   */
  private auditedReason(reason: string, principal: Principal | undefined, audited: AuditPrincipal | undefined): string {
    if (principal === undefined || audited === undefined || audited.id === principal.id || principal.id === '') {
      return reason;
    }
    return reason.replaceAll(principal.id, audited.id);
  }

  private auditPrincipal(principal: Principal | undefined): AuditPrincipal | undefined {
    return principal === undefined ? undefined : this.deps.audit.principal(principal);
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

/** An AWS JSON body, refused in AWS's words (`N validation errors detected: ...`). */
function validateAwsJson(schema: z.ZodType, value: unknown, sensitive: readonly string[]): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw awsJsonValidationError(result.error, value, sensitive);
}

/** An `X-Amz-Target` that looks like `<service>.<Operation>`: kept in the audit record as it is. */
const SAFE_TARGET = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Whether JSON text nests `{`/`[` deeper than `limit`, found by one scan that skips strings (brackets inside them do
 * not count) without parsing or recursing. Malformed text may be miscounted, but it is refused either way.
 */
function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Whether every run of percent-escapes in a raw query string decodes to valid UTF-8. Transports decode queries
 * leniently (URLSearchParams turns `%FF` or an encoded surrogate into U+FFFD), so only the raw form shows that the
 * value received is not the value sent. A multi-byte character is always one unbroken run of escapes.
 */
function isUtf8Query(rawQuery: string): boolean {
  if (!rawQuery.includes('%')) return true;
  for (const [run] of rawQuery.matchAll(PERCENT_RUN)) {
    try {
      UTF8.decode(Buffer.from(run.replaceAll('%', ''), 'hex'));
    } catch {
      return false;
    }
  }
  return true;
}

const PERCENT_RUN = /(?:%[0-9a-fA-F]{2})+/g;

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

/** What a successful answer's response record holds: the redacted body, or only its size for `auditResponse: 'omit'`. */
/** A wrapped answer is audited as its `wrap_info`, whose token is HMAC'd (searchable, never shown). */
const WRAPPED_SENSITIVE = ['token', 'accessor'];

/** The TTL in seconds a wrap header asks for, if any. */
function wrapTtlOf(route: RouteDef, headers: Readonly<Record<string, string>>): number | undefined {
  const header = headers['x-coffer-wrap-ttl'] ?? headers['x-vault-wrap-ttl'];
  if (header === undefined || header === '') return undefined;
  if (route.wrappable !== true) {
    throw new ValidationError(`the answer of ${route.operation} cannot be response-wrapped (it holds no credential)`);
  }
  const seconds = parseDuration(/^\d+$/.test(header) ? Number(header) : header);
  if (seconds < WRAP_TTL_LIMITS.minSeconds || seconds > WRAP_TTL_LIMITS.maxSeconds) {
    throw new ValidationError(
      `wrap TTL must be between ${WRAP_TTL_LIMITS.minSeconds}s and ${WRAP_TTL_LIMITS.maxSeconds}s`,
    );
  }
  return seconds;
}

function auditedResponse(
  route: RouteDef,
  result: RouteResult,
  body: string,
  redact: (value: Record<string, unknown>) => Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (route.auditResponse === 'omit') {
    return { omitted: true, bytes: result.raw?.bytes.length ?? Buffer.byteLength(body) };
  }
  return isPlainObject(result.body) ? redact(result.body) : undefined;
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

/** The header naming the region of a request that is not SigV4-signed (the native API, the CLI's `--region`). */
export const REGION_HEADER = 'x-coffer-region';

/**
 * The region a request acts in: the credential scope of a SigV4-signed request to the AWS-compatible API (what AWS's
 * own clients sign for), else the `X-Coffer-Region` header, else the node's home region. Checked by
 * `RegionalSecrets.in` before any handler runs.
 */
function requestRegion(
  signingRegion: string | undefined,
  headers: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  return signingRegion ?? headers[REGION_HEADER] ?? home;
}
