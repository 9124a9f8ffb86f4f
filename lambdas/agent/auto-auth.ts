import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LoginResponse } from '../api/auth.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import type { AgentLogin } from './login-credentials.ts';
import type { ApiCall } from './secret-source.ts';

export type TokenSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'static'; readonly token: string | undefined; readonly origin: string }
  /** Log in with an auth method, and again whenever the token cannot be kept alive. */
  | { readonly kind: 'login'; readonly login: AgentLogin };

interface TokenInfo {
  expiresAt: string | null;
  maxExpiresAt: string | null;
  renewable: boolean;
}

export interface AutoAuthOptions {
  readonly source: TokenSource;
  /** An API client for a given token (none: an anonymous call, such as a login). */
  readonly api: (token: string | undefined) => ApiCall;
  readonly log: (message: string) => void;
  /** Renew when this fraction of the remaining lifetime is left. @default 0.5 */
  readonly renewAtFraction?: number;
  /**
   * Log in again when this fraction of the remaining lifetime of a token that cannot be renewed (further) has passed,
   * so the new token is in place before the old one expires. @default 0.8
   */
  readonly reloginAtFraction?: number;
  /** Write the current token to this file (atomically) whenever it changes. */
  readonly sink?: { readonly path: string; readonly mode: number } | undefined;
  /** For tests: the backoff's jitter, uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
}

const digest = (token: string) => createHash('sha256').update(token).digest();
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * A refusal of the token itself: 401/403 (invalid, expired, revoked) or 400 (not renewable). Server errors and
 * network failures are not refusals: the same token may well work once the server is back.
 */
const isRefusal = (err: unknown) =>
  err instanceof CliError && (err.exitCode === ExitCode.denied || err.exitCode === ExitCode.usage);

/**
 * Keeps the agent authenticated, as Vault Agent's auto_auth does.
 *
 * - Renews the token (`POST /v1/auth/token/renew-self`) when half of its remaining lifetime has passed.
 * - A token file is re-read before every poll and every renewal, and a changed file replaces the token.
 * - A login method (`source.kind === 'login'`) logs in at start and again when the token cannot be kept: it is not
 *   renewable or reached its max TTL (at 80 % of its remaining life, before it expires), renewal is refused (401/403:
 *   expired, revoked; 400: not renewable), or a request is refused and `lookup-self` confirms the token is no longer
 *   valid. Failed logins are retried with exponential backoff and jitter, bounded by the method's `max_backoff`.
 *
 * Logs name steps, mounts and files, never a token or a credential.
 */
export class AutoAuth {
  private current: string | undefined;
  private expiresAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private renewals = 0;
  private logins = 0;
  private failures = 0;
  private loginFailures = 0;
  private reauthenticating: Promise<void> | undefined;

  constructor(private readonly options: AutoAuthOptions) {}

  /** The token to send now. */
  token(): string | undefined {
    return this.current;
  }

  /** How many renewals succeeded (for logs and tests). */
  renewCount(): number {
    return this.renewals;
  }

  /** How many logins succeeded (for logs and tests). */
  loginCount(): number {
    return this.logins;
  }

  /**
   * Logs in, or reads the token and checks it with `lookup-self`.
   * @param renew schedule renewals and later logins (not in `--once` mode).
   * @throws CliError (denied) for a missing, empty or invalid token, or a refused first login.
   */
  async start(renew: boolean): Promise<void> {
    this.stopped = !renew;
    const { source } = this.options;
    if (source.kind === 'login') {
      try {
        await this.login(source.login);
      } catch (err) {
        throw new CliError(`auto_auth: ${message(err)}`, ExitCode.denied);
      }
      return;
    }
    this.current = await this.readToken();
    if (this.current === undefined) {
      throw new CliError(`no token: ${this.describeSource()} is empty or unset`, ExitCode.denied);
    }
    const info = await this.options.api(this.current)<TokenInfo>('GET', '/v1/auth/token/lookup-self');
    await this.writeSink();
    this.schedule(info);
  }

  /** Re-reads the token file; on a change, switches to the new token and restarts the renewal schedule. */
  async reloadIfChanged(): Promise<boolean> {
    if (this.options.source.kind !== 'file') return false;
    let next: string | undefined;
    try {
      next = await this.readToken();
    } catch (err) {
      this.options.log(`cannot read the token file: ${message(err)}`);
      return false;
    }
    if (next === undefined) return false;
    if (this.current !== undefined && timingSafeEqual(digest(next), digest(this.current))) return false;
    this.current = next;
    this.options.log('the token file changed: using the new token');
    await this.writeSink();
    try {
      this.schedule(await this.options.api(next)<TokenInfo>('GET', '/v1/auth/token/lookup-self'));
    } catch (err) {
      this.options.log(`the new token was refused: ${message(err)}`);
    }
    return true;
  }

  /**
   * A request with the current token was refused (401/403). A 403 is usually a policy saying no, which a new login
   * would not change, so `lookup-self` decides: only when the token itself is refused does the agent log in again.
   * @returns whether a new token is in place (the caller may retry at once).
   */
  async tokenRejected(): Promise<boolean> {
    const { source } = this.options;
    // After a failed login the backoff decides when to try again: refused polls must not turn it into a login loop.
    if (source.kind !== 'login' || this.stopped || this.loginFailures > 0) return false;
    if (this.reauthenticating !== undefined) {
      await this.reauthenticating;
      return this.loginFailures === 0;
    }
    const refused = this.current;
    try {
      await this.options.api(refused)('GET', '/v1/auth/token/lookup-self');
      return false;
    } catch (err) {
      if (!isRefusal(err)) return false;
    }
    // Another caller may have logged in meanwhile.
    if (this.current !== refused) return true;
    await this.reauthenticate('the server no longer accepts the token');
    return this.loginFailures === 0;
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private setTimer(run: () => Promise<void>, delay: number): void {
    this.clearTimer();
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void run();
    }, delay);
    this.timer.unref();
  }

  private schedule(info: TokenInfo): void {
    this.clearTimer();
    this.expiresAt = info.expiresAt === null ? null : Date.parse(info.expiresAt);
    if (this.stopped || info.expiresAt === null) return;
    const now = Date.now();
    const expiresAt = Date.parse(info.expiresAt);
    const atMax = info.maxExpiresAt !== null && expiresAt >= Date.parse(info.maxExpiresAt);
    if (info.renewable && !atMax) {
      const delay = Math.max(100, (expiresAt - now) * (this.options.renewAtFraction ?? 0.5));
      this.setTimer(() => this.renew(), delay);
      return;
    }
    if (this.options.source.kind === 'login') {
      const delay = Math.max(100, (expiresAt - now) * (this.options.reloginAtFraction ?? 0.8));
      const why = info.renewable ? 'reached its max TTL' : 'is not renewable';
      this.options.log(
        `the token ${why} and expires at ${info.expiresAt}; logging in again in ${Math.round(delay)} ms`,
      );
      this.setTimer(() => this.reauthenticate(`the token ${why}`), delay);
      return;
    }
    if (!info.renewable) {
      this.options.log(`the token is not renewable; it expires at ${info.expiresAt}`);
      return;
    }
    this.options.log(`the token reached its max TTL and expires at ${info.expiresAt}; put a new token in place`);
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    if (await this.reloadIfChanged()) return;
    try {
      const info = await this.options.api(this.current)<TokenInfo>('POST', '/v1/auth/token/renew-self', { body: {} });
      this.renewals++;
      this.failures = 0;
      this.options.log(`renewed the token; it now expires at ${info.expiresAt ?? 'never'}`);
      this.schedule(info);
    } catch (err) {
      if (this.options.source.kind === 'login' && isRefusal(err)) {
        await this.reauthenticate(`token renewal was refused: ${message(err)}`);
        return;
      }
      if (this.options.source.kind === 'login' && this.expiresAt !== null && Date.now() >= this.expiresAt) {
        await this.reauthenticate(`the token expired while its renewal failed: ${message(err)}`);
        return;
      }
      this.options.log(`token renewal failed: ${message(err)}`);
      // Try again soon (the server may have been briefly unavailable), backing off to 30 s.
      this.failures++;
      this.setTimer(() => this.renew(), Math.min(30_000, 500 * 2 ** this.failures));
    }
  }

  /** Logs in again now; a failure schedules the next try after a backoff. Concurrent callers share one attempt. */
  private reauthenticate(reason: string): Promise<void> {
    const { source } = this.options;
    if (source.kind !== 'login') return Promise.resolve();
    if (this.reauthenticating !== undefined) return this.reauthenticating;
    this.clearTimer();
    this.options.log(`re-authenticating: ${reason}`);
    this.reauthenticating = this.login(source.login)
      .catch((err: unknown) => {
        this.loginFailures++;
        const delay = this.backoff(source.login, this.loginFailures);
        this.options.log(`${message(err)}; trying again in ${delay} ms`);
        this.setTimer(() => this.reauthenticate('retrying the failed login'), delay);
      })
      .finally(() => {
        this.reauthenticating = undefined;
      });
    return this.reauthenticating;
  }

  /**
   * The wait before login attempt `failures + 1`: doubling from the minimum, capped at the maximum, and shortened by up
   * to a quarter at random so that agents refused together do not retry in step.
   */
  private backoff(login: AgentLogin, failures: number): number {
    const ceiling = Math.min(login.maxBackoffMs, login.minBackoffMs * 2 ** (failures - 1));
    return Math.round(ceiling * (1 - 0.25 * (this.options.random ?? Math.random)()));
  }

  /** @throws Error `<method> login at auth/<mount> failed: <reason>` (the server's reason names no credential). */
  private async login(login: AgentLogin): Promise<void> {
    const where = `${login.method} login at auth/${login.mount}`;
    this.options.log(`logging in: ${where}`);
    let answer: LoginResponse;
    try {
      const body = await login.body();
      const raw = await this.options.api(undefined)('POST', `/v1/auth/${login.mount}/login`, { body });
      const parsed = LoginResponse.safeParse(raw);
      if (!parsed.success) throw new Error('the server answered with an unexpected body');
      answer = parsed.data;
    } catch (err) {
      throw new Error(`${where} failed: ${message(err)}`);
    }
    const { auth } = answer;
    this.current = auth.client_token;
    this.logins++;
    this.loginFailures = 0;
    this.failures = 0;
    const lifetime =
      auth.lease_duration > 0
        ? `valid for ${auth.lease_duration} s${auth.renewable ? '' : ', not renewable'}`
        : 'no TTL';
    this.options.log(`logged in (${where}, role ${auth.role_name}): token ${lifetime}`);
    await this.writeSink();
    this.schedule({
      expiresAt: auth.lease_duration > 0 ? new Date(Date.now() + auth.lease_duration * 1000).toISOString() : null,
      // Not in a login's answer: the first renewal tells, and until then the token is treated as renewable.
      maxExpiresAt: null,
      renewable: auth.renewable,
    });
  }

  /** A failed sink write is logged and tried again at the next token change: the agent's own work goes on. */
  private async writeSink(): Promise<void> {
    const { sink } = this.options;
    if (sink === undefined || this.current === undefined) return;
    try {
      await writeFileAtomic(sink.path, this.current, sink.mode);
      this.options.log(`wrote the token to ${sink.path}`);
    } catch (err) {
      this.options.log(`cannot write the token sink: ${message(err)}`);
    }
  }

  private async readToken(): Promise<string | undefined> {
    const source = this.options.source;
    if (source.kind === 'static') return source.token === '' ? undefined : source.token;
    if (source.kind === 'login') return this.current;
    let text: string;
    try {
      text = await readFile(source.path, 'utf8');
    } catch (err) {
      throw new CliError(
        `cannot read the token file ${source.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        ExitCode.denied,
      );
    }
    const token = text.trim();
    return token === '' ? undefined : token;
  }

  private describeSource(): string {
    const { source } = this.options;
    if (source.kind === 'file') return `the token file ${source.path}`;
    if (source.kind === 'login') return `${source.login.method} login at auth/${source.login.mount}`;
    return source.origin;
  }
}
