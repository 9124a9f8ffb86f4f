/** Logins at one mount since counting began. */
export interface LoginCount {
  readonly method: string;
  readonly mount: string;
  readonly succeeded: number;
  /** Refused credentials (the 403 of `LoginFailedError`). */
  readonly failed: number;
}

/** What {@link LoginCounters.snapshot} answers. */
export interface LoginMetrics {
  /** Epoch ms when counting began (the node's start). */
  readonly since: number;
  /** One entry per method and mount that saw a login, by mount then method. */
  readonly logins: readonly LoginCount[];
}

/**
 * The local node's login metrics: logins counted in memory by method and mount, from the broker's `onLogin`, read by
 * `GET /v1/sys/metrics`. Only mounted paths ever reach it, so the table stays as small as the mount table. On AWS the
 * same counts are CloudWatch metrics (`LoginSucceeded`/`LoginFailed`).
 */
export class LoginCounters {
  readonly #since: number;
  readonly #counts = new Map<string, { method: string; mount: string; succeeded: number; failed: number }>();

  constructor(since: number) {
    this.#since = since;
  }

  record(attempt: { readonly method: string; readonly mount: string; readonly succeeded: boolean }): void {
    const key = `${attempt.mount}\u0000${attempt.method}`;
    const count = this.#counts.get(key) ?? { method: attempt.method, mount: attempt.mount, succeeded: 0, failed: 0 };
    if (attempt.succeeded) count.succeeded++;
    else count.failed++;
    this.#counts.set(key, count);
  }

  snapshot(): LoginMetrics {
    const logins = [...this.#counts.values()]
      .map((count) => ({ ...count }))
      .sort((a, b) => a.mount.localeCompare(b.mount) || a.method.localeCompare(b.method));
    return { since: this.#since, logins };
  }
}
