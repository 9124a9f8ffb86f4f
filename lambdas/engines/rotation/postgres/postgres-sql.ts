import { randomBytes } from 'node:crypto';
import { escapeIdentifier, escapeLiteral } from '../../shared/postgres/sql-escape.ts';
import { passwordForAlterRole } from './postgres-password.ts';
import type { UserPair } from './postgres-value.ts';

/**
 * The SQL the PostgreSQL rotators run. Role names and passwords are only ever spliced in through `pg`'s
 * `escapeIdentifier` / `escapeLiteral` (as the database engine does), inside PL/pgSQL through `format('%I')`, or
 * passed as query parameters. Passwords go to the server as SCRAM verifiers where possible (see
 * {@link passwordForAlterRole}).
 */

const ident = (name: string) => escapeIdentifier(name);
const literal = (value: string) => escapeLiteral(value);

/** A `DO` block whose dollar-quote tag is random and checked absent from the body, so no value can close it. */
function doBlock(body: string): string {
  let tag: string;
  do tag = `$coffer_${randomBytes(6).toString('hex')}$`;
  while (body.includes(tag));
  return `DO ${tag}\n${body}\n${tag}`;
}

/**
 * `ALTER ROLE <user> [WITH LOGIN] PASSWORD '<verifier>'`. `login` is for the admin (re-enabling a user); a user
 * changing its own password may not touch its LOGIN attribute.
 */
export async function alterPasswordSql(user: string, password: string, login: boolean): Promise<string> {
  return `ALTER ROLE ${ident(user)}${login ? ' WITH LOGIN' : ''} PASSWORD ${literal(await passwordForAlterRole(password))}`;
}

/** Sets `user`'s password when the role exists; a no-op otherwise (idempotent revoke and rollback). */
export async function alterPasswordIfExistsSql(user: string, password: string): Promise<string> {
  const verifier = await passwordForAlterRole(password);
  return doBlock(`DECLARE
  u text := ${literal(user)};
  pw text := ${literal(verifier)};
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = u) THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', u, pw);
  END IF;
END`);
}

/** Ends every session of `$1` but the caller's; returns `terminated`, the count. */
export const TERMINATE_SESSIONS_SQL =
  'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS terminated FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()';

/** The probe of testSecret: one row `{ ok: 1, login: session_user, acting: current_user }`. */
export const PROBE_SQL = 'SELECT 1 AS ok, session_user::text AS login, current_user::text AS acting';

/**
 * `aclexplode` of an ACL column, detoasted once. `aclexplode` returns one row per call and fetches its argument
 * again at every call: a large ACL is stored compressed, so each row decompressed the whole ACL again, quadratic in
 * its size (one table granted to 1,000 alternating pairs: 2,000 entries, 0.7 s per explode, twice per rotation).
 * `acl || '{}'` hands it an in-memory copy instead (array_cat with an empty operand returns the other one,
 * detoasted); the rows are the same.
 */
const explode = (acl: string) => `aclexplode(${acl} || '{}'::aclitem[])`;

/** Object privileges granted to the current or pending user, one row per (object, column, privilege, grantee). */
const ACL_ROWS = `
      SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || c.oid::regclass::text AS target,
             ''::text AS cols, a.privilege_type AS priv, a.is_grantable AS grantable, a.grantee
        FROM pg_class c, ${explode('c.relacl')} a
       WHERE c.relacl IS NOT NULL AND a.grantee IN (cur_oid, pend_oid)
      UNION ALL
      SELECT 'TABLE ' || c.oid::regclass::text, ' (' || quote_ident(t.attname) || ')', a.privilege_type, a.is_grantable, a.grantee
        FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid, ${explode('t.attacl')} a
       WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND a.grantee IN (cur_oid, pend_oid)
      UNION ALL
      SELECT 'SCHEMA ' || quote_ident(n.nspname), '', a.privilege_type, a.is_grantable, a.grantee
        FROM pg_namespace n, ${explode('n.nspacl')} a
       WHERE n.nspacl IS NOT NULL AND a.grantee IN (cur_oid, pend_oid)
      UNION ALL
      SELECT 'DATABASE ' || quote_ident(d.datname), '', a.privilege_type, a.is_grantable, a.grantee
        FROM pg_database d, ${explode('d.datacl')} a
       WHERE d.datacl IS NOT NULL AND a.grantee IN (cur_oid, pend_oid)
      UNION ALL
      SELECT 'ROUTINE ' || p.oid::regprocedure::text, '', a.privilege_type, a.is_grantable, a.grantee
        FROM pg_proc p, ${explode('p.proacl')} a
       WHERE p.proacl IS NOT NULL AND a.grantee IN (cur_oid, pend_oid)`;

/** The GRANTs that give the pending user every object privilege the current user has and it lacks. */
const GRANTS_TO_COPY = `
    WITH acl AS (${ACL_ROWS}
    ),
    want AS (SELECT target, cols, priv, bool_or(grantable) AS grantable FROM acl WHERE grantee = cur_oid GROUP BY 1, 2, 3),
    have AS (SELECT target, cols, priv, bool_or(grantable) AS grantable FROM acl WHERE grantee = pend_oid GROUP BY 1, 2, 3)
    SELECT format('GRANT %s%s ON %s TO %I%s', w.priv, w.cols, w.target, pend,
                  CASE WHEN w.grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS sql
      FROM want w LEFT JOIN have h USING (target, cols, priv)
     WHERE h.priv IS NULL OR (w.grantable AND NOT h.grantable)`;

/**
 * Role memberships of the current ($1) and pending ($2) users other than the shared owner ($3), and the GRANTs that
 * give the pending user ($4: its name) every membership and option the current user has. PostgreSQL 16 records
 * INHERIT and SET per membership; before 16 only the ADMIN option exists.
 */
const MEMBERSHIPS_16 = `
    WITH m AS (
      SELECT m.member, quote_ident(g.rolname) AS role, bool_or(m.admin_option) AS adm,
             bool_or(m.inherit_option) AS inh, bool_or(m.set_option) AS st
        FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
       WHERE m.member IN ($1, $2) AND m.roleid <> $3
       GROUP BY m.member, g.rolname
    ),
    want AS (SELECT role, adm, inh, st FROM m WHERE member = $1),
    have AS (SELECT role, adm, inh, st FROM m WHERE member = $2)
    SELECT format('GRANT %s TO %I WITH ADMIN %s, INHERIT %s, SET %s', w.role, $4,
                  (w.adm OR coalesce(h.adm, false))::text, (w.inh OR coalesce(h.inh, false))::text,
                  (w.st OR coalesce(h.st, false))::text) AS sql
      FROM want w LEFT JOIN have h USING (role)
     WHERE h.role IS NULL OR (w.adm AND NOT h.adm) OR (w.inh AND NOT h.inh) OR (w.st AND NOT h.st)`;

const MEMBERSHIPS_LEGACY = `
    WITH m AS (
      SELECT m.member, quote_ident(g.rolname) AS role, bool_or(m.admin_option) AS adm
        FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
       WHERE m.member IN ($1, $2) AND m.roleid <> $3
       GROUP BY m.member, g.rolname
    ),
    want AS (SELECT role, adm FROM m WHERE member = $1),
    have AS (SELECT role, adm FROM m WHERE member = $2)
    SELECT format('GRANT %s TO %I%s', w.role, $4, CASE WHEN w.adm THEN ' WITH ADMIN OPTION' ELSE '' END) AS sql
      FROM want w LEFT JOIN have h USING (role)
     WHERE h.role IS NULL OR (w.adm AND NOT h.adm)`;

/**
 * One transaction that readies the pending user of an alternating pair, and is safe to run any number of times:
 *
 * 1. creates `<base>_owner` (NOLOGIN) and the pending user when missing; refuses an owner role that can log in;
 * 2. makes both users INHERIT members of the owner role, and gives the owner role, by default privileges, every
 *    privilege on whatever either user creates from now on (tables, sequences, routines, types, schemas), so an
 *    object made by one user is usable by the other at once;
 * 3. `REASSIGN OWNED BY` both users to the owner role, so ownership itself (ALTER, DROP, indexes) is shared too
 *    (from here on, one rotation per database at a time: an advisory lock, see below);
 * 4. copies the current user's object privileges (tables, sequences, columns, schemas, databases, routines) and
 *    role memberships, with their options, to the pending user. Additive: a privilege the pending user holds and the
 *    current one lacks stays, so a grant made to either user while the other is current reaches both within two
 *    rotations and is never taken away by one. To revoke, revoke from both users (or grant to `<base>_owner`, which
 *    both inherit from at once, and revoke there);
 * 5. sets the pending user's password (and LOGIN).
 *
 * Objects of step 3 and privileges of step 4 are those of the connected database (the secret's `dbname`); database
 * privileges and memberships are cluster-wide.
 */
export async function syncAlternatingSql(
  current: string,
  pending: string,
  pair: UserPair,
  password: string,
): Promise<string> {
  const sync = doBlock(`DECLARE
  cur text := ${literal(current)};
  pend text := ${literal(pending)};
  own text := ${literal(pair.owner)};
  cur_oid oid;
  pend_oid oid;
  own_oid oid;
  v16 boolean := current_setting('server_version_num')::int >= 160000;
  u text;
  kind text;
  missing boolean;
  r record;
BEGIN
  SELECT oid INTO cur_oid FROM pg_roles WHERE rolname = cur;
  IF cur_oid IS NULL THEN
    RAISE EXCEPTION 'the current user % does not exist', quote_ident(cur) USING ERRCODE = 'undefined_object';
  END IF;

  SELECT oid INTO own_oid FROM pg_roles WHERE rolname = own;
  IF own_oid IS NULL THEN
    EXECUTE format('CREATE ROLE %I NOLOGIN', own);
    SELECT oid INTO own_oid FROM pg_roles WHERE rolname = own;
  ELSIF (SELECT rolcanlogin FROM pg_roles WHERE oid = own_oid) THEN
    RAISE EXCEPTION 'role % can log in, so it cannot be the shared owner of % and %',
      quote_ident(own), quote_ident(cur), quote_ident(pend) USING ERRCODE = 'duplicate_object';
  END IF;

  SELECT oid INTO pend_oid FROM pg_roles WHERE rolname = pend;
  IF pend_oid IS NULL THEN
    EXECUTE format('CREATE ROLE %I LOGIN', pend);
    SELECT oid INTO pend_oid FROM pg_roles WHERE rolname = pend;
  END IF;

  FOREACH u IN ARRAY ARRAY[cur, pend] LOOP
    IF v16 THEN
      -- inherit_option and set_option exist from 16 on: dynamic SQL, so older servers never plan it.
      EXECUTE 'SELECT NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.member
                 WHERE m.roleid = $1 AND g.rolname = $2 AND m.inherit_option AND m.set_option)'
        INTO missing USING own_oid, u;
      IF missing THEN
        EXECUTE format('GRANT %I TO %I WITH INHERIT TRUE, SET TRUE', own, u);
      END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.member
                       WHERE m.roleid = own_oid AND g.rolname = u) THEN
      EXECUTE format('GRANT %I TO %I', own, u);
    END IF;
    -- Default privileges are written once per user and kind: rewriting them at every rotation costs catalog
    -- writes that a thousand rotations feel.
    FOREACH kind IN ARRAY ARRAY['TABLES:r', 'SEQUENCES:S', 'FUNCTIONS:f', 'TYPES:T', 'SCHEMAS:n'] LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_default_acl d JOIN pg_roles g ON g.oid = d.defaclrole, ${explode('d.defaclacl')} a
                      WHERE g.rolname = u AND d.defaclnamespace = 0
                        AND d.defaclobjtype = split_part(kind, ':', 2)::"char" AND a.grantee = own_oid) THEN
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT ALL ON %s TO %I', u, split_part(kind, ':', 1), own);
      END IF;
    END LOOP;
  END LOOP;

  -- Concurrent GRANTs on one object (a table every application reads) fail with "tuple concurrently updated":
  -- rotations of this database reassign and copy privileges one at a time, until their commit. Taken before any
  -- object lock (REASSIGN locks what it moves), so two rotations cannot deadlock; and only when there is something
  -- to reassign or grant, so steady-state rotations of many users do not queue behind each other.
  IF EXISTS (SELECT 1 FROM pg_shdepend
              WHERE deptype = 'o' AND refclassid = 'pg_authid'::regclass AND refobjid IN (cur_oid, pend_oid)
                AND dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())))
     OR EXISTS (${GRANTS_TO_COPY}) THEN
    PERFORM pg_advisory_xact_lock(hashtext('coffer.rotation.grants'));
    EXECUTE format('REASSIGN OWNED BY %I, %I TO %I', cur, pend, own);
    FOR r IN ${GRANTS_TO_COPY}
    LOOP
      EXECUTE r.sql;
    END LOOP;
  END IF;

  FOR r IN EXECUTE CASE WHEN v16 THEN $memberships$${MEMBERSHIPS_16}$memberships$
                        ELSE $memberships$${MEMBERSHIPS_LEGACY}$memberships$ END
    USING cur_oid, pend_oid, own_oid, pend
  LOOP
    EXECUTE r.sql;
  END LOOP;
END`);
  return `${sync};\n${await alterPasswordSql(pending, password, true)}`;
}
