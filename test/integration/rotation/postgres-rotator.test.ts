import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../lambdas/core/errors.ts';
import {
  type RotationSecrets,
  RotationStepError,
  type Rotator,
  type RotatorContext,
  TransientRotationError,
} from '../../../lambdas/core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../lambdas/core/secrets/secret-types.ts';
import {
  type PostgresAlternatingSettingsInput,
  type PostgresSingleSettingsInput,
  postgresAlternatingRotator,
  postgresSingleRotator,
} from '../../../lambdas/engines/rotation/postgres/index.ts';
import { PostgresSessions } from '../../../lambdas/engines/shared/postgres/postgres-sessions.ts';
import { loopbackEgress } from '../../support/egress.ts';
import { canLogin, startPostgres, type TestPostgres } from '../../support/postgres.ts';

/** The PostgreSQL sessions (pools) of these rotators, as a node's composition root owns them. */
const sessions = new PostgresSessions();
let server: TestPostgres;
const ADMIN_SECRET = 'db/admin';

beforeAll(async () => {
  server = await startPostgres();
  // The canary an injected statement would try to drop.
  await admin('CREATE ROLE canary NOLOGIN');
});

afterAll(async () => {
  await sessions.close();
  await server?.stop();
});

/** Runs SQL as the superuser. */
async function admin(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = await server.adminClient();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

const id = (name: string) => pg.escapeIdentifier(name);
const lit = (value: string) => pg.escapeLiteral(value);
const unique = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

interface Fields {
  username: string;
  password: string;
  [key: string]: unknown;
}

function fieldsOf(value: SecretValue | undefined): Fields {
  if (value?.kind !== 'string') throw new Error('expected a string value');
  return JSON.parse(value.string) as Fields;
}

function valueFor(username: string, password: string, extra: Record<string, unknown> = {}): SecretValue {
  const fields = { engine: 'postgres', host: server.host, port: server.port, dbname: server.database };
  return { kind: 'string', string: JSON.stringify({ ...fields, username, password, ...extra }) };
}

/** A client logging in with a value's credential (not yet connected). */
function clientOf(value: SecretValue | undefined): pg.Client {
  const f = fieldsOf(value);
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    database: server.database,
    user: f.username,
    password: f.password,
  });
  client.on('error', () => {});
  return client;
}

/** Logs in with a value and runs `sql` in that session. */
async function asValue(value: SecretValue | undefined, sql: string, params: unknown[] = []) {
  const client = clientOf(value);
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

const works = (value: SecretValue | undefined) => {
  const f = fieldsOf(value);
  return canLogin(server, f.username, f.password);
};

class FakeSecrets implements RotationSecrets {
  readonly values = new Map<string, SecretValue>();
  readonly egress = loopbackEgress();
  constructor() {
    this.values.set(ADMIN_SECRET, {
      kind: 'string',
      string: JSON.stringify({ username: server.adminUser, password: server.adminPassword }),
    });
  }
  async readCurrent(secretId: string): Promise<SecretValue> {
    const value = this.values.get(secretId);
    if (value === undefined) throw new NotFoundError(`secret ${secretId} not found`);
    return value;
  }
}

/** One secret under rotation, driven step by step as the rotation service does. */
class Rotation<S> {
  readonly secrets = new FakeSecrets();
  readonly arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${unique('app')}`;
  previous: SecretValue | undefined;
  constructor(
    readonly rotator: Rotator<S>,
    readonly settings: S,
    public current: SecretValue,
  ) {
    this.secrets.values.set(this.arn, current);
  }

  ctx(token = randomUUID(), breach = false): RotatorContext<S> {
    return {
      secretName: 'app/db',
      arn: this.arn,
      token,
      settings: this.settings,
      secrets: this.secrets,
      now: Date.now(),
      current: this.current,
      previous: this.previous,
      breach,
    };
  }

  /** createSecret, setSecret and testSecret; the value is not finished. */
  async prepare() {
    const ctx = this.ctx();
    const pending = await this.rotator.createValue(ctx);
    await this.rotator.setSecret(ctx, pending);
    await this.rotator.testSecret(ctx, pending);
    return { ctx, pending };
  }

  /** finishSecret: AWSCURRENT moves, AWSPREVIOUS follows; returns what retire said. */
  async finish(pending: SecretValue) {
    this.previous = this.current;
    this.current = pending;
    this.secrets.values.set(this.arn, pending);
    return this.rotator.retire(this.ctx(), this.previous);
  }

  async rotate() {
    const { pending } = await this.prepare();
    return { pending, retired: await this.finish(pending) };
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const password = () => randomBytes(18).toString('base64url');

async function createUser(name: string, pw: string): Promise<void> {
  await admin(`CREATE ROLE ${id(name)} LOGIN PASSWORD ${lit(pw)}`);
}

async function roleExists(name: string): Promise<boolean> {
  return (await admin('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
}

describe('postgres-single rotator (real PostgreSQL)', () => {
  const rotator = postgresSingleRotator(sessions);
  const single = (current: SecretValue, settings: PostgresSingleSettingsInput = {}) =>
    new Rotation(rotator, rotator.parseSettings(settings), current);

  it('changes the password in place: the old one fails after, the new one works, extra fields are kept', async () => {
    const user = unique('single');
    const old = password();
    await createUser(user, old);
    const extra = { note: 'kept', ssl: 'false', port: String(server.port) };
    const r = single(valueFor(user, old, extra), { passwordLength: 40, excludeCharacters: '%' });

    const { ctx, pending } = await r.prepare();
    const next = fieldsOf(pending);
    expect(next).toEqual({ ...fieldsOf(r.current), password: next.password });
    expect(next).toMatchObject({ engine: 'postgres', username: user, ...extra });
    expect(next.password).toHaveLength(40);
    expect(next.password).not.toContain('%');
    // Retries of setSecret and testSecret (the first call of each ran in prepare).
    await rotator.setSecret(ctx, pending);
    await rotator.testSecret(ctx, pending);
    expect(await canLogin(server, user, old)).toBe(false);
    expect(await works(pending)).toBe(true);
    expect(await r.finish(pending)).toBeUndefined();
  });

  it('with adminSecret, the admin changes the password (even when the current one is no longer accepted)', async () => {
    const user = unique('single_adm');
    await createUser(user, password());
    // The stored current password is wrong: the user could not change its own password.
    const stale = valueFor(user, password());
    const withoutAdmin = single(stale);
    const failure = await withoutAdmin.prepare().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RotationStepError);
    expect((failure as Error).message).toContain(`setSecret for user "${user}"`);

    const r = single(stale, { adminSecret: ADMIN_SECRET });
    const { pending } = await r.prepare();
    expect(await works(pending)).toBe(true);
  });

  it('names a user that does not exist, with the database, instead of blaming the passwords', async () => {
    const user = unique('single_gone');
    const absent = `user "${user}" does not exist on database "${server.database}"`;
    const withAdmin = await single(valueFor(user, password()), { adminSecret: ADMIN_SECRET })
      .prepare()
      .catch((err: unknown) => err);
    expect(withAdmin).toBeInstanceOf(RotationStepError);
    expect((withAdmin as Error).message).toBe(`setSecret: ${absent}`);

    // Without an admin session PostgreSQL refuses the login alike for both causes, so both are named.
    const withoutAdmin = await single(valueFor(user, password()))
      .prepare()
      .catch((err: unknown) => err);
    expect(withoutAdmin).toBeInstanceOf(RotationStepError);
    expect((withoutAdmin as Error).message).toContain(absent);
  });

  it('rollback after setSecret restores the current password, idempotently; before setSecret it changes nothing', async () => {
    const user = unique('single_rb');
    const old = password();
    await createUser(user, old);
    const r = single(valueFor(user, old));

    const early = r.ctx();
    const unapplied = await rotator.createValue(early);
    await rotator.rollback(early, unapplied);
    await rotator.rollback(early, undefined);
    expect(await works(r.current)).toBe(true);

    const { ctx, pending } = await r.prepare();
    await rotator.rollback(ctx, pending);
    await rotator.rollback(ctx, pending);
    expect(await canLogin(server, user, old)).toBe(true);
    expect(await works(pending)).toBe(false);
  });

  it('is injection-safe: a username with quotes rotates, and nothing else is touched', async () => {
    const user = `o'brien "${unique('x')}"; DROP ROLE canary; --`;
    const old = password();
    await createUser(user, old);
    const r = single(valueFor(user, old));
    const { pending } = await r.rotate();
    expect(await canLogin(server, user, old)).toBe(false);
    expect(await works(pending)).toBe(true);
    expect(await roleExists('canary')).toBe(true);
  });

  it('classifies an unreachable server as transient and a refused login as a step error, without the password', async () => {
    const user = unique('single_err');
    const pw = password();
    await createUser(user, pw);
    const down = single(valueFor(user, pw, { port: await closedPort() }));
    const ctx = down.ctx();
    const pending = await rotator.createValue(ctx);
    await expect(rotator.setSecret(ctx, pending)).rejects.toBeInstanceOf(TransientRotationError);
    await expect(rotator.testSecret(ctx, pending)).rejects.toBeInstanceOf(TransientRotationError);

    const wrong = valueFor(user, `${pw}-wrong`);
    const refused = await rotator.testSecret(single(wrong).ctx(), wrong).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RotationStepError);
    expect((refused as Error).message).toContain(`testSecret: user "${user}"`);
    expect((refused as Error).message).toContain('28P01');
    expect((refused as Error).message).not.toContain(pw);
  });
});

describe('postgres-alternating rotator (real PostgreSQL)', () => {
  const rotator = postgresAlternatingRotator(sessions);

  /** A user with a schema it may create in, its own canary-free corner of the server. */
  async function setup(settings: Partial<PostgresAlternatingSettingsInput> = {}, base = unique('alt')) {
    const pw = password();
    await createUser(base, pw);
    const schema = `${base}_s`;
    await admin(`CREATE SCHEMA ${id(schema)}; GRANT USAGE, CREATE ON SCHEMA ${id(schema)} TO ${id(base)}`);
    const r = new Rotation(
      rotator,
      rotator.parseSettings({ adminSecret: ADMIN_SECRET, ...settings }),
      valueFor(base, pw, { note: 'kept' }),
    );
    const table = (name: string) => `${id(schema)}.${id(name)}`;
    return { base, clone: `${base}_clone`, owner: `${base}_owner`, schema, table, r };
  }

  it('creates the clone and the owner role on first use, then alternates; the previous login works until the next rotation', async () => {
    const { base, clone, owner, r } = await setup();
    const original = r.current;

    const first = await r.prepare();
    expect(fieldsOf(first.pending)).toMatchObject({ username: clone, note: 'kept', host: server.host });
    await rotator.setSecret(first.ctx, first.pending);
    await rotator.testSecret(first.ctx, first.pending);
    const retired = await r.finish(first.pending);
    expect(retired).toEqual({ handle: expect.objectContaining({ username: base }) });
    expect(retired?.afterMs).toBeUndefined();

    const owners = await admin(
      `SELECT r.rolcanlogin, m.member::regrole::text AS member, m.inherit_option
         FROM pg_roles r JOIN pg_auth_members m ON m.roleid = r.oid WHERE r.rolname = $1 ORDER BY 2`,
      [owner],
    );
    expect(owners.rows).toEqual([
      { rolcanlogin: false, member: base, inherit_option: true },
      { rolcanlogin: false, member: clone, inherit_option: true },
    ]);
    expect(await works(original)).toBe(true);
    expect(await works(r.current)).toBe(true);

    const second = await r.rotate();
    expect(fieldsOf(second.pending).username).toBe(base);
    expect(second.retired?.handle.username).toBe(clone);
    expect(await works(original)).toBe(false);
    expect(await works(r.previous)).toBe(true);
    expect(await works(r.current)).toBe(true);

    const afterFirst = r.previous;
    const third = await r.rotate();
    expect(fieldsOf(third.pending).username).toBe(clone);
    expect(await works(afterFirst)).toBe(false);
    expect(await works(r.previous)).toBe(true);
  });

  it('copies grants at every rotation: ones added after the first rotation reach the clone', async () => {
    const { base, clone, schema, table, r } = await setup();
    const s = id(schema);
    await admin(`CREATE TABLE ${table('t1')} (x int); INSERT INTO ${table('t1')} VALUES (1);
      CREATE SEQUENCE ${table('seq')};
      CREATE FUNCTION ${s}.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
      REVOKE EXECUTE ON FUNCTION ${s}.answer() FROM PUBLIC;
      GRANT SELECT ON ${table('t1')} TO ${id(base)};
      GRANT USAGE ON SEQUENCE ${table('seq')} TO ${id(base)};
      GRANT EXECUTE ON FUNCTION ${s}.answer() TO ${id(base)};
      GRANT CREATE ON DATABASE ${id(server.database)} TO ${id(base)}`);
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(clone);
    expect((await asValue(r.current, `SELECT x FROM ${table('t1')}`)).rows).toEqual([{ x: 1 }]);
    expect((await asValue(r.current, `SELECT nextval('${schema}.seq') AS n`)).rows).toEqual([{ n: '1' }]);
    expect((await asValue(r.current, `SELECT ${s}.answer() AS a`)).rows).toEqual([{ a: 42 }]);
    const dbPriv = await admin('SELECT has_database_privilege($1, $2, $3) AS ok', [clone, server.database, 'CREATE']);
    expect(dbPriv.rows).toEqual([{ ok: true }]);

    // Added after the first rotation: a column grant to the base user (now AWSPREVIOUS), a table grant to the clone.
    await admin(`CREATE TABLE ${table('t2')} (a int, secret text); INSERT INTO ${table('t2')} VALUES (2, 'no');
      GRANT SELECT (a) ON ${table('t2')} TO ${id(base)};
      CREATE TABLE ${table('t3')} (y int); GRANT INSERT, SELECT ON ${table('t3')} TO ${id(clone)}`);
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(base);
    await asValue(r.current, `INSERT INTO ${table('t3')} VALUES (3)`);
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(clone);
    expect((await asValue(r.current, `SELECT a FROM ${table('t2')}`)).rows).toEqual([{ a: 2 }]);
    await expect(asValue(r.current, `SELECT secret FROM ${table('t2')}`)).rejects.toThrow(/permission denied/);
  });

  it('copies role memberships, with their options, including ones granted after the first rotation', async () => {
    const { base, clone, table, r } = await setup();
    const readers = `${base}_readers`;
    const writers = `${base}_writers`;
    await admin(`CREATE ROLE ${id(readers)} NOLOGIN; CREATE ROLE ${id(writers)} NOLOGIN;
      CREATE TABLE ${table('data')} (v int);
      GRANT SELECT ON ${table('data')} TO ${id(readers)}; GRANT INSERT ON ${table('data')} TO ${id(writers)};
      GRANT ${id(readers)} TO ${id(base)} WITH ADMIN TRUE`);
    await r.rotate();
    expect((await asValue(r.current, `SELECT count(*)::int AS n FROM ${table('data')}`)).rows).toEqual([{ n: 0 }]);

    await admin(`GRANT ${id(writers)} TO ${id(clone)}`);
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(base);
    await asValue(r.current, `INSERT INTO ${table('data')} VALUES (1)`);
    const memberships = await admin(
      `SELECT g.rolname AS role, m.member::regrole::text AS member, m.admin_option
         FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
        WHERE g.rolname IN ($1, $2) ORDER BY 1, 2`,
      [readers, writers],
    );
    expect(memberships.rows).toEqual([
      { role: readers, member: base, admin_option: true },
      { role: readers, member: clone, admin_option: true },
      { role: writers, member: base, admin_option: false },
      { role: writers, member: clone, admin_option: false },
    ]);
  });

  it('makes objects created by either user usable by the other, and their ownership shared', async () => {
    const { owner, table, r } = await setup();
    const original = r.current;
    await asValue(original, `CREATE TABLE ${table('by_base')} (v int); INSERT INTO ${table('by_base')} VALUES (1)`);
    await r.rotate();
    // The clone reads, writes and alters what the base user made before the first rotation.
    await asValue(r.current, `INSERT INTO ${table('by_base')} VALUES (2); ALTER TABLE ${table('by_base')} ADD c int`);
    const owned = await admin('SELECT relowner::regrole::text AS owner FROM pg_class WHERE oid = $1::regclass', [
      table('by_base'),
    ]);
    expect(owned.rows).toEqual([{ owner }]);

    // Created by the clone (current) and by the base user (previous, still valid) between rotations.
    await asValue(r.current, `CREATE TABLE ${table('by_clone')} (v int); INSERT INTO ${table('by_clone')} VALUES (1)`);
    await asValue(r.previous, `CREATE TABLE ${table('by_prev')} (v int)`);
    await asValue(r.previous, `INSERT INTO ${table('by_clone')} VALUES (2)`);
    expect((await asValue(r.previous, `SELECT count(*)::int AS n FROM ${table('by_clone')}`)).rows).toEqual([{ n: 2 }]);
    await asValue(r.current, `INSERT INTO ${table('by_prev')} VALUES (1)`);

    await r.rotate();
    // After the next rotation the owner role owns them too, so either user may alter them.
    await asValue(r.current, `ALTER TABLE ${table('by_clone')} ADD c int; ALTER TABLE ${table('by_prev')} ADD c int`);
    await asValue(r.previous, `ALTER TABLE ${table('by_base')} ADD d int`);
  });

  it('rollback after setSecret restores the previous password on the pending user and never touches the current', async () => {
    const { r } = await setup();
    const original = r.current;

    // First rotation, no AWSPREVIOUS: the half-made clone gets a password nobody holds.
    const first = await r.prepare();
    await rotator.rollback(first.ctx, first.pending);
    expect(await works(first.pending)).toBe(false);
    expect(await works(original)).toBe(true);

    await r.rotate();
    const second = r.ctx();
    const pending = await rotator.createValue(second);
    await rotator.setSecret(second, pending);
    expect(await works(original)).toBe(false);
    await rotator.rollback(second, pending);
    await rotator.rollback(second, pending);
    expect(await works(original)).toBe(true);
    expect(await works(r.current)).toBe(true);
    expect(await works(pending)).toBe(false);

    // A pending value naming the current user is refused by setSecret and ignored by rollback.
    const current = fieldsOf(r.current);
    const forged = valueFor(current.username, password());
    await expect(rotator.setSecret(second, forged)).rejects.toBeInstanceOf(RotationStepError);
    await rotator.rollback(second, forged);
    expect(await works(r.current)).toBe(true);
  });

  it('revoke scrambles the previous login and ends its sessions, idempotently; a user current again is spared', async () => {
    const { base, r } = await setup({ graceSeconds: 90 });
    const original = r.current;
    const { retired } = await r.rotate();
    expect(retired?.afterMs).toBe(90_000);
    expect(retired?.handle.username).toBe(base);
    expect(JSON.stringify(retired?.handle)).not.toContain(fieldsOf(original).password);

    const held = clientOf(original);
    await held.connect();
    try {
      await rotator.revoke(r.settings, retired!.handle, r.secrets);
      await rotator.revoke(r.settings, retired!.handle, r.secrets);
      await expect(held.query('SELECT 1')).rejects.toThrow();
    } finally {
      await held.end().catch(() => {});
    }
    expect(await works(original)).toBe(false);
    expect(await works(r.current)).toBe(true);

    // The next rotation makes the base user current again before the revocation of the one after runs.
    const second = await r.rotate();
    await rotator.revoke(r.settings, retired!.handle, r.secrets);
    expect(await works(r.current)).toBe(true);
    await rotator.revoke(r.settings, second.retired!.handle, r.secrets);
    expect(await works(r.previous)).toBe(false);
    expect(await works(r.current)).toBe(true);
  });

  it('rotates many users granted on one shared table at once, without conflicts', async () => {
    const shared = unique('shared');
    await admin(`CREATE TABLE ${id(shared)} (v int)`);
    const setups = await Promise.all(Array.from({ length: 12 }, () => setup()));
    await admin(setups.map(({ base }) => `GRANT SELECT ON ${id(shared)} TO ${id(base)}`).join(';'));
    await Promise.all(setups.map(({ r }) => r.rotate()));
    for (const { r } of setups) {
      expect((await asValue(r.current, `SELECT count(*)::int AS n FROM ${id(shared)}`)).rows).toEqual([{ n: 0 }]);
    }
  });

  it('copies grants from a table granted to hundreds of other roles (an ACL PostgreSQL stores compressed)', async () => {
    const { base, clone, table, r } = await setup();
    const others = Array.from({ length: 600 }, (_, i) => `${base}_o${i}`);
    await admin(others.map((o) => `CREATE ROLE ${id(o)} NOLOGIN`).join(';'));
    await admin(`CREATE TABLE ${table('wide')} (a int, b text); INSERT INTO ${table('wide')} VALUES (1, 'b');
      GRANT SELECT ON ${table('wide')} TO ${others.map(id).join(', ')};
      GRANT INSERT (a) ON ${table('wide')} TO ${others.map(id).join(', ')};
      GRANT SELECT ON ${table('wide')} TO ${id(base)} WITH GRANT OPTION;
      GRANT INSERT (a) ON ${table('wide')} TO ${id(base)}`);
    const stored = await admin(
      `SELECT cardinality(relacl) AS entries, pg_column_size(relacl) < cardinality(relacl) * 12 AS compressed
         FROM pg_class WHERE oid = $1::regclass`,
      [table('wide')],
    );
    expect(stored.rows).toEqual([{ entries: expect.any(Number), compressed: true }]);
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(clone);
    const privileges = await admin(
      `SELECT has_table_privilege($1, $2, 'SELECT WITH GRANT OPTION') AS grantable,
              has_column_privilege($1, $2, 'a', 'INSERT') AS insert_a,
              has_column_privilege($1, $2, 'b', 'INSERT') AS insert_b`,
      [clone, table('wide')],
    );
    expect(privileges.rows).toEqual([{ grantable: true, insert_a: true, insert_b: false }]);
    expect((await asValue(r.current, `SELECT b FROM ${table('wide')}`)).rows).toEqual([{ b: 'b' }]);
    // And back: the base user, current again, still holds what it was granted.
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(base);
    expect((await asValue(r.current, `INSERT INTO ${table('wide')} (a) VALUES (2)`)).rowCount).toBe(1);
  });

  it('is injection-safe: usernames with quotes get a clone and an owner role, and nothing else is touched', async () => {
    const base = `q'uo"te ${randomBytes(3).toString('hex')}`;
    const { r } = await setup({}, base);
    await r.rotate();
    await r.rotate();
    expect(fieldsOf(r.current).username).toBe(base);
    expect(fieldsOf(r.previous).username).toBe(`${base}_clone`);
    expect(await works(r.current)).toBe(true);
    expect(await works(r.previous)).toBe(true);
    expect(await roleExists(`${base}_owner`)).toBe(true);
    expect(await roleExists('canary')).toBe(true);
  });

  it('classifies an unreachable server as transient in every step that connects', async () => {
    const { base, r } = await setup();
    const port = await closedPort();
    const down = new Rotation(rotator, r.settings, valueFor(base, 'irrelevant-password', { port }));
    const ctx = down.ctx();
    const pending = await rotator.createValue(ctx);
    await expect(rotator.setSecret(ctx, pending)).rejects.toBeInstanceOf(TransientRotationError);
    await expect(rotator.testSecret(ctx, pending)).rejects.toBeInstanceOf(TransientRotationError);
    await expect(rotator.rollback(ctx, pending)).rejects.toBeInstanceOf(TransientRotationError);
    const handle = { username: `${base}_clone`, host: server.host, port: String(port), dbname: server.database };
    const err = await rotator.revoke(r.settings, handle, r.secrets).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientRotationError);
    expect((err as Error).message).toContain(`revoke user "${base}_clone"`);
    expect((err as Error).message).not.toContain(server.adminPassword);
  });

  it('reports a server that is shutting down or down as transient', async () => {
    const { r } = await setup();
    await server.pause();
    try {
      const ctx = r.ctx();
      const pending = await rotator.createValue(ctx);
      await expect(rotator.setSecret(ctx, pending)).rejects.toBeInstanceOf(TransientRotationError);
    } finally {
      await server.resume();
    }
    const { pending } = await r.prepare();
    expect(await works(pending)).toBe(true);
  });

  it('names the setting when the admin secret is missing, without retrying', async () => {
    const { r } = await setup({ adminSecret: 'db/missing' });
    const err = await r.prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RotationStepError);
    expect((err as Error).message).toBe('adminSecret: secret db/missing not found');
  });
});
