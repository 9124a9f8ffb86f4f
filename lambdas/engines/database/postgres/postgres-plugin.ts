import type pg from 'pg';
import type { EgressGuard } from '../../../core/egress/egress-policy.ts';
import { InternalError } from '../../../core/errors.ts';
import { failureMessage } from '../../../core/leases/lease-fns.ts';
import type { PostgresSessions } from '../../shared/postgres/postgres-sessions.ts';
import { escapeIdentifier } from '../../shared/postgres/sql-escape.ts';
import type { AdminCredential, DbConfig } from '../database-types.ts';
import { renderStatement } from './sql-template.ts';

/** What the engine asks of a database plugin. One implementation per database kind. */
export interface DatabasePlugin {
  /** Runs the creation statements in one transaction, so a failure leaves nothing behind. */
  createUser(
    target: Target,
    statements: readonly string[],
    values: { name: string; password: string; expiration: string },
  ): Promise<void>;
  /** Idempotent: a user that is already gone is a success. Empty statements: the default revocation. */
  revokeUser(target: Target, statements: readonly string[], name: string): Promise<void>;
  renewUser(target: Target, statements: readonly string[], values: { name: string; expiration: string }): Promise<void>;
  close(): Promise<void>;
}

export interface Target {
  /** Config name: the pool key. */
  readonly name: string;
  readonly config: DbConfig;
  readonly admin: AdminCredential;
  /** Identifies the admin credential's version; a rotated credential gets a fresh pool. */
  readonly credentialVersion: string;
}

/**
 * PostgreSQL through `pg`: one small pool per connection config and admin credential, from the node's sessions.
 * Error messages that leave this class are rebuilt from the server's message with every credential blanked.
 */
export class PostgresPlugin implements DatabasePlugin {
  /**
   * @param egress every connection to a configured host goes through it (the admin credential goes there)
   * @param sessions the node's PostgreSQL sessions: pools and timeouts, owned (and closed) by the composition root
   */
  constructor(
    private readonly egress: EgressGuard,
    private readonly sessions: PostgresSessions,
  ) {}

  private pool(target: Target): Promise<pg.Pool> {
    // Keyed by the endpoint and its admin credential: a rotated credential gets a fresh pool.
    return this.sessions.pool(
      this.egress,
      {
        host: target.config.host,
        port: target.config.port,
        database: target.config.database,
        user: target.admin.username,
        password: target.admin.password,
        ssl: target.config.ssl,
      },
      `database connection ${target.name}`,
      { max: target.config.max_connections, connectMs: target.config.connect_timeout_ms },
    );
  }

  private async withClient<T>(
    target: Target,
    secrets: readonly string[],
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await (await this.pool(target)).connect();
    } catch (err) {
      throw safeError(`cannot connect to database ${target.name}`, err, [target.admin.password, ...secrets]);
    }
    try {
      return await fn(client);
    } catch (err) {
      throw safeError(`database ${target.name}`, err, [target.admin.password, ...secrets]);
    } finally {
      client.release();
    }
  }

  async createUser(
    target: Target,
    statements: readonly string[],
    values: { name: string; password: string; expiration: string },
  ) {
    await this.withClient(target, [values.password], (client) =>
      inTransaction(
        client,
        statements.map((statement) => renderStatement(statement, values)),
      ),
    );
  }

  async revokeUser(target: Target, statements: readonly string[], name: string) {
    await this.withClient(target, [], async (client) => {
      if (statements.length > 0) {
        for (const statement of statements) await client.query(renderStatement(statement, { name }));
        return;
      }
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
      if (exists.rowCount === 0) return;
      const ident = escapeIdentifier(renderCheckedName(name));
      // No new sessions, then end the open ones, then move owned objects to the admin and drop the rest.
      await client.query(`ALTER ROLE ${ident} NOLOGIN`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [name]);
      await inTransaction(client, [
        `REASSIGN OWNED BY ${ident} TO CURRENT_USER`,
        `DROP OWNED BY ${ident}`,
        `DROP ROLE IF EXISTS ${ident}`,
      ]);
    });
  }

  async renewUser(target: Target, statements: readonly string[], values: { name: string; expiration: string }) {
    await this.withClient(target, [], async (client) => {
      for (const statement of statements) await client.query(renderStatement(statement, values));
    });
  }

  /** The pools belong to the node's {@link PostgresSessions}, closed with it. */
  async close(): Promise<void> {}
}

/**
 * Runs `statements` in one transaction and one round trip: `BEGIN`, the statements and `COMMIT` go as a single
 * simple-protocol query, which the server runs in order and stops at the first error. A round trip per statement was
 * most of an issue's time at the server (BEGIN, CREATE ROLE and COMMIT: three waits for one row written).
 * The separator starts on a new line, so a trailing `--` comment in a template cannot swallow it or what follows.
 */
async function inTransaction(client: pg.PoolClient, statements: readonly string[]): Promise<void> {
  try {
    await client.query(['BEGIN', ...statements, 'COMMIT'].join('\n;\n'));
  } catch (err) {
    // A failed statement leaves the session in an aborted transaction; it goes back to the pool clean.
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function renderCheckedName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new InternalError('refusing to revoke an invalid role name');
  return name;
}

/**
 * A `pg` error rebuilt as a message safe to store and show: the server's message and SQLSTATE only (never the
 * statement, its position or parameters), with the given credentials blanked in case the server echoed one.
 */
function safeError(context: string, err: unknown, secrets: readonly string[]): InternalError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const message = failureMessage(err, secrets);
  return new InternalError(`${context}: ${message}${code === '' ? '' : ` (${code})`}`);
}
