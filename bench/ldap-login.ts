/**
 * LDAP login benchmark: logins per second (and p99) through the real server, beside the bare LDAP work a login
 * cannot avoid, measured in the same run against the same test slapd (absolute numbers on a shared 2-core machine
 * mean little).
 *
 * - `baseline`: `ldapts` alone, one LDAPS connection, a bind as the user and an unbind: the floor of "check a
 *   password against the directory".
 * - `searchThenBind`: `ldapts` doing what the method does with a service account (connect, service bind, user
 *   search, user bind, service bind, group search), without Coffer.
 * - `http`: `POST /v1/auth/ldap/login` against the real server process (durable audit of request and response, the
 *   same LDAP work through the egress guard, then a token minted and stored).
 *
 * Run alone with `node --import tsx bench/ldap-login.ts`; `bench/run.ts` runs it as a suite.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from 'ldapts';
import { api, startServer } from '../test/support/server-process.ts';
import { GROUPS_DN, PEOPLE_DN, startSlapd, USERS } from '../test/support/slapd.ts';
import { measure, type Rate } from './measure.ts';

export interface LdapLoginBenchResult {
  baseline: Rate;
  searchThenBind: Rate;
  http: Rate;
}

export async function benchLdapLogin(
  options: { count?: number; concurrency?: number } = {},
): Promise<LdapLoginBenchResult> {
  const count = options.count ?? 400;
  const concurrency = options.concurrency ?? 4;
  const slapd = await startSlapd();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-ldap-'));
  try {
    const client = () => new Client({ url: slapd.ldapsUrl, tlsOptions: { ca: slapd.caPem }, timeout: 10_000 });
    const baseline = await measure(count, concurrency, async () => {
      const c = client();
      try {
        await c.bind(slapd.userDn('alice'), USERS.alice.password);
      } finally {
        await c.unbind();
      }
    });
    const searchThenBind = await measure(count, concurrency, async () => {
      const c = client();
      try {
        await c.bind(slapd.serviceDn, slapd.servicePassword);
        const { searchEntries } = await c.search(PEOPLE_DN, { filter: '(uid=alice)', attributes: ['dn'] });
        await c.bind(searchEntries[0]!.dn, USERS.alice.password);
        await c.bind(slapd.serviceDn, slapd.servicePassword);
        await c.search(GROUPS_DN, { filter: `(member=${searchEntries[0]!.dn})`, attributes: ['cn'] });
      } finally {
        await c.unbind();
      }
    });

    const server = await startServer(path.join(dir, 'http'));
    let http: Rate;
    try {
      const root = (method: string, url: string, body?: unknown) =>
        api(server.address, server.rootToken, method, url, body);
      const enabled = await root('POST', '/v1/sys/auth/ldap', {
        type: 'ldap',
        config: {
          url: slapd.ldapsUrl,
          certificate: slapd.caPem,
          binddn: slapd.serviceDn,
          bindpass: slapd.servicePassword,
          userdn: PEOPLE_DN,
          userattr: 'uid',
          groupdn: GROUPS_DN,
        },
      });
      if (enabled.status !== 201) throw new Error(`enable failed: HTTP ${enabled.status}`);
      await root('PUT', '/v1/sys/policies/eng', { rules: [{ path: 'secrets/eng/*', capabilities: ['read'] }] });
      await root('PUT', '/v1/auth/ldap/groups/engineers', { policies: ['eng'] });
      const login = () =>
        api(server.address, undefined, 'POST', '/v1/auth/ldap/login', {
          username: 'alice',
          password: USERS.alice.password,
        });
      await login();
      http = await measure(count, concurrency, async () => {
        const res = await login();
        if (res.status !== 200) throw new Error(`login failed: HTTP ${res.status}`);
      });
    } finally {
      await server.stop();
    }
    return { baseline, searchThenBind, http };
  } finally {
    await slapd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchLdapLogin();
  const row = (name: string, r: Rate) =>
    `${name.padEnd(40)} ${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
    `(${(r.perSecond / result.baseline.perSecond).toFixed(2)}× baseline)`;
  console.log(row('baseline ldapts LDAPS connect+bind', result.baseline));
  console.log(row('ldapts search-then-bind + group search', result.searchThenBind));
  console.log(row('POST /v1/auth/ldap/login (HTTP)', result.http));
}
