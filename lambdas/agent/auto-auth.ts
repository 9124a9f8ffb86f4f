import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CliError, ExitCode } from './exit-codes.ts';
import type { ApiCall } from './secret-source.ts';

export type TokenSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'static'; readonly token: string | undefined; readonly origin: string };

interface TokenInfo {
  expiresAt: string | null;
  maxExpiresAt: string | null;
  renewable: boolean;
}

export interface AutoAuthOptions {
  readonly source: TokenSource;
  /** An API client for a given token. */
  readonly api: (token: string | undefined) => ApiCall;
  readonly log: (message: string) => void;
  /** Renew when this fraction of the remaining lifetime is left. @default 0.5 */
  readonly renewAtFraction?: number;
}

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Keeps the agent authenticated: holds the current token, renews it (`POST /v1/auth/token/renew-self`) when half of
 * its remaining lifetime has passed, and picks up a new token when the token file changes (checked before every poll
 * and every renewal). A token that has reached its max TTL cannot be renewed further: the agent says so and waits for
 * a new token in the file.
 */
export class AutoAuth {
  private current: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private renewals = 0;
  private failures = 0;

  constructor(private readonly options: AutoAuthOptions) {}

  /** The token to send now. */
  token(): string | undefined {
    return this.current;
  }

  /** How many renewals succeeded (for logs and tests). */
  renewCount(): number {
    return this.renewals;
  }

  /**
   * Reads the token and checks it with `lookup-self`.
   * @param renew schedule renewals (not in `--once` mode).
   * @throws CliError (denied) for a missing, empty or invalid token.
   */
  async start(renew: boolean): Promise<void> {
    this.stopped = !renew;
    this.current = await this.readToken();
    if (this.current === undefined) {
      throw new CliError(`no token: ${this.describeSource()} is empty or unset`, ExitCode.denied);
    }
    const info = await this.options.api(this.current)<TokenInfo>('GET', '/v1/auth/token/lookup-self');
    this.schedule(info);
  }

  /** Re-reads the token file; on a change, switches to the new token and restarts the renewal schedule. */
  async reloadIfChanged(): Promise<boolean> {
    if (this.options.source.kind !== 'file') return false;
    let next: string | undefined;
    try {
      next = await this.readToken();
    } catch (err) {
      this.options.log(`cannot read the token file: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    if (next === undefined) return false;
    if (this.current !== undefined && timingSafeEqual(digest(next), digest(this.current))) return false;
    this.current = next;
    this.options.log('the token file changed: using the new token');
    try {
      this.schedule(await this.options.api(next)<TokenInfo>('GET', '/v1/auth/token/lookup-self'));
    } catch (err) {
      this.options.log(`the new token was refused: ${err instanceof Error ? err.message : String(err)}`);
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(info: TokenInfo): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || info.expiresAt === null) return;
    const now = Date.now();
    const expiresAt = Date.parse(info.expiresAt);
    if (!info.renewable) {
      this.options.log(`the token is not renewable; it expires at ${info.expiresAt}`);
      return;
    }
    if (info.maxExpiresAt !== null && expiresAt >= Date.parse(info.maxExpiresAt)) {
      this.options.log(`the token reached its max TTL and expires at ${info.expiresAt}; put a new token in place`);
      return;
    }
    const delay = Math.max(100, (expiresAt - now) * (this.options.renewAtFraction ?? 0.5));
    this.timer = setTimeout(() => void this.renew(), delay);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    if (await this.reloadIfChanged()) return;
    try {
      const info = await this.options.api(this.current)<TokenInfo>('POST', '/v1/auth/token/renew-self', { body: {} });
      this.renewals++;
      this.failures = 0;
      this.options.log(`renewed the token; it now expires at ${info.expiresAt ?? 'never'}`);
      this.schedule(info);
    } catch (err) {
      this.options.log(`token renewal failed: ${err instanceof Error ? err.message : String(err)}`);
      // Try again soon (the server may have been briefly unavailable), backing off to 30 s.
      this.failures++;
      this.timer = setTimeout(() => void this.renew(), Math.min(30_000, 500 * 2 ** this.failures));
      this.timer.unref();
    }
  }

  private async readToken(): Promise<string | undefined> {
    const source = this.options.source;
    if (source.kind === 'static') return source.token === '' ? undefined : source.token;
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
    return this.options.source.kind === 'file'
      ? `the token file ${this.options.source.path}`
      : this.options.source.origin;
  }
}
