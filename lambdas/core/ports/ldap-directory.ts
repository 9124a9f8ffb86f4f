/**
 * How the LDAP auth method reaches a directory (OpenLDAP, Active Directory). The adapter owns the sockets, TLS and
 * the egress guard; the core decides whom to bind as, what to search and what the answers mean.
 */

/** Where and how to connect; everything comes from the mount's configuration. */
export interface LdapConnectOptions {
  /** `ldap://` or `ldaps://` URLs, tried in order until one answers. */
  readonly urls: readonly string[];
  /** Upgrade an `ldap://` connection with StartTLS before anything is sent. */
  readonly startTls: boolean;
  /** PEM of the CA(s) the server's certificate must chain to. @default the system's trust store */
  readonly caPem?: string | undefined;
  /** Skip certificate verification (a test directory); the connection is still encrypted. */
  readonly insecureTls: boolean;
  /** Bound on connecting and on every operation. */
  readonly timeoutMs: number;
}

export interface LdapSearchRequest {
  readonly base: string;
  readonly scope: 'base' | 'one' | 'sub';
  readonly filter: string;
  readonly attributes: readonly string[];
  /** The most entries to answer; a directory that has more answers this many (or refuses). */
  readonly sizeLimit: number;
}

/** An entry as a search answers it; attribute names are lowercased, values are strings. */
export interface LdapEntry {
  readonly dn: string;
  readonly attributes: Readonly<Record<string, readonly string[]>>;
}

/** One connection to a directory: binds change whom it acts as. */
export interface LdapSession {
  /** The URL it is connected to, for messages. */
  readonly url: string;
  /**
   * A simple bind.
   * @throws LdapBindRejectedError when the directory refuses the credentials (result code 49 and kin); any other
   *   failure as an error that names no credential.
   */
  bind(dn: string, password: string): Promise<void>;
  search(request: LdapSearchRequest): Promise<LdapEntry[]>;
  /** Unbinds and closes; never throws. */
  close(): Promise<void>;
}

export interface LdapDirectory {
  /**
   * Connects to the first of `options.urls` that answers, only through the egress guard, with TLS set up as asked.
   * @throws an error naming the URLs tried (never a credential) when none answers.
   */
  open(options: LdapConnectOptions): Promise<LdapSession>;
}

/** The directory refused a bind: a wrong password, an unknown DN, or an account it will not let in. */
export class LdapBindRejectedError extends Error {
  constructor(
    /** The directory's reason, e.g. `invalid credentials (49)`; never the password. */
    readonly reason: string,
  ) {
    super(`the directory refused the bind: ${reason}`);
    this.name = 'LdapBindRejectedError';
  }
}
