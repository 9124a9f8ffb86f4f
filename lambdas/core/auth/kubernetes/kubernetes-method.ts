import type { JWTPayload } from 'jose';
import { InternalError, ValidationError } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
import type { KubernetesTokenReviewer } from '../../ports/kubernetes-token-review.ts';
import type { ItemData } from '../../ports/store.ts';
import { DEFAULT_JWT_ALGORITHMS } from '../jwt/jwt-config.ts';
import { JwtLoginError } from '../jwt/jwt-errors.ts';
import type { JwtKeySource } from '../jwt/jwt-keys.ts';
import { type JwtVerifier, loadJwtVerifier } from '../jwt/jwt-verifier-loader.ts';
import type {
  AuthMethod,
  AuthMethodDeps,
  AuthMethodFactory,
  AuthMountRef,
  LoginContext,
  LoginOutcome,
  RoleReader,
} from '../methods/auth-method.ts';
import { sourceAllowed } from '../methods/cidrs.ts';
import {
  checkBindings,
  type ServiceAccount,
  serviceAccountAlias,
  serviceAccountFromClaims,
  serviceAccountFromReview,
  serviceAccountMetadata,
} from './kubernetes-claims.ts';
import {
  type KubernetesLogin,
  KubernetesLoginSchema,
  type KubernetesMountConfig,
  KubernetesMountConfigSchema,
  type KubernetesRole,
  KubernetesRoleSchema,
  usesTokenReview,
} from './kubernetes-config.ts';
import { KubernetesLoginError } from './kubernetes-errors.ts';

/** What a Kubernetes login answers when the runtime cannot call a cluster (AWS Lambda). */
export const NO_TOKEN_REVIEW =
  'TokenReview needs the local server; use JWKS mode on AWS (jwks_url, oidc_discovery_url or jwt_validation_pubkeys)';

/**
 * Kubernetes service accounts: a pod presents its service-account token (the projected one at
 * `/var/run/secrets/kubernetes.io/serviceaccount/token`, or a legacy secret-based one) and gets a Coffer token with
 * the policies of the role that binds its namespace and service account.
 *
 * The token is checked either by the cluster (TokenReview mode: the API server says whether it is valid now and
 * whose it is) or offline against the issuer's keys (JWKS mode, as EKS publishes them), with the JWT method's key
 * sources and checks: the `alg` allow-list (never `none` or HS*), the issuer, the audience, a required `exp`.
 */
export class KubernetesMethod implements AuthMethod<KubernetesMountConfig, KubernetesRole, KubernetesLogin> {
  readonly type = 'kubernetes' as const;
  readonly summary = 'Kubernetes service-account tokens, checked by the cluster (TokenReview) or its issuer’s JWKS';
  readonly configSchema = KubernetesMountConfigSchema;
  readonly roleSchema = KubernetesRoleSchema;
  readonly loginSchema = KubernetesLoginSchema;
  /** The reviewer token is a credential: sealed in the store, never shown. */
  readonly sealedConfig = ['token_reviewer_jwt'] as const;
  readonly #clock: Clock;
  readonly #fetch: typeof fetch | undefined;
  readonly #reviewer: KubernetesTokenReviewer | undefined;
  readonly #sources = new Map<string, { config: string; keys: JwtKeySource }>();

  constructor(deps: Pick<AuthMethodDeps, 'clock' | 'egressFetch' | 'kubernetesTokenReview'>) {
    this.#clock = deps.clock;
    this.#fetch = deps.egressFetch;
    this.#reviewer = deps.kubernetesTokenReview;
  }

  rolePolicies(role: KubernetesRole): readonly string[] {
    return role.token_policies;
  }

  /** The reviewer's token is a credential of the cluster: a mount's description says only that one is set. */
  describeConfig(config: KubernetesMountConfig): ItemData {
    const { token_reviewer_jwt, ...shown } = config;
    return { ...shown, ...(token_reviewer_jwt !== undefined && { token_reviewer_jwt_set: true }) };
  }

  async login(
    mount: AuthMountRef<KubernetesMountConfig>,
    body: KubernetesLogin,
    roles: RoleReader<KubernetesRole>,
    context: LoginContext,
  ): Promise<LoginOutcome> {
    const role = await roles.get(body.role);
    if (role === undefined) throw new KubernetesLoginError('unknown_role', 'role not found');
    const fail = (err: unknown): never => {
      if (err instanceof KubernetesLoginError) throw err.forRole(body.role);
      if (err instanceof JwtLoginError) throw new KubernetesLoginError(err.reason, err.message, body.role);
      throw err;
    };
    if (!sourceAllowed(role.token_bound_cidrs, context.sourceIp)) {
      fail(new KubernetesLoginError('source_address', 'source address not allowed by the role'));
    }
    const audience = role.audience ?? mount.config.audience;
    let account: ServiceAccount;
    try {
      account = usesTokenReview(mount.config)
        ? await this.#reviewed(mount.config, body.jwt, role, audience, context.now)
        : serviceAccountFromClaims(await this.#verified(mount, body.jwt, role, audience, context.now));
      checkBindings(role, account);
    } catch (err) {
      return fail(err);
    }
    return {
      role: body.role,
      policies: role.token_policies,
      ttlSeconds: role.token_ttl === 0 ? undefined : role.token_ttl,
      maxTtlSeconds: role.token_max_ttl === 0 ? undefined : role.token_max_ttl,
      numUses: role.token_num_uses,
      metadata: { ...serviceAccountMetadata(account), role: body.role },
      alias: serviceAccountAlias(account, role.alias_name_source),
      boundCidrs: role.token_bound_cidrs,
    };
  }

  /**
   * JWKS mode: signature, `alg` allow-list, issuer, audience and times, by jose over the mount's key source. A role
   * without an audience accepts any `aud` (projected tokens always carry one: the API server's by default), as in
   * Vault's Kubernetes method.
   */
  async #verified(
    mount: AuthMountRef<KubernetesMountConfig>,
    jwt: string,
    role: KubernetesRole,
    audience: string | undefined,
    now: number,
  ): Promise<JWTPayload> {
    const { config } = mount;
    const algorithms = [...(config.jwt_supported_algs ?? DEFAULT_JWT_ALGORITHMS)];
    const verifier = await loadJwtVerifier();
    verifier.checkForm(jwt, algorithms);
    const keys = this.#keysFor(verifier, mount);
    const issuer = config.issuer ?? (await keys.issuer());
    let payload: JWTPayload;
    try {
      ({ payload } = await keys.verify(jwt, {
        algorithms,
        ...(issuer !== undefined && { issuer }),
        ...(audience !== undefined && { audience }),
        currentDate: new Date(now),
        clockTolerance: role.clock_skew_leeway,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw verifier.toLoginError(err);
    }
    if (payload.iat !== undefined && payload.iat > Math.floor(now / 1000) + role.clock_skew_leeway) {
      throw new JwtLoginError('not_yet_valid', 'token issued in the future');
    }
    return payload;
  }

  /**
   * TokenReview mode. The token's own (unverified) claims are read first, so a token that names a namespace or
   * service account the role does not bind, or has expired, is refused without calling the cluster; the cluster's
   * answer then decides, and must name the same service account.
   */
  async #reviewed(
    config: KubernetesMountConfig & { kubernetes_host: string },
    jwt: string,
    role: KubernetesRole,
    audience: string | undefined,
    now: number,
  ): Promise<ServiceAccount> {
    if (this.#reviewer === undefined) throw new ValidationError(NO_TOKEN_REVIEW);
    const claimed = unverifiedAccount(await loadJwtVerifier(), jwt, role, now);
    checkBindings(role, claimed);
    const review = await this.#reviewer.review({
      host: config.kubernetes_host,
      caCert: config.kubernetes_ca_cert,
      reviewerJwt: config.token_reviewer_jwt ?? jwt,
      token: jwt,
      audiences: audience === undefined ? undefined : [audience],
    });
    const reviewed = serviceAccountFromReview(review);
    if (reviewed.namespace !== claimed.namespace || reviewed.name !== claimed.name) {
      throw new KubernetesLoginError('token_review', 'the cluster names another service account than the token');
    }
    if (reviewed.uid !== undefined && claimed.uid !== undefined && reviewed.uid !== claimed.uid) {
      throw new KubernetesLoginError('token_review', 'the cluster names another service account than the token');
    }
    if (audience !== undefined && !(review.audiences ?? []).includes(audience)) {
      throw new KubernetesLoginError('audience', 'audience not allowed');
    }
    return { ...claimed, ...definedOnly(reviewed) };
  }

  #keysFor(verifier: JwtVerifier, mount: AuthMountRef<KubernetesMountConfig>): JwtKeySource {
    const config = JSON.stringify(mount.config);
    const cached = this.#sources.get(mount.id);
    if (cached?.config === config) return cached.keys;
    const fetchImpl = this.#fetch;
    const { jwks_url, oidc_discovery_url, jwt_validation_pubkeys } = mount.config;
    const keys = verifier.keySourceFor(
      {
        ...(jwks_url !== undefined && { jwks_url }),
        ...(oidc_discovery_url !== undefined && { oidc_discovery_url }),
        ...(jwt_validation_pubkeys !== undefined && { jwt_validation_pubkeys }),
      },
      {
        // Static keys never fetch; a URL source on a runtime without an egress guard fails closed at its first fetch.
        fetch:
          fetchImpl ??
          (() =>
            Promise.reject(
              new InternalError('the Kubernetes method needs the egress guard to fetch keys, and has none'),
            )),
        now: () => this.#clock.now(),
      },
    );
    this.#sources.set(mount.id, { config, keys });
    return keys;
  }
}

/**
 * The service account a token's own claims name, read without checking its signature (the cluster checks it next):
 * only to refuse early what the role would refuse anyway, and to match the cluster's answer against.
 */
function unverifiedAccount(verifier: JwtVerifier, jwt: string, role: KubernetesRole, now: number): ServiceAccount {
  let claims: JWTPayload;
  try {
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jwt)) throw new Error('not a compact JWS');
    claims = verifier.decodeJwt(jwt);
  } catch {
    throw new KubernetesLoginError('malformed', 'token is not a compact JWT');
  }
  if (typeof claims.exp === 'number' && Math.floor(now / 1000) >= claims.exp + role.clock_skew_leeway) {
    throw new KubernetesLoginError('expired', 'token expired');
  }
  return serviceAccountFromClaims(claims);
}

function definedOnly(account: ServiceAccount): Partial<ServiceAccount> {
  return Object.fromEntries(Object.entries(account).filter(([, value]) => value !== undefined));
}

/** The registry's entry for `kubernetes`. */
export const KUBERNETES_METHOD = {
  type: 'kubernetes',
  create: (deps) => new KubernetesMethod(deps),
} as const satisfies AuthMethodFactory<KubernetesMountConfig, KubernetesRole, KubernetesLogin> & {
  readonly type: 'kubernetes';
};
