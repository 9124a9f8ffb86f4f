import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ldapts';
import { startDaemon } from './daemon.ts';
import { freePort } from './free-port.ts';
import { writeServerCertificates } from './openssl-pki.ts';

/** Where Debian's `slapd` package installs the daemon (not on a non-root PATH). */
const SLAPD = process.env.COFFER_TEST_SLAPD ?? '/usr/sbin/slapd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

export const BASE_DN = 'dc=example,dc=org';
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const GROUPS_DN = `ou=groups,${BASE_DN}`;
/** The Active Directory-style domain of the seeded `userPrincipalName`s. */
export const UPN_DOMAIN = 'example.org';

/** A seeded person: `uid=<uid>,ou=people,…` with a password, and (for UPN logins) `<uid>@example.org`. */
export interface SeededUser {
  readonly uid: string;
  readonly password: string;
  readonly cn: string;
}

/** The people every test directory holds. Passwords are test fixtures, not secrets. */
export const USERS = {
  /** In `engineers` (groupOfNames: member, so memberOf too) and `ops` (posixGroup: memberUid). */
  alice: { uid: 'alice', password: 'alice-pass-1', cn: 'Alice Liddell' },
  /** In `admins` only. */
  bob: { uid: 'bob', password: 'bob-pass-2', cn: 'Bob Builder' },
  /** In no group at all. */
  carol: { uid: 'carol', password: 'carol-pass-3', cn: 'Carol Outsider' },
  /** A name with LDAP filter and DN metacharacters, to show they are escaped, never interpreted. */
  star: { uid: 'st*r(x)', password: 'star-pass-4', cn: 'Star, Esq.' },
} as const satisfies Record<string, SeededUser>;

/** The groups: `engineers` and `admins` are groupOfNames (memberOf-maintained), `ops` a posixGroup. */
export const GROUPS = {
  engineers: ['alice'],
  admins: ['bob'],
} as const;
export const POSIX_GROUPS = { ops: ['alice'] } as const;

/** A real OpenLDAP server for tests, on free loopback ports, seeded with {@link USERS} and {@link GROUPS}. */
export interface TestSlapd {
  /** `ldap://127.0.0.1:<port>` (StartTLS available). */
  readonly url: string;
  /** `ldaps://127.0.0.1:<port>`. */
  readonly ldapsUrl: string;
  readonly port: number;
  readonly ldapsPort: number;
  /** PEM of the CA that signed the server's certificate (for `certificate`). */
  readonly caPem: string;
  /** PEM of a CA that signed nothing here: a client trusting only it must refuse the server. */
  readonly otherCaPem: string;
  /** A service account allowed to search (for `binddn`/`bindpass`). */
  readonly serviceDn: string;
  readonly servicePassword: string;
  /** Distinguished name of a seeded person. */
  userDn(uid: string): string;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
}

function slapdConf(dir: string, adminPassword: string): string {
  return [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((schema) => `include ${SCHEMA_DIR}/${schema}.schema`),
    // Active Directory's userPrincipalName (its real OID), allowed on people through an auxiliary class, so UPN-style
    // logins run against a real directory; msuser.schema would also define memberOf, which the overlay owns.
    "attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch " +
      'SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )',
    "objectclass ( 1.3.6.1.4.1.32473.1.1 NAME 'cofferTestAdUser' SUP top AUXILIARY MAY userPrincipalName )",
    `pidfile ${dir}/slapd.pid`,
    `modulepath ${MODULE_DIR}`,
    'moduleload back_mdb',
    'moduleload memberof',
    `TLSCACertificateFile ${dir}/ca.crt`,
    `TLSCertificateFile ${dir}/server.crt`,
    `TLSCertificateKeyFile ${dir}/server.key`,
    'database mdb',
    `suffix "${BASE_DN}"`,
    `rootdn "cn=admin,${BASE_DN}"`,
    `rootpw ${adminPassword}`,
    `directory ${dir}/db`,
    'maxsize 16777216',
    'overlay memberof',
    'memberof-group-oc groupOfNames',
    'memberof-member-ad member',
    'memberof-memberof-ad memberOf',
    // Anonymous clients may only bind: searching needs a bound user (search-then-bind's service account).
    'access to attrs=userPassword by self read by anonymous auth by * none',
    'access to * by users read by anonymous auth',
    '',
  ].join('\n');
}

/**
 * Starts `slapd` (Debian's package) with a `slapd.conf` in a fresh temp dir: mdb backend, the memberof overlay, TLS
 * with a certificate made here (ldaps:// on one port, StartTLS on the ldap:// one), then seeds it over LDAP as the
 * root DN. Runs as the current user (root on CI, which slapd allows).
 */
export async function startSlapd(): Promise<TestSlapd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-slapd-'));
  mkdirSync(path.join(dir, 'db'));
  writeServerCertificates(dir, { caName: 'coffer test LDAP CA', key: 'ec' });
  const adminPassword = randomBytes(18).toString('base64url');
  const servicePassword = randomBytes(18).toString('base64url');
  writeFileSync(path.join(dir, 'slapd.conf'), slapdConf(dir, adminPassword));
  const port = await freePort();
  const ldapsPort = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  // `-d 0`: stay in the foreground (so the test owns the process) without debug output.
  const daemon = await startDaemon({
    name: 'slapd',
    command: SLAPD,
    args: ['-f', `${dir}/slapd.conf`, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'],
    dir,
    ready: async () => (await accepts(port)) && (await accepts(ldapsPort)),
    intervalMs: 50,
  });
  try {
    await seed(url, `cn=admin,${BASE_DN}`, adminPassword, servicePassword);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return {
    url,
    ldapsUrl,
    port,
    ldapsPort,
    caPem: readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    otherCaPem: readFileSync(path.join(dir, 'other.crt'), 'utf8'),
    serviceDn: `cn=coffer,${BASE_DN}`,
    servicePassword,
    userDn: (uid) => `uid=${escapeDnValue(uid)},${PEOPLE_DN}`,
    stop: daemon.stop,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** RFC 4514 escaping of the seeded names (only what they use). */
function escapeDnValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
}

async function seed(url: string, adminDn: string, adminPassword: string, servicePassword: string): Promise<void> {
  const client = new Client({ url, timeout: 10_000, connectTimeout: 10_000 });
  try {
    await client.bind(adminDn, adminPassword);
    await client.add(BASE_DN, { objectClass: ['dcObject', 'organization'], dc: 'example', o: 'Example' });
    await client.add(PEOPLE_DN, { objectClass: 'organizationalUnit', ou: 'people' });
    await client.add(GROUPS_DN, { objectClass: 'organizationalUnit', ou: 'groups' });
    await client.add(`cn=coffer,${BASE_DN}`, {
      objectClass: ['person'],
      cn: 'coffer',
      sn: 'service account',
      userPassword: servicePassword,
    });
    for (const user of Object.values(USERS)) {
      await client.add(`uid=${escapeDnValue(user.uid)},${PEOPLE_DN}`, {
        objectClass: ['inetOrgPerson', 'cofferTestAdUser'],
        uid: user.uid,
        cn: user.cn,
        sn: user.cn.split(' ').at(-1)!,
        userPassword: user.password,
        userPrincipalName: `${user.uid}@${UPN_DOMAIN}`,
      });
    }
    for (const [name, members] of Object.entries(GROUPS)) {
      await client.add(`cn=${name},${GROUPS_DN}`, {
        objectClass: 'groupOfNames',
        cn: name,
        member: members.map((uid) => `uid=${uid},${PEOPLE_DN}`),
      });
    }
    let gid = 5000;
    for (const [name, members] of Object.entries(POSIX_GROUPS)) {
      await client.add(`cn=${name},${GROUPS_DN}`, {
        objectClass: 'posixGroup',
        cn: name,
        gidNumber: String(gid++),
        memberUid: [...members],
      });
    }
  } finally {
    await client.unbind();
  }
}
