/**
 * Logging in with an auth method instead of holding a token: the workload proves who it is (an AppRole secret id, a
 * JWT from its CI or cluster, an LDAP password) at `POST /v1/auth/<mount>/login` and gets a token for the matched
 * role. The same request is what `coffer agent`'s `auto_auth` sends.
 */
import { readFile } from 'node:fs/promises';
import { LoginResponse } from '../api/auth.ts';
import { CofferAccessDeniedError, CofferClientError, CofferValidationError } from './errors.ts';
import type { CofferHttp } from './http-client.ts';
import { KUBERNETES_TOKEN_PATH, type LoginOptions } from './login-options.ts';

/** A login's answer: the token and how long it lives. */
export interface LoginResult {
  readonly token: string;
  /** Seconds; 0: the token does not expire. */
  readonly leaseDuration: number;
  readonly renewable: boolean;
  readonly policies: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** The mount a login goes to, checked as the server checks mount paths (one safe path segment). */
export function loginMount(options: { readonly method: string; readonly mount?: string | undefined }): string {
  const mount = options.mount ?? options.method;
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(mount)) {
    throw new CofferValidationError(`invalid auth mount ${JSON.stringify(mount)}: one path segment of a-z, 0-9, _, -`, {
      code: 'validation',
    });
  }
  return mount;
}

/**
 * The body of the login, with files read now.
 * @throws CofferValidationError naming a missing credential or an unreadable/empty file (never its content)
 */
export async function loginBody(options: LoginOptions): Promise<Record<string, string>> {
  switch (options.method) {
    case 'approle':
      return { role_id: options.roleId, secret_id: options.secretId };
    case 'ldap':
      return { username: options.username, password: options.password };
    case 'cert':
      return options.name === undefined ? {} : { name: options.name };
    case 'jwt':
    case 'kubernetes': {
      const file = options.jwtFile ?? (options.method === 'kubernetes' ? KUBERNETES_TOKEN_PATH : undefined);
      const jwt = options.jwt ?? (file === undefined ? undefined : await readCredentialFile(file, 'the JWT'));
      if (jwt === undefined) {
        throw new CofferValidationError('a jwt login needs jwt or jwtFile', { code: 'validation' });
      }
      return { role: options.role, jwt };
    }
  }
}

/**
 * Reads a credential file (a token, a secret id, a password): surrounding whitespace dropped, an empty file refused.
 * @throws CofferValidationError naming the file and the reason, never any of its content
 */
export async function readCredentialFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CofferValidationError(
      `cannot read ${what} from ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        code: 'validation',
      },
    );
  }
  const value = text.trim();
  if (value === '') throw new CofferValidationError(`${file} (${what}) is empty`, { code: 'validation' });
  return value;
}

/**
 * Sends the login. `http` must send no token: a login is anonymous.
 * @throws CofferAccessDeniedError (and the other typed errors) with the server's message, which names the mount and
 * role but no credential
 */
export async function logIn(http: CofferHttp, options: LoginOptions): Promise<LoginResult> {
  const mount = loginMount(options);
  const body = await loginBody(options);
  try {
    const { auth } = await http.call(LoginResponse, 'POST', `/v1/auth/${mount}/login`, { body });
    return {
      token: auth.client_token,
      leaseDuration: auth.lease_duration,
      renewable: auth.renewable,
      policies: auth.policies,
      metadata: auth.metadata,
    };
  } catch (err) {
    if (!(err instanceof CofferClientError)) throw err;
    const ErrorClass = err.constructor as typeof CofferClientError;
    // A new error with the same class and fields, its message naming the login; the cause (a fetch failure, a parse
    // error of the body) is kept for debugging, and neither holds the request body.
    throw new ErrorClass(`${options.method} login at auth/${mount} failed: ${err.message}`, {
      status: err.status,
      code: err.code,
      requestId: err.requestId,
      cause: err.cause,
    });
  }
}

export interface LoginSessionOptions {
  /** An anonymous client of the same server. */
  readonly http: CofferHttp;
  readonly login: LoginOptions;
  /** Log in again once this fraction of the token's lifetime has passed. @default 0.8 */
  readonly refreshAtFraction?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * A token got by logging in, kept in memory: logged in on first use, again before the token expires, and again when
 * the server no longer accepts it (expired early, revoked). Concurrent callers share one login.
 */
export class LoginSession {
  private current: { token: string; refreshAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: LoginSessionOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The token to send now, logging in first when there is none or it is due for a refresh. */
  token(): Promise<string> {
    const current = this.current;
    if (current !== undefined && this.now() < current.refreshAt) return Promise.resolve(current.token);
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The server refused `rejected` as invalid or expired: if it is still the current token, the next `token()` logs in. */
  rejected(rejected: string | undefined): void {
    if (this.current !== undefined && rejected === this.current.token) this.current = undefined;
  }

  private async refresh(): Promise<string> {
    const startedAt = this.now();
    const result = await logIn(this.options.http, this.options.login);
    if (result.token === '')
      throw new CofferAccessDeniedError('the login answered no token', { code: 'invalid_response' });
    const lifetime = result.leaseDuration * 1000;
    const fraction = this.options.refreshAtFraction ?? 0.8;
    this.current = {
      token: result.token,
      refreshAt: result.leaseDuration === 0 ? Number.POSITIVE_INFINITY : startedAt + lifetime * fraction,
    };
    return result.token;
  }
}
