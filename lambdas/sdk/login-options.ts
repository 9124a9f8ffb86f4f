/** The `login` choice of `CofferClient`'s `auth`: which auth method, where, with what credential. */

/** Where Kubernetes projects a pod's service-account token. */
export const KUBERNETES_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** AppRole: a role id and a secret id. */
export interface AppRoleLogin {
  readonly method: 'approle';
  /** @default 'approle' */
  readonly mount?: string | undefined;
  readonly roleId: string;
  readonly secretId: string;
}

/** JWT/OIDC or a Kubernetes service-account token, presented for a role of the mount. */
export interface JwtLogin {
  readonly method: 'jwt' | 'kubernetes';
  /** @default the method's name */
  readonly mount?: string | undefined;
  readonly role: string;
  /** The token itself; or… */
  readonly jwt?: string | undefined;
  /**
   * …a file holding it, read at each login so a rotated token (a projected service-account token, a CI token
   * refreshed by a sidecar) is picked up. @default for `kubernetes` without `jwt`: the pod's projected token
   */
  readonly jwtFile?: string | undefined;
}

/** LDAP / Active Directory: the user's own name and password (Coffer binds as the user). */
export interface LdapLogin {
  readonly method: 'ldap';
  /** @default 'ldap' */
  readonly mount?: string | undefined;
  readonly username: string;
  readonly password: string;
}

/**
 * A TLS client certificate: the credential is the connection's certificate, which the client presents when given
 * `clientCert`/`clientKey` (or COFFER_CLIENT_CERT/COFFER_CLIENT_KEY); the login only names the role to try.
 */
export interface CertLogin {
  readonly method: 'cert';
  /** @default 'cert' */
  readonly mount?: string | undefined;
  /** The cert role to try. @default every role of the mount, in name order */
  readonly name?: string | undefined;
}

export type LoginOptions = AppRoleLogin | JwtLogin | LdapLogin | CertLogin;
