import type pg from 'pg';
import type { EgressGuard } from '../../../core/egress/egress-policy.ts';
import { failureMessage } from '../../../core/leases/lease-fns.ts';
import { RotationStepError, TransientRotationError } from '../../../core/rotation/rotation-types.ts';
import type { PostgresSessions } from '../../shared/postgres/postgres-sessions.ts';
import { PROBE_SQL } from './postgres-sql.ts';
import type { Endpoint } from './postgres-value.ts';

/** Node socket errors that say "the server is not reachable right now". */
const TRANSIENT_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs worth a retry: connection exceptions (08), insufficient resources (53: too many connections, out of
 * memory, disk full), operator intervention (57: shutdown, cannot connect now, statement timeout), and the
 * concurrency failures (40001 serialization, 40P01 deadlock, 55P03 lock timeout).
 */
function transientSqlState(code: string): boolean {
  return /^(08|53|57)/.test(code) || code === '40001' || code === '40P01' || code === '55P03';
}

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/** True when `err` is worth retrying: the server was unreachable, overloaded, restarting or busy. */
export function isTransient(err: unknown): boolean {
  const code = codeOf(err);
  if (TRANSIENT_NET.has(code) || transientSqlState(code)) return true;
  const message = err instanceof Error ? err.message : '';
  // pg's own connection-level failures carry no code.
  if (/^(timeout expired|Connection terminated|Query read timeout)/.test(message)) return true;
  // The admin pool is busy (every session in use), or was evicted while this step picked it up.
  if (/^(timeout exceeded when trying to connect|Cannot use a pool after calling end)/.test(message)) return true;
  // Two sessions granting on the same object at once: the loser sees this (XX000) and succeeds on retry.
  return code === 'XX000' && message.includes('tuple concurrently updated');
}

/** The login was refused: a wrong password or a role that cannot log in. */
export function isAuthFailure(err: unknown): boolean {
  const code = codeOf(err);
  return code === '28P01' || code === '28000';
}

/** The statement named a role that does not exist (SQLSTATE 42704, undefined_object). */
export function isMissingRole(err: unknown): boolean {
  return codeOf(err) === '42704';
}

/**
 * The error a step throws: {@link TransientRotationError} when a retry may help, else {@link RotationStepError}.
 * The message names the step and the user, carries the server's message and SQLSTATE with every password blanked,
 * and never the statement or its parameters. No `cause`: a `pg` error may hold statement text.
 */
export function stepError(what: string, err: unknown, passwords: readonly string[]): Error {
  if (err instanceof TransientRotationError || err instanceof RotationStepError) return err;
  const code = codeOf(err);
  const message = `${what}: ${failureMessage(err, passwords)}${code === '' ? '' : ` (${code})`}`;
  return isTransient(err) ? new TransientRotationError(message) : new RotationStepError(message);
}

const PURPOSE = 'postgres rotation target';

/** One fresh session: logs in, runs `fn`, always closes. A refused login is a result only when `refusedIsResult`. */
async function session<T>(
  sessions: PostgresSessions,
  egress: EgressGuard,
  endpoint: Endpoint,
  what: string,
  passwords: readonly string[],
  fn: (client: pg.Client) => Promise<T>,
  refusedIsResult: boolean,
): Promise<{ ok: true; result: T } | { ok: false }> {
  const secrets = [endpoint.password, ...passwords];
  const client = await sessions.client(egress, endpoint, PURPOSE);
  try {
    try {
      await client.connect();
    } catch (err) {
      if (refusedIsResult && isAuthFailure(err)) return { ok: false };
      throw stepError(`${what}: cannot log in`, err, secrets);
    }
    return { ok: true, result: await fn(client) };
  } catch (err) {
    throw stepError(what, err, secrets);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Opens a session as `endpoint.user`, runs `fn`, and always closes the session.
 * @param what e.g. `testSecret: user "app_clone" on database "app"`: prefixes every error
 * @param passwords blanked from any error message (the endpoint's password always is)
 */
export async function withSession<T>(
  sessions: PostgresSessions,
  egress: EgressGuard,
  endpoint: Endpoint,
  what: string,
  passwords: readonly string[],
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const outcome = await session(sessions, egress, endpoint, what, passwords, fn, false);
  if (!outcome.ok) throw new RotationStepError(`${what}: cannot log in`);
  return outcome.result;
}

/**
 * Logs in as `endpoint.user` and, when the login works, runs `fn` in that session. Resolves `{ ok: false }` when the
 * server refuses the credential, so a step can tell "already applied" from "not yet".
 * @throws TransientRotationError when the server cannot be reached
 */
export function trySession<T>(
  sessions: PostgresSessions,
  egress: EgressGuard,
  endpoint: Endpoint,
  what: string,
  passwords: readonly string[],
  fn: (client: pg.Client) => Promise<T>,
): Promise<{ ok: true; result: T } | { ok: false }> {
  return session(sessions, egress, endpoint, what, passwords, fn, true);
}

/** Admin sessions per pool: enough for concurrent rotations of many secrets, few enough for the target's limit. */
const ADMIN_POOL_SIZE = 8;

/**
 * As {@link withSession}, in a pooled admin session (returned to the pool after `fn`, or discarded when it failed
 * at the connection level).
 */
export async function withAdminSession<T>(
  sessions: PostgresSessions,
  egress: EgressGuard,
  endpoint: Endpoint,
  what: string,
  passwords: readonly string[],
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const secrets = [endpoint.password, ...passwords];
  let client: pg.PoolClient;
  try {
    client = await (await sessions.pool(egress, endpoint, PURPOSE, { max: ADMIN_POOL_SIZE })).connect();
  } catch (err) {
    throw stepError(`${what}: cannot log in`, err, secrets);
  }
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    // A session the server ended (or that timed out) must not go back to the pool.
    if (isTransient(err)) broken = err instanceof Error ? err : new Error(String(err));
    throw stepError(what, err, secrets);
  } finally {
    client.release(broken);
  }
}

/** A role name as it appears in messages: quoted, so an empty or odd name stays visible. */
export const named = (user: string): string => JSON.stringify(user);

/**
 * testSecret's probe: logs in as `endpoint.user` on its database, runs `SELECT 1` and checks the session belongs to
 * that user.
 * @throws RotationStepError when the login is refused or the probe answers otherwise; TransientRotationError when the
 *   server cannot be reached
 */
export async function probe(
  sessions: PostgresSessions,
  egress: EgressGuard,
  endpoint: Endpoint,
  step: string,
): Promise<void> {
  const what = `${step}: user ${named(endpoint.user)} on database ${named(endpoint.database)}`;
  await withSession(sessions, egress, endpoint, what, [], async (client) => {
    const row = (await client.query<{ ok: number; login: string; acting: string }>(PROBE_SQL)).rows[0];
    if (row?.ok !== 1) throw new RotationStepError(`${what}: the probe query returned no row`);
    if (row.login !== endpoint.user) {
      throw new RotationStepError(`${what}: the session belongs to ${named(row.login)}`);
    }
  });
}
