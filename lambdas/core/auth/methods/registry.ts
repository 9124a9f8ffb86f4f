/**
 * Every auth method Coffer can mount, in one registry. Adding a method: add its type to `AUTH_METHOD_TYPES` and its
 * factory to `AUTH_METHODS`; a type without an entry (or an entry whose `type` differs from its key) does not compile.
 */
import { APPROLE_METHOD } from '../approle/approle-method.ts';
import { CERT_METHOD } from '../cert/cert-method.ts';
import { JWT_METHOD } from '../jwt/jwt-method.ts';
import { KUBERNETES_METHOD } from '../kubernetes/kubernetes-method.ts';
import { LDAP_METHOD } from '../ldap/ldap-method.ts';
import type { AnyAuthMethod, AuthMethodDeps, AuthMethodFactory } from './auth-method.ts';

/** The methods `coffer auth enable <type>` accepts. */
export const AUTH_METHOD_TYPES = ['approle', 'jwt', 'kubernetes', 'cert', 'ldap'] as const;
export type AuthMethodType = (typeof AUTH_METHOD_TYPES)[number];

// biome-ignore lint/suspicious/noExplicitAny: each entry keeps its own config, role and login types
type AnyFactory = AuthMethodFactory<any, any, any>;

export const AUTH_METHODS = {
  approle: APPROLE_METHOD,
  jwt: JWT_METHOD,
  kubernetes: KUBERNETES_METHOD,
  cert: CERT_METHOD,
  ldap: LDAP_METHOD,
} as const satisfies { readonly [K in AuthMethodType]: AnyFactory & { readonly type: K } };

/** Whether `type` names a registered method (for input parsed as a plain string). */
export function isAuthMethodType(type: string): type is AuthMethodType {
  return (AUTH_METHOD_TYPES as readonly string[]).includes(type);
}

/** Every method, built: each keeps its own type (AppRole's secret-id operations, say). */
export type AuthMethods = { readonly [K in AuthMethodType]: ReturnType<(typeof AUTH_METHODS)[K]['create']> };

/** Builds every registered method from the composition's deps. */
export function buildAuthMethods(deps: AuthMethodDeps): AuthMethods {
  const built: Partial<Record<AuthMethodType, AnyAuthMethod>> = {};
  for (const type of AUTH_METHOD_TYPES) built[type] = AUTH_METHODS[type].create(deps);
  return built as AuthMethods;
}
