import type * as z from 'zod';
import { InvalidRequestError } from '../core/errors.ts';
import type { Capability } from '../core/policy/policy-types.ts';
import type { Principal, RequestContext } from '../core/principal.ts';
import type { SecretService } from '../core/secrets/secret-service.ts';
import type { BrokerDeps } from './broker-deps.ts';
import type { Feature } from './features.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A policy check: the capability a caller needs on a policy path. */
export interface AccessCheck {
  readonly path: string;
  readonly capability: Exclude<Capability, 'deny'>;
  /**
   * The region the access is for, when it is not the request's own: replicating a secret creates it in the replica
   * regions, so the caller must be allowed there too (a policy's `regions` condition). @default the request's region
   */
  readonly region?: string;
}

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
}

export interface RouteContext {
  readonly requestId: string;
  /** Undefined only on routes with `auth: 'none'`. */
  readonly principal: Principal | undefined;
  readonly request: RequestContext;
  readonly deps: BrokerDeps;
  /** For handlers whose required capability depends on state (e.g. upsert: create vs update). Throws if denied. */
  authorize(check: AccessCheck): Promise<void>;
  /** The same decision without throwing, for handlers that filter (list) or report per item (batch get). */
  isAllowed(check: AccessCheck): Promise<boolean>;
  /** The region of a SigV4 caller's credential scope; AWS-compatible operations put it in the ARNs they create. */
  readonly signingRegion: string | undefined;
  /**
   * The region the request acts in: the SigV4 signing region, else the `X-Coffer-Region` header, else the node's home
   * region. Secrets are regional: names are unique per region, listings show one region's.
   */
  readonly region: string;
  /** The secrets of `region` (`deps.regionalSecrets.in(region)`). */
  readonly secrets: SecretService;
  /** The verified TLS client certificate (DER) of the request's transport, for certificate login. */
  readonly clientCertificate?: Uint8Array | undefined;
}

/**
 * How a route speaks: Coffer's native REST shape, or the AWS JSON 1.1 protocol (`POST /`, the operation named by
 * `X-Amz-Target`, errors as `{"__type", "message"}`) of the AWS-compatible facades.
 */
export type RouteProtocol = 'coffer' | 'aws-json';

export interface RouteResult<T = unknown> {
  /** @default 200 */
  readonly status?: number;
  readonly body: T;
  /**
   * Bytes sent as they are instead of `body` as JSON, for documents with a media type of their own (a DER CRL at a
   * distribution point). Never for secret material: raw bodies are not HMAC'd into the audit log, only left out.
   */
  readonly raw?: { readonly contentType: string; readonly bytes: Buffer };
  /** Headers added to the answer (a warning the answer's body also carries). Never secret material. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A login's facts, for the audit record (`login`, the alias HMAC'd by the broker) and the login metrics
   * (`BrokerDeps.onLogin`). Only login routes set it.
   */
  readonly login?: LoginFacts;
}

/** What a successful login tells the broker: the method, the mount and the matched role, and who logged in. */
export interface LoginFacts {
  readonly method: string;
  readonly mount: string;
  readonly role: string;
  /** Who logged in within the mount (`LoginOutcome.alias`); recorded only as its HMAC. */
  readonly alias: string;
}

/**
 * One API operation: its HTTP shape, the schemas that validate it (also the source of the OpenAPI document), the
 * access it needs, and the one service call it makes. Handlers stay thin: parse, call, map.
 */
export interface RouteDef<P = unknown, Q = unknown, B = unknown, R extends z.ZodType = z.ZodType> {
  readonly operation: string;
  readonly method: HttpMethod;
  /** @default 'coffer' */
  readonly protocol?: RouteProtocol;
  /** For `aws-json` routes: the `X-Amz-Target` value that selects this operation, e.g. `secretsmanager.GetSecretValue`. */
  readonly target?: string;
  /** Literal segments, `{param}` for one segment, or a final `{param+}` for the rest of the path (may hold '/'). */
  readonly path: string;
  readonly summary: string;
  /** @default 'token' */
  readonly auth?: 'none' | 'token';
  /**
   * The optional feature(s) the operation belongs to; when the runtime was composed without one, the broker answers
   * the one "not enabled" error before any policy check. @default none: every runtime offers it
   */
  readonly feature?: Feature | readonly Feature[];
  /** Mutating requests are audited durably (fsync) before they are acknowledged. */
  readonly mutating: boolean;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /**
   * The JSON body of a successful answer (`NoContent` for none). The handler's result is typed by it, the OpenAPI
   * document describes it, and the broker checks answers against it under test (`checkResponses`). The AWS-compatible
   * operations follow AWS's shapes and leave it out.
   */
  readonly response?: R;
  /** The success statuses the handler answers with. @default [200] */
  readonly statuses?: readonly SuccessStatus[];
  /** Checked before the handler runs, so a denied request never touches data. */
  readonly access?: (input: RouteInput<P, Q, B>) => AccessCheck | undefined;
  /** Field names whose values are HMAC'd in the audit log. */
  readonly sensitive?: readonly string[];
  /**
   * `omit` records a successful answer as `{ omitted: true, bytes }` instead of its body: for large public documents
   * (the OpenAPI document, CRLs) that would otherwise fill the audit log with copies of what anyone can fetch.
   * Status, latency and grants are kept. @default 'record'
   */
  readonly auditResponse?: 'record' | 'omit';
  /**
   * The answer may be response-wrapped (`X-Coffer-Wrap-TTL` or Vault's `X-Vault-Wrap-TTL`): it holds a credential
   * that is better handed over through a single-use wrapping token than shown to whoever relays it.
   * @default false: a wrap header is refused
   */
  readonly wrappable?: boolean;
  /**
   * Resources the request names inside its body or engine settings (another secret whose value an engine will read,
   * a PKI role it will issue from, a connection it will use), each with the capability the engine will use it for.
   * The broker authorises every one for the caller, after `access` and before the handler, and records them in the
   * audit log: an engine never acts on a resource its configurer could not. May read state (e.g. a stored config's
   * settings), never write it.
   */
  readonly references?: (input: RouteInput<P, Q, B>, ctx: RouteContext) => Promise<readonly AccessCheck[]>;
  /** The policy path recorded in the audit log when the handler does its own access checks. */
  readonly resource?: (input: RouteInput<P, Q, B>) => string;
  handle(input: RouteInput<P, Q, B>, ctx: RouteContext): Promise<RouteResult<Answer<z.output<R>>>>;
}

/** A response shape as a handler may build it: from services' readonly records as well as fresh objects. */
type Answer<T> = T extends readonly (infer U)[]
  ? readonly Answer<U>[]
  : T extends object
    ? { readonly [K in keyof T]: Answer<T[K]> }
    : T;

export type SuccessStatus = 200 | 201 | 202 | 204;

/**
 * Keeps each route's input and result types inferred from its schemas while the route table stays homogeneous: a
 * handler that returns anything but its `response` shape does not compile.
 */
export function defineRoute<P, Q, B, R extends z.ZodType = z.ZodUnknown>(route: RouteDef<P, Q, B, R>): RouteDef {
  return route as unknown as RouteDef;
}

/** Marks every route of an engine's table as belonging to `feature` (a route's own declaration wins). */
export function withFeature(feature: Feature | readonly Feature[], routes: readonly RouteDef[]): RouteDef[] {
  return routes.map((route) => (route.feature === undefined ? { ...route, feature } : route));
}

/**
 * Refuses a request outside the node's home region: rotation, the engines and API-key registrations keep their
 * configs with the home region's secrets, so acting on them from another region would act on the wrong secrets.
 *
 * @throws InvalidRequestError (InvalidRequestException) naming both regions
 */
export function requireHomeRegion(ctx: RouteContext, operation: string): void {
  const home = ctx.deps.regionalSecrets.homeRegion;
  if (ctx.region !== home) {
    throw new InvalidRequestError(
      `${operation} is available only in this node's home region (${home}), not in ${ctx.region}.`,
    );
  }
}

/** Marks every route of a table as home-region only (see `requireHomeRegion`), checked before its handler runs. */
export function homeRegionOnly(routes: readonly RouteDef[]): RouteDef[] {
  return routes.map((route) => ({
    ...route,
    handle(input, ctx) {
      requireHomeRegion(ctx, route.operation);
      return route.handle(input, ctx);
    },
  }));
}
