import { NotFoundError } from '../../../core/errors.ts';
import {
  type RevocationHandle,
  RotationStepError,
  type Rotator,
  type RotatorContext,
} from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import type { PostgresSessions } from '../../shared/postgres/postgres-sessions.ts';
import { named, probe, withAdminSession } from './postgres-client.ts';
import { generatePassword, unusablePassword } from './postgres-password.ts';
import {
  type PostgresAlternatingSettings,
  PostgresAlternatingSettingsSchema,
  parsePostgresSettings,
} from './postgres-settings.ts';
import { alterPasswordIfExistsSql, syncAlternatingSql, TERMINATE_SESSIONS_SQL } from './postgres-sql.ts';
import {
  alternateOf,
  type PostgresValue,
  parseValue,
  pinnedTarget,
  readAdmin,
  userPair,
  withCredential,
} from './postgres-value.ts';

type Ctx = RotatorContext<PostgresAlternatingSettings>;

/** Parses the value if it is there and well formed; a rollback must not fail on a value it does not need. */
function tryParse(value: SecretValue | undefined, what: string): PostgresValue | undefined {
  if (value === undefined) return undefined;
  try {
    return parseValue(value, what);
  } catch {
    return undefined;
  }
}

/**
 * The current and pending values of one rotation: the pending one must name the other user of the pair, on the same
 * server and database.
 */
function currentAndPending(ctx: Ctx, pending: SecretValue, step: string) {
  const current = parseValue(ctx.current, 'current value');
  const next = parseValue(pending, 'pending value');
  const a = current.endpoint;
  const b = next.endpoint;
  const expected = alternateOf(a.user);
  if (b.user !== expected) {
    throw new RotationStepError(`${step}: the pending value must name user ${named(expected)}, not ${named(b.user)}`);
  }
  if (a.host !== b.host || a.port !== b.port || a.database !== b.database) {
    throw new RotationStepError(`${step}: the pending value names another server or database than the current one`);
  }
  return { current, next };
}

/**
 * The `postgres-alternating` rotation type: `user` and `user_clone` take turns, so the user that just became
 * AWSPREVIOUS keeps working while clients move to the new one. An admin credential (`adminSecret`) does all changes.
 *
 * Fixes the known failures of AWS's public templates:
 * - grants and role memberships are copied from the current user to the pending one at every rotation (not only when
 *   the clone is created), so a grant added after the first rotation reaches the clone. The copy only adds: a grant
 *   made to the user that is not current is kept, and reaches the other user at the rotation after;
 * - both users are members of a NOLOGIN `<base>_owner` role, which owns their objects (reassigned to it at every
 *   rotation) and, by default privileges, gets every privilege on whatever either creates in between: an object
 *   made by one user is usable by the other;
 * - every step is idempotent (AWSPENDING itself is the rotation service's).
 *
 * Steps:
 * - createSecret: the current value with the other username and a new password;
 * - setSecret: one transaction at the admin session (see `syncAlternatingSql`);
 * - testSecret: logs in as the pending user on `dbname` and probes;
 * - rollback: the pending user gets back the AWSPREVIOUS password when AWSPREVIOUS is that user (so it keeps
 *   working), else a random one; the current user is never touched;
 * - retire: the previous user stays valid until the next rotation changes its password, or `graceSeconds`;
 * - revoke: scrambles the user's password and ends its sessions; skipped when the user is current again.
 *
 * Why not `ALTER ROLE <user> SET role = '<base>_owner'` (new objects owned by the owner role at once): a session
 * acting as the owner role loses every privilege granted to the user itself, so a plain `GRANT ... TO app` would
 * not work until the next rotation. Default privileges give the other user access at once instead, and ownership
 * follows at the next rotation.
 *
 * Not copied: privileges in other databases of the cluster, role attributes (CREATEDB, CONNECTION LIMIT, VALID
 * UNTIL) and per-role settings. The admin must be a superuser, or a member of both users and of the object owners
 * (REASSIGN OWNED and ALTER DEFAULT PRIVILEGES FOR ROLE require it).
 *
 * @example
 * const rotators = { 'postgres-alternating': postgresAlternatingRotator(), ... } satisfies RotatorRegistry;
 */
export function postgresAlternatingRotator(sessions: PostgresSessions): Rotator<PostgresAlternatingSettings> & {
  readonly type: 'postgres-alternating';
} {
  return {
    type: 'postgres-alternating',

    parseSettings: (input) => parsePostgresSettings(PostgresAlternatingSettingsSchema, input, 'postgres-alternating'),

    target: (current) => pinnedTarget(current, true),

    references: (settings) => [{ path: `secrets/${settings.adminSecret}`, capability: 'read' }],

    async createValue(ctx) {
      const current = parseValue(ctx.current, 'current value');
      const password = generatePassword(ctx.settings.passwordLength, ctx.settings.excludeCharacters);
      return withCredential(current.fields, alternateOf(current.endpoint.user), password);
    },

    async setSecret(ctx, pending) {
      const { current, next } = currentAndPending(ctx, pending, 'setSecret');
      const cur = current.endpoint.user;
      const pend = next.endpoint.user;
      const admin = await readAdmin(ctx.secrets, ctx.settings.adminSecret, next.endpoint);
      const sql = await syncAlternatingSql(cur, pend, userPair(cur), next.endpoint.password);
      await withAdminSession(
        sessions,
        ctx.secrets.egress,
        admin,
        `setSecret for user ${named(pend)} as admin ${named(admin.user)}`,
        [next.endpoint.password, current.endpoint.password],
        (client) => client.query(sql),
      );
    },

    async testSecret(ctx, pending) {
      await probe(sessions, ctx.secrets.egress, parseValue(pending, 'pending value').endpoint, 'testSecret');
    },

    async rollback(ctx, pending) {
      // Nothing stored yet: createValue changed nothing at the target.
      if (pending === undefined) return;
      const next = parseValue(pending, 'pending value');
      const user = next.endpoint.user;
      const current = tryParse(ctx.current, 'current value');
      // The current user keeps its password whatever the pending value says.
      if (current === undefined || current.endpoint.user === user) return;
      const previous = tryParse(ctx.previous, 'previous value');
      const password = previous?.endpoint.user === user ? previous.endpoint.password : unusablePassword();
      const admin = await readAdmin(ctx.secrets, ctx.settings.adminSecret, next.endpoint);
      const restore = await alterPasswordIfExistsSql(user, password);
      await withAdminSession(
        sessions,
        ctx.secrets.egress,
        admin,
        `rollback for user ${named(user)} as admin ${named(admin.user)}`,
        [next.endpoint.password, current.endpoint.password, password],
        (client) => client.query(restore),
      );
    },

    retire(ctx, previous) {
      const prev = parseValue(previous, 'previous value');
      // Never hand out the current user for revocation (a value put by hand may name the same user twice).
      if (tryParse(ctx.current, 'current value')?.endpoint.user === prev.endpoint.user) return undefined;
      const e = prev.endpoint;
      const handle: RevocationHandle = {
        username: e.user,
        host: e.host,
        port: String(e.port),
        dbname: e.database,
        ssl: String(e.ssl),
        secretId: ctx.arn,
      };
      const grace = ctx.settings.graceSeconds;
      return grace === undefined ? { handle } : { handle, afterMs: grace * 1000 };
    },

    async revoke(settings, handle, secrets) {
      const user = handle.username;
      if (user === undefined || user === '') throw new RotationStepError('revoke: the handle names no username');
      // A user that became current again since it was retired (the next rotation came first) must keep working.
      if (handle.secretId !== undefined && (await isCurrentUser(secrets, handle.secretId, user))) return;
      const port = handle.port === undefined ? undefined : Number(handle.port);
      const admin = await readAdmin(secrets, settings.adminSecret, {
        host: handle.host,
        port: Number.isInteger(port) ? port : undefined,
        database: handle.dbname ?? 'postgres',
        ssl: handle.ssl === undefined ? undefined : handle.ssl === 'true',
      });
      if (admin.user === user) throw new RotationStepError(`revoke: refusing to revoke the admin user ${named(user)}`);
      await withAdminSession(
        sessions,
        secrets.egress,
        admin,
        `revoke user ${named(user)} as admin ${named(admin.user)}`,
        [],
        async (client) => {
          // The password first, committed, then the sessions: a client reconnecting in between is refused.
          await client.query(await alterPasswordIfExistsSql(user, unusablePassword()));
          await client.query(TERMINATE_SESSIONS_SQL, [user]);
        },
      );
    },
  };
}

async function isCurrentUser(secrets: Parameters<Rotator['revoke']>[2], secretId: string, user: string) {
  try {
    return parseValue(await secrets.readCurrent(secretId), 'current value').endpoint.user === user;
  } catch (err) {
    // A deleted or unreadable secret protects no one: revoke.
    if (err instanceof NotFoundError || err instanceof RotationStepError) return false;
    throw err;
  }
}
