import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canLogin, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { api, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { GROUPS_DN, PEOPLE_DN, startSlapd, type TestSlapd, USERS } from '../support/slapd.ts';

/** How long a page may take to show what an action changed (a wait, not a measured time). */
const POLL = { timeout: 30_000 };

/**
 * The console's Leases, PKI and Rotation pages and its LDAP sign-in in chromium, against the real server with a real
 * PostgreSQL behind the database engine (so a lease is a real PostgreSQL user that renewing and revoking act on) and
 * a real OpenLDAP directory behind an LDAP mount.
 */

let pg: TestPostgres;
let slapd: TestSlapd;
let server: ServerProcess;
let cleanup: () => void;
let browser: Browser;
let page: Page;

async function call(method: string, urlPath: string, body?: unknown) {
  const out = await api(server.address, server.rootToken, method, urlPath, body);
  expect(out.status, `${method} ${urlPath}: ${JSON.stringify(out.body)}`).toBeLessThan(300);
  return out.body;
}

beforeAll(async () => {
  pg = await startPostgres();
  slapd = await startSlapd();
  const tmp = tempDir();
  cleanup = tmp.cleanup;
  server = await startServer(path.join(tmp.dir, 'data'));
  await call('PUT', '/v1/secret/data/db/admin', {
    value: JSON.stringify({ username: pg.adminUser, password: pg.adminPassword }),
  });
  await call('PUT', '/v1/database/config/main', {
    host: pg.host,
    port: pg.port,
    database: pg.database,
    admin_secret: 'db/admin',
  });
  await call('PUT', '/v1/database/roles/app', { db_name: 'main', default_ttl: '1h', max_ttl: '2h' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  page = await (await browser.newContext({ viewport: { width: 1180, height: 760 } })).newPage();
  await page.goto(`${server.address}/ui/`);
  await page.getByLabel('Token', { exact: true }).fill(server.rootToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await pg?.stop();
  await slapd?.stop();
  cleanup?.();
});

describe('console pages in chromium', () => {
  it('lists a lease of a real PostgreSQL user, renews it, and revokes it (the user can no longer log in)', async () => {
    const issued = (await call('GET', '/v1/database/creds/app')) as {
      leaseId: string;
      username: string;
      password: string;
    };
    expect(await canLogin(pg, issued.username, issued.password)).toBe(true);
    await page.getByRole('button', { name: 'Leases' }).click();
    const row = page.locator('tbody tr').filter({ hasText: issued.leaseId });
    await row.waitFor();
    await expect(row.textContent()).resolves.toMatch(/database\s*active/);

    await page.getByRole('button', { name: `Renew ${issued.leaseId}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Renewed ${issued.leaseId}` })
      .waitFor();

    await page.getByRole('button', { name: `Revoke ${issued.leaseId}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Revoked ${issued.leaseId}` })
      .waitFor();
    await expect.poll(() => row.count(), POLL).toBe(0);
    expect(await canLogin(pg, issued.username, issued.password)).toBe(false);
  });

  it('shows the CA, the PKI roles and the issued certificates with their status', async () => {
    await call('POST', '/v1/pki/root/generate', { common_name: 'Console Root', key_type: 'ec-p256', ttl: '720h' });
    await call('PUT', '/v1/pki/roles/web', { allowed_domains: ['example.com'], allow_subdomains: true });
    const issued = (await call('POST', '/v1/pki/issue/web', { common_name: 'a.example.com' })) as {
      serial_number: string;
    };
    await call('POST', '/v1/pki/revoke', { serial_number: issued.serial_number });
    const kept = (await call('POST', '/v1/pki/issue/web', { common_name: 'b.example.com' })) as {
      serial_number: string;
    };

    await page.getByRole('button', { name: 'PKI' }).click();
    await page.locator('pre.pem').filter({ hasText: 'BEGIN CERTIFICATE' }).waitFor();
    await page.getByRole('list', { name: 'PKI roles' }).getByText('web', { exact: true }).waitFor();
    const certs = page.locator('table', { has: page.locator('caption', { hasText: 'Issued certificates' }) });
    await expect(certs.locator('tr', { hasText: issued.serial_number }).textContent()).resolves.toContain('revoked');
    await expect(certs.locator('tr', { hasText: kept.serial_number }).textContent()).resolves.toContain('valid');
  });

  it('shows rotation status, configs and history', async () => {
    await call('PUT', '/v1/secret/data/svc/key', { value: '{"endpoint":"https://svc.example"}' });
    const configured = (await call('PUT', '/v1/rotation/configs/svc/key', {
      type: 'api-key-coffer',
      rules: { automaticallyAfterDays: 30 },
      rotateImmediately: true,
    })) as { rotationId: string };
    expect(configured.rotationId).toEqual(expect.any(String));
    await page.getByRole('button', { name: 'Rotation' }).click();
    const configs = page.locator('table', { has: page.locator('caption', { hasText: 'Rotation configs' }) });
    await expect(configs.locator('tr', { hasText: 'svc/key' }).textContent()).resolves.toContain('api-key-coffer');
    await page.getByText('Secrets with rotation').waitFor();
    const history = page.locator('table', { has: page.locator('caption', { hasText: 'History' }) });
    await history.locator('tr', { hasText: 'svc/key' }).waitFor();
  });

  it('signs in through an LDAP mount with a directory password, and says why a wrong one is refused', async () => {
    await call('POST', '/v1/sys/auth/ldap', {
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
    await call('PUT', '/v1/sys/policies/engineering', { rules: [{ path: 'secrets/eng/*', capabilities: ['read'] }] });
    await call('PUT', '/v1/auth/ldap/groups/engineers', { policies: ['engineering'] });
    const context = await browser.newContext();
    const ldap = await context.newPage();
    const urls: string[] = [];
    ldap.on('request', (request) => urls.push(request.url()));
    await ldap.goto(`${server.address}/ui/`);
    await ldap.getByLabel('Method').selectOption('ldap');
    await ldap.getByLabel('Username').fill(USERS.alice.uid);
    await ldap.getByLabel('Password').fill('not-her-password');
    await ldap.getByRole('button', { name: 'Sign in' }).click();
    await ldap
      .getByRole('alert')
      .filter({ hasText: /Sign-in failed: .*\(40[13]\)/ })
      .waitFor();
    // The form is cleared after each attempt.
    await expect(ldap.getByLabel('Password').inputValue()).resolves.toBe('');
    await ldap.getByLabel('Username').fill(USERS.alice.uid);
    await ldap.getByLabel('Password').fill(USERS.alice.password);
    await ldap.getByRole('button', { name: 'Sign in' }).click();
    await ldap.getByText('Policies: engineering').waitFor();
    expect(urls.filter((url) => url.includes(USERS.alice.password) || url.includes(USERS.alice.uid))).toEqual([]);
    await context.close();
  });
});
