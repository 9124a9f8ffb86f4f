import * as z from 'zod';
import { InternalError } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
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
import { LoginFailedError } from '../methods/login-error.ts';
import { JWT_LIMITS, type JwtMountConfig, JwtMountConfigSchema, type JwtRole, JwtRoleSchema } from './jwt-config.ts';
import { JwtLoginError } from './jwt-errors.ts';
import type { JwtKeySource } from './jwt-keys.ts';
import { type JwtVerifier, loadJwtVerifier } from './jwt-verifier-loader.ts';

/**
 * The body of `POST /v1/auth/<mount>/login`: `{ role, jwt }`. No format check on `jwt` here: its messages would
 * otherwise have to be kept from echoing it; the verifier refuses a malformed one with a fixed message.
 */
export const JwtLoginSchema = z.strictObject({
  role: z.string().min(1).max(128),
  jwt: z.string().min(1).max(JWT_LIMITS.tokenLength),
});
export type JwtLogin = z.infer<typeof JwtLoginSchema>;

/**
 * The JWT/OIDC method: a workload presents a JWT its platform issued (GitHub Actions, GitLab CI, a cloud's workload
 * identity, any OIDC provider) and gets a Coffer token with the matched role's policies. See `verifyLoginJwt` for the
 * checks and their order.
 *
 * Key sources are kept per mount (and rebuilt when its configuration changes), so a JWKS is fetched once per cache
 * period for all logins of the mount, not once per login.
 */
export class JwtMethod implements AuthMethod<JwtMountConfig, JwtRole, JwtLogin> {
  readonly type = 'jwt' as const;
  readonly summary = 'JWTs from an OIDC issuer (GitHub Actions, GitLab, workload identity): JWKS, keys or discovery';
  readonly configSchema = JwtMountConfigSchema;
  readonly roleSchema = JwtRoleSchema;
  readonly loginSchema = JwtLoginSchema;
  readonly #clock: Clock;
  readonly #fetch: typeof fetch | undefined;
  readonly #sources = new Map<string, { config: string; keys: JwtKeySource }>();

  constructor(deps: Pick<AuthMethodDeps, 'clock' | 'egressFetch'>) {
    this.#clock = deps.clock;
    this.#fetch = deps.egressFetch;
  }

  rolePolicies(role: JwtRole): readonly string[] {
    return role.token_policies;
  }

  async login(
    mount: AuthMountRef<JwtMountConfig>,
    body: JwtLogin,
    roles: RoleReader<JwtRole>,
    context: LoginContext,
  ): Promise<LoginOutcome> {
    const role = await roles.get(body.role);
    if (role === undefined) throw new LoginFailedError('role not found', 'unknown role');
    if (!sourceAllowed(role.bound_cidrs, context.sourceIp)) {
      throw new LoginFailedError(
        'source address not allowed by the role',
        'source address outside bound_cidrs',
        body.role,
      );
    }
    const verifier = await loadJwtVerifier();
    const keys = this.#keysFor(verifier, mount);
    const identity = await verifier
      .verifyLoginJwt(body.jwt, mount.config, role, keys, context.now)
      .catch((err: unknown) => {
        throw err instanceof JwtLoginError ? err.forRole(body.role) : err;
      });
    return {
      role: body.role,
      policies: role.token_policies,
      ttlSeconds: role.token_ttl === 0 ? undefined : role.token_ttl,
      maxTtlSeconds: role.token_max_ttl === 0 ? undefined : role.token_max_ttl,
      numUses: role.token_num_uses,
      metadata: { ...identity.metadata, role: body.role },
      alias: identity.alias,
      boundCidrs: role.token_bound_cidrs,
    };
  }

  #keysFor(verifier: JwtVerifier, mount: AuthMountRef<JwtMountConfig>): JwtKeySource {
    const config = JSON.stringify(mount.config);
    const cached = this.#sources.get(mount.id);
    if (cached?.config === config) return cached.keys;
    const fetchImpl = this.#fetch;
    const keys = verifier.keySourceFor(mount.config, {
      // Static keys never fetch; a URL source on a runtime without an egress guard fails closed at its first fetch.
      fetch:
        fetchImpl ??
        (() => Promise.reject(new InternalError('the JWT method needs the egress guard to fetch keys, and has none'))),
      now: () => this.#clock.now(),
    });
    this.#sources.set(mount.id, { config, keys });
    return keys;
  }
}

/** The registry's entry for `jwt`. */
export const JWT_METHOD = {
  type: 'jwt',
  create: (deps) => new JwtMethod(deps),
} as const satisfies AuthMethodFactory<JwtMountConfig, JwtRole, JwtLogin> & { readonly type: 'jwt' };
