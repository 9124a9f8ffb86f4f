import { RotationStepError, type Rotator, type RotatorContext } from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import type { PostgresSessions } from '../../shared/postgres/postgres-sessions.ts';
import { isMissingRole, named, probe, trySession, withAdminSession } from './postgres-client.ts';
import { generatePassword } from './postgres-password.ts';
import {
  type PostgresSingleSettings,
  PostgresSingleSettingsSchema,
  parsePostgresSettings,
} from './postgres-settings.ts';
import { alterPasswordSql } from './postgres-sql.ts';
import { type PostgresValue, parseValue, pinnedTarget, readAdmin, withCredential } from './postgres-value.ts';

/** The current and pending values of one rotation, checked to name the same user at the same place. */
function currentAndPending(ctx: RotatorContext<PostgresSingleSettings>, pending: SecretValue, step: string) {
  const current = parseValue(ctx.current, 'current value');
  const next = parseValue(pending, 'pending value');
  const a = current.endpoint;
  const b = next.endpoint;
  if (a.user !== b.user || a.host !== b.host || a.port !== b.port || a.database !== b.database) {
    throw new RotationStepError(
      `${step}: the pending value names another user or server than the current one (user ${named(a.user)})`,
    );
  }
  return { current, next };
}

const passwordsOf = (...values: PostgresValue[]) => values.map((v) => v.endpoint.password);

/**
 * The `postgres-single` rotation type: one user whose password changes in place (`ALTER ROLE ... PASSWORD`), so
 * clients holding the old password fail until they read the new one.
 *
 * - createSecret: the current value with a new password (other fields kept);
 * - setSecret: the user changes its own password, logged in with the current one; or, with `adminSecret`, the admin
 *   does. A retry after the change finds the current password refused and the pending one accepted: done;
 * - testSecret: logs in with the pending value on its `dbname` and probes;
 * - rollback: when the target accepts the pending password, sets the current one back;
 * - retire / revoke: nothing (the old password is already gone).
 *
 * @example
 * const rotators = { 'postgres-single': postgresSingleRotator(), ... } satisfies RotatorRegistry;
 */
export function postgresSingleRotator(
  sessions: PostgresSessions,
): Rotator<PostgresSingleSettings> & { readonly type: 'postgres-single' } {
  return {
    type: 'postgres-single',

    parseSettings: (input) => parsePostgresSettings(PostgresSingleSettingsSchema, input, 'postgres-single'),

    target: (current) => pinnedTarget(current, false),

    references: (settings) =>
      settings.adminSecret === undefined ? [] : [{ path: `secrets/${settings.adminSecret}`, capability: 'read' }],

    async createValue(ctx) {
      const current = parseValue(ctx.current, 'current value');
      const password = generatePassword(ctx.settings.passwordLength, ctx.settings.excludeCharacters);
      return withCredential(current.fields, current.endpoint.user, password);
    },

    async setSecret(ctx, pending) {
      const { current, next } = currentAndPending(ctx, pending, 'setSecret');
      const user = next.endpoint.user;
      const what = `setSecret for user ${named(user)}`;
      const change = await alterPasswordSql(user, next.endpoint.password, false);
      const secrets = passwordsOf(current, next);
      const absent = `user ${named(user)} does not exist on database ${named(next.endpoint.database)}`;
      if (ctx.settings.adminSecret !== undefined) {
        const admin = await readAdmin(ctx.secrets, ctx.settings.adminSecret, next.endpoint);
        await withAdminSession(
          sessions,
          ctx.secrets.egress,
          admin,
          `${what} as admin ${named(admin.user)}`,
          secrets,
          (client) =>
            client.query(change).catch((err: unknown) => {
              throw isMissingRole(err) ? new RotationStepError(`setSecret: ${absent}`) : err;
            }),
        );
        return;
      }
      const byCurrent = await trySession(sessions, ctx.secrets.egress, current.endpoint, what, secrets, (client) =>
        client.query(change),
      );
      if (byCurrent.ok) return;
      // The current password is refused: a retry after the change went through, if the pending one is accepted.
      const byPending = await trySession(
        sessions,
        ctx.secrets.egress,
        next.endpoint,
        what,
        secrets,
        async () => undefined,
      );
      if (byPending.ok) return;
      // PostgreSQL refuses a login for a role that does not exist exactly as for a wrong password (so that logins
      // cannot probe for role names): without an admin session to ask pg_roles, both causes must be named.
      throw new RotationStepError(
        `${what}: the target accepts neither the current nor the pending password, or ${absent} (an adminSecret tells which)`,
      );
    },

    async testSecret(ctx, pending) {
      await probe(sessions, ctx.secrets.egress, parseValue(pending, 'pending value').endpoint, 'testSecret');
    },

    async rollback(ctx, pending) {
      // Nothing was stored, or nothing to restore to: createValue has no side effects.
      if (pending === undefined || ctx.current === undefined) return;
      const { current, next } = currentAndPending(ctx, pending, 'rollback');
      const user = next.endpoint.user;
      const restore = await alterPasswordSql(user, current.endpoint.password, false);
      // Only when setSecret took effect: the pending password logs in, and that session sets the current one back.
      await trySession(
        sessions,
        ctx.secrets.egress,
        next.endpoint,
        `rollback for user ${named(user)}`,
        passwordsOf(current, next),
        (client) => client.query(restore),
      );
    },

    retire: () => undefined,

    // retire never hands out a handle: there is nothing to revoke.
    revoke: async () => undefined,
  };
}
