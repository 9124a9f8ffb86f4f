/**
 * What the audit records of a window say, counted in one pass (streamed: memory holds only the requests still waiting
 * for their response, the denied principals and the secrets read). Pure: the caller feeds records in the order they
 * were written.
 *
 * Definitions (exact; docs/compliance.md repeats them for readers):
 * - A record is "in the window" when `since <= time <= until`. Records before `since` are fed too (from
 *   `since - REQUEST_GRACE_MS`), only so a response in the window finds its request.
 * - Completeness: each request record in the window must be followed by a response record with the same
 *   `requestId`. One without, written more than `REQUEST_GRACE_MS` before `until`, is a gap (`missing: 'response'`);
 *   a later one is still running (`inFlight`), not a gap. A response with outcome `ok` in the window must have its
 *   request record (the broker writes it before any handler runs); one without is a gap (`missing: 'request'`). A
 *   refused or failed response may stand alone: requests refused before their request record (bad input, bad token,
 *   no route) leave only the refusal. `system` records are the log's own, and records of Coffer's own work (source
 *   `internal`: rotation steps, an engine reading its credential) are no caller's: both count nowhere.
 * - Denied: a response with outcome `denied` (401, 403, or refused by a quota or the login lockout).
 * - Logins: responses carrying `login` (attempts that reached a mounted auth method); succeeded when outcome `ok`.
 * - A secret is read when an `ok` response of a value-reading operation ({@link VALUE_READS}) was granted `read` on
 *   `secrets/<name>`.
 */

import type { AuditRecord } from '../audit/audit-types.ts';

/** How long a request may run before its missing response counts as a gap; also how far before `since` we read. */
export const REQUEST_GRACE_MS = 15 * 60_000;

/** The operations that hand out a secret's value. */
export const VALUE_READS: ReadonlySet<string> = new Set([
  'secret.read',
  'secretsmanager.GetSecretValue',
  'secretsmanager.BatchGetSecretValue',
]);

const SECRET_PATH_PREFIX = 'secrets/';
/** The source address of the records Coffer writes about its own work (rotation, engines), not a caller's. */
const INTERNAL_SOURCE = 'internal';

export interface AuditGap {
  readonly requestId: string;
  readonly operation: string;
  readonly time: string;
  /** Which record of the pair is not in the log. */
  readonly missing: 'request' | 'response';
}

export interface DeniedPrincipal {
  /** The principal's display name, or `(unauthenticated)`. */
  readonly principal: string;
  readonly type: string;
  /** As the log names it: a token's accessor HMAC, an ARN, or the source address of an unauthenticated caller. */
  readonly id: string;
  readonly denials: number;
}

export interface LoginCount {
  readonly method: string;
  readonly mount: string;
  attempts: number;
  succeeded: number;
}

export interface AuditWindowFigures {
  /** Request records in the window that have their response. */
  readonly complete: number;
  /** Request records written within `REQUEST_GRACE_MS` of `until` and not answered yet. */
  readonly inFlight: number;
  /** In the order met. */
  readonly gaps: readonly AuditGap[];
  /** Response records in the window. */
  readonly responses: number;
  readonly denied: number;
  readonly logins: readonly LoginCount[];
  /** Most denials first, then by principal. */
  readonly deniedPrincipals: readonly DeniedPrincipal[];
  /** Secret name → the last time (epoch ms) its value was read in the window. */
  readonly lastRead: ReadonlyMap<string, number>;
}

/**
 * Counts one window's records.
 *
 * @example
 * ```ts
 * const counter = new AuditWindowCounter({ since, until });
 * for await (const record of reader.records(since - REQUEST_GRACE_MS)) counter.add(record);
 * const figures = counter.figures();
 * ```
 */
export class AuditWindowCounter {
  readonly #since: number;
  readonly #until: number;
  /** requestId → its request record, until the response comes. */
  readonly #pending = new Map<string, { operation: string; time: string; at: number; inWindow: boolean }>();
  #complete = 0;
  readonly #gaps: AuditGap[] = [];
  #responses = 0;
  #denied = 0;
  readonly #logins = new Map<string, LoginCount>();
  readonly #deniedBy = new Map<string, { principal: string; type: string; id: string; denials: number }>();
  readonly #lastRead = new Map<string, number>();

  constructor(window: { readonly since: number; readonly until: number }) {
    this.#since = window.since;
    this.#until = window.until;
  }

  add(record: AuditRecord): void {
    const at = Date.parse(record.time);
    if (!Number.isFinite(at) || at > this.#until || record.type === 'system') return;
    // What Coffer records of its own work (a rotation's steps, an engine reading its admin credential) stands alone
    // and is no caller's request.
    if (record.sourceIp === INTERNAL_SOURCE) return;
    const inWindow = at >= this.#since;
    if (record.type === 'request') {
      this.#pending.set(record.requestId, { operation: record.operation, time: record.time, at, inWindow });
      return;
    }
    const request = this.#pending.get(record.requestId);
    this.#pending.delete(record.requestId);
    if (request?.inWindow === true) this.#complete += 1;
    if (!inWindow) return;
    this.#responses += 1;
    if (request === undefined && record.outcome === 'ok') {
      this.#gaps.push({
        requestId: record.requestId,
        operation: record.operation,
        time: record.time,
        missing: 'request',
      });
    }
    if (record.outcome === 'denied') this.#countDenial(record);
    if (record.login !== undefined) {
      const key = `${record.login.method}\u0000${record.login.mount}`;
      let count = this.#logins.get(key);
      if (count === undefined) {
        count = { method: record.login.method, mount: record.login.mount, attempts: 0, succeeded: 0 };
        this.#logins.set(key, count);
      }
      count.attempts += 1;
      if (record.outcome === 'ok') count.succeeded += 1;
    }
    if (record.outcome === 'ok' && VALUE_READS.has(record.operation)) {
      for (const grant of record.grants ?? []) {
        if (grant.capability !== 'read' || !grant.path.startsWith(SECRET_PATH_PREFIX)) continue;
        const name = grant.path.slice(SECRET_PATH_PREFIX.length);
        this.#lastRead.set(name, Math.max(at, this.#lastRead.get(name) ?? at));
      }
    }
  }

  #countDenial(record: AuditRecord): void {
    this.#denied += 1;
    const principal = record.principal;
    const who =
      principal === undefined
        ? { principal: '(unauthenticated)', type: 'none', id: record.sourceIp }
        : { principal: principal.displayName, type: principal.type, id: principal.id };
    const key = `${who.type}\u0000${who.id}`;
    const seen = this.#deniedBy.get(key);
    if (seen === undefined) this.#deniedBy.set(key, { ...who, denials: 1 });
    else seen.denials += 1;
  }

  figures(): AuditWindowFigures {
    const gaps = [...this.#gaps];
    let inFlight = 0;
    for (const [requestId, request] of this.#pending) {
      if (!request.inWindow) continue;
      if (request.at > this.#until - REQUEST_GRACE_MS) inFlight += 1;
      else gaps.push({ requestId, operation: request.operation, time: request.time, missing: 'response' });
    }
    gaps.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    const deniedPrincipals = [...this.#deniedBy.values()].sort(
      (a, b) => b.denials - a.denials || compare(a.principal, b.principal) || compare(a.id, b.id),
    );
    return {
      complete: this.#complete,
      inFlight,
      gaps,
      responses: this.#responses,
      denied: this.#denied,
      logins: [...this.#logins.values()].sort((a, b) => compare(a.mount, b.mount)),
      deniedPrincipals,
      lastRead: this.#lastRead,
    };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
