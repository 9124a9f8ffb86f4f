import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/** How long a page may take to show what an action changed (a wait, not a measured time). */
const POLL = { timeout: 30_000 };

/**
 * The web console in a real browser (Debian's chromium, driven by playwright-core) against the real server and its
 * compiled `dist/console/`. Set COFFER_CONSOLE_SCREENSHOTS=1 to refresh the screenshots in docs/console/.
 */

const SCREENSHOTS = process.env.COFFER_CONSOLE_SCREENSHOTS === '1';
const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../docs/console');

type AuditRecord = {
  type: string;
  operation: string;
  path: string;
  outcome?: string;
  status?: number;
  errorCode?: string;
  request?: Record<string, unknown>;
};

describe('web console in chromium', () => {
  const server = useServer();
  let browser: Browser;
  /** Everything every page of every context logged, and every URL it asked for. */
  const consoleMessages: string[] = [];
  const requestedUrls: string[] = [];
  /** Values the browser handled that must never show up in a URL, storage or a log. */
  const secretMarker = `s3cr3t-${randomBytes(9).toString('hex')}`;
  /** A JSON object, as the `api-key-coffer` rotation type keeps its key beside the rest of the value. */
  const secretValue = JSON.stringify({ endpoint: 'https://billing.example', password: secretMarker });
  const secretName = `console/${randomUUID().slice(0, 8)}/api-key`;
  /** Secret access keys the console signed with, which must never leave the page either. */
  const signingSecrets: string[] = [];

  async function openConsole(context?: BrowserContext): Promise<Page> {
    const page = await (context ?? (await browser.newContext({ viewport: { width: 1180, height: 760 } }))).newPage();
    page.on('console', (message) => consoleMessages.push(message.text()));
    page.on('pageerror', (error) => consoleMessages.push(`pageerror: ${error.message}`));
    page.on('request', (request) => requestedUrls.push(request.url()));
    await page.goto(`${server().address}/ui/`);
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    return page;
  }

  async function signInWithToken(page: Page, token: string): Promise<void> {
    await page.getByLabel('Token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function auditTail(lines = 5000): Promise<AuditRecord[]> {
    const tail = await api(server().address, server().rootToken, 'GET', `/v1/sys/audit/tail?lines=${lines}`);
    expect(tail.status).toBe(200);
    return tail.body.records as AuditRecord[];
  }

  async function shoot(page: Page, name: string): Promise<void> {
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
  }

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('serves /ui/ with a strict CSP, no caching of the page, and long caching of hashed assets', async () => {
    const page = await fetch(`${server().address}/ui/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "object-src 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    const script = /src="\.\/assets\/(app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server().address}/ui/assets/${script}`);
    expect(asset.status).toBe(200);
    // The page pins the script's content (subresource integrity).
    const integrity = /src="\.\/assets\/app-[A-Z0-9]+\.js" integrity="(sha384-[A-Za-z0-9+/=]+)"/.exec(html)?.[1];
    const body = Buffer.from(await asset.clone().arrayBuffer());
    expect(integrity).toBe(`sha384-${createHash('sha384').update(body).digest('base64')}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${server().address}/ui/assets/../../root-token`)).status).toBe(404);
  });

  it('signs in with a token, creates a secret, reveals it (audited), hides it, updates and rotates it', async () => {
    const page = await openConsole();
    await shoot(page, 'sign-in');
    await signInWithToken(page, server().rootToken);
    await expect(page.getByRole('status').textContent()).resolves.toContain('Signed in');

    await page.getByLabel('Name', { exact: true }).fill(secretName);
    await page.getByLabel('Value', { exact: true }).fill(secretValue);
    await page.getByLabel('Description').fill('billing API key');
    await page.getByRole('button', { name: 'Create secret' }).click();
    await page.getByRole('heading', { name: secretName }).waitFor();
    // The value is not on the page until it is revealed.
    expect(await page.content()).not.toContain(secretMarker);

    await page
      .getByRole('button', { name: /^Reveal version / })
      .first()
      .click();
    await page.locator('pre.value').waitFor();
    expect(await page.locator('pre.value').textContent()).toBe(secretValue);
    // The reveal was a real read of the version, recorded in the audit log (value HMAC'd).
    const reads = (await auditTail()).filter(
      (r) => r.operation === 'secret.read' && r.path === `secrets/${secretName}`,
    );
    expect(reads.map((r) => `${r.type}:${r.outcome ?? ''}`)).toEqual(['request:', 'response:ok']);
    expect(JSON.stringify(reads)).not.toContain(secretMarker);
    await shoot(page, 'secrets');

    await page.getByRole('button', { name: /^Hide version / }).click();
    await expect.poll(() => page.locator('pre.value').count(), POLL).toBe(0);
    expect(await page.content()).not.toContain(secretMarker);

    await page
      .getByLabel('New value')
      .fill(JSON.stringify({ endpoint: 'https://billing.example/v2', password: `${secretMarker}-2` }));
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Saved version/ })
      .waitFor();
    await expect.poll(() => page.locator('tbody tr').filter({ hasText: 'AWSPREVIOUS' }).count(), POLL).toBe(1);

    await page.getByRole('button', { name: 'Configure rotation' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Rotation configured/ })
      .waitFor();
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Rotation succeeded/ })
      .waitFor({ timeout: 60_000 });
    const history = page.locator('table', { has: page.locator('caption', { hasText: 'Rotation history' }) });
    await expect(history.locator('tbody tr').first().textContent()).resolves.toMatch(/on-demand\s*succeeded/);
    // The rotated value is the updated one with a key Coffer issued; the first version has lost its labels.
    const current = await api(server().address, server().rootToken, 'GET', `/v1/secret/data/${secretName}`);
    expect(JSON.parse(current.body.value as string)).toMatchObject({
      endpoint: 'https://billing.example/v2',
      apiKey: expect.any(String),
    });
    await expect.poll(() => page.locator('tbody tr').filter({ hasText: 'AWSCURRENT' }).count(), POLL).toBe(1);
    await page.context().close();
  });

  it('runs a live policy test and searches the audit log', async () => {
    const page = await openConsole();
    await signInWithToken(page, server().rootToken);
    await page.getByRole('button', { name: 'Policies' }).click();
    expect(
      (
        await api(server().address, server().rootToken, 'PUT', '/v1/sys/policies/console-reader', {
          rules: [{ path: 'secrets/console/*', capabilities: ['read', 'list'] }],
        })
      ).status,
    ).toBe(200);
    // A policy written in the editor is saved through the API and listed.
    await page.getByLabel('Policy name').fill('console-editor');
    await page
      .getByLabel('Document (JSON)')
      .fill(JSON.stringify({ rules: [{ path: 'secrets/console/*', capabilities: ['list'] }] }));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved policy console-editor' }).waitFor();
    await page.getByRole('list', { name: 'Policies' }).getByRole('button', { name: 'console-editor' }).waitFor();
    const saved = await api(server().address, server().rootToken, 'GET', '/v1/sys/policies/console-editor');
    expect(saved.body.rules).toEqual([{ path: 'secrets/console/*', capabilities: ['list'] }]);

    await page.getByLabel('Path', { exact: true }).fill(`secrets/${secretName}`);
    await page.getByLabel('Policies (comma-separated)').fill('console-reader');
    await page.locator('.decision').filter({ hasText: 'Allowed' }).waitFor();
    await page.getByLabel('Capability').selectOption('delete');
    await page.locator('.decision').filter({ hasText: 'Denied' }).waitFor();
    await shoot(page, 'policies');

    await page.getByRole('button', { name: 'Audit' }).click();
    await page.getByLabel('Operation contains').fill('secret.read');
    await page.getByLabel('Path contains').fill(secretName);
    await page.locator('tbody tr[data-operation="secret.read"]').first().waitFor();
    await shoot(page, 'audit');
    await page.context().close();
  });

  it('shows the compliance report as figures and bars, and they change when secrets are created', async () => {
    const page = await openConsole();
    await signInWithToken(page, server().rootToken);
    await page.getByRole('button', { name: 'Compliance' }).click();
    const withoutOwner = page.locator('tr[data-metric="secrets_without_owner"] .metric-value');
    await withoutOwner.waitFor();
    const before = Number(await withoutOwner.textContent());
    // No window of its own at first: the server's applies (on AWS, the only one its broker answers).
    const reportUrls = () => requestedUrls.filter((url) => url.includes('/v1/sys/compliance'));
    expect(reportUrls().at(-1)).not.toContain('since=');
    for (const n of [1, 2]) {
      const name = `console/unowned-${randomUUID().slice(0, 8)}-${n}`;
      expect(
        (await api(server().address, server().rootToken, 'POST', '/v1/secrets', { name, value: 'x' })).status,
      ).toBe(201);
    }
    await page.getByRole('button', { name: 'Refresh report' }).click();
    await expect.poll(async () => Number(await withoutOwner.textContent()), POLL).toBe(before + 2);
    // Every metric of the contract has a row and a bar.
    for (const id of ['rotation_compliance', 'audit_completeness', 'mean_time_to_rotate', 'top_denied_principals']) {
      await expect.poll(() => page.locator(`tr[data-metric="${id}"]`).count(), POLL).toBe(1);
      await expect.poll(() => page.locator(`svg.chart rect[data-metric="${id}"]`).count(), POLL).toBe(1);
    }
    await shoot(page, 'compliance');
    await page.context().close();
  });

  it('is usable with the keyboard alone: sign in, move between sections, reveal, create, with focus visible', async () => {
    const page = await openConsole();
    /** Presses Tab until the focused element matches, at most `limit` times. */
    async function tabTo(matches: (el: { id: string; text: string }) => boolean, limit = 40): Promise<void> {
      for (let i = 0; i < limit; i++) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate<{ id: string; text: string }>(
          "({ id: document.activeElement?.id ?? '', text: document.activeElement?.textContent?.trim() ?? '' })",
        );
        if (matches(focused)) return;
      }
      throw new Error('the control was not reached with Tab');
    }
    await tabTo((el) => el.id === 'sign-in-token');
    await page.keyboard.type(server().rootToken);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await tabTo((el) => el.text === 'Compliance');
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.evaluate<string>("document.activeElement?.textContent ?? ''"), POLL)
      .toBe('Compliance');

    await tabTo((el) => el.text === 'Secrets');
    await page.keyboard.press('Enter');
    await tabTo((el) => el.text === 'folder console/');
    await page.keyboard.press('Enter');
    await tabTo((el) => el.text.startsWith('folder console/') && el.text !== 'folder console/');
    await page.keyboard.press('Enter');
    await tabTo((el) => el.text === secretName);
    await page.keyboard.press('Enter');
    await tabTo((el) => el.text === 'Reveal');
    await page.keyboard.press('Enter');
    await page.locator('pre.value').waitFor();

    // Creating a secret: the form's fields in order, submitted with Enter.
    const typed = `console/keyboard-${randomUUID().slice(0, 8)}`;
    await tabTo((el) => el.id === 'new-secret-name');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(typed);
    await page.keyboard.press('Tab');
    await page.keyboard.type('typed-value');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: typed }).waitFor();
    expect((await api(server().address, server().rootToken, 'GET', `/v1/secret/data/${typed}`)).body.value).toBe(
      'typed-value',
    );
    await page.context().close();
  });

  it('labels every control and marks its landmarks, on every page', async () => {
    const page = await openConsole();
    /** Controls without an accessible label, and the landmarks present, on the page as it is. */
    const audit = () =>
      page.evaluate<{ unlabelled: string[]; landmarks: string[] }>(`({
        unlabelled: [...document.querySelectorAll('input, select, textarea, button')]
          .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute('aria-label') && el.textContent.trim() === '')
          .map((el) => el.outerHTML.slice(0, 80)),
        landmarks: [...document.querySelectorAll('header, nav, main')].map((el) => el.tagName.toLowerCase()),
      })`);
    expect((await audit()).unlabelled).toEqual([]);
    await signInWithToken(page, server().rootToken);
    for (const section of ['Secrets', 'Policies', 'Leases', 'PKI', 'Rotation', 'Compliance', 'Audit']) {
      await page.getByRole('navigation').getByRole('button', { name: section }).click();
      await page.getByRole('heading', { level: 1, name: section }).waitFor();
      const found = await audit();
      expect(found.unlabelled, section).toEqual([]);
      expect(found.landmarks, section).toEqual(['header', 'nav', 'main']);
    }
    await page.context().close();
  });

  it('signs in through an enabled AppRole mount listed on the sign-in page, and signing out revokes the token', async () => {
    const { address, rootToken } = server();
    expect((await api(address, rootToken, 'POST', '/v1/sys/auth/approle', { type: 'approle' })).status).toBe(201);
    expect(
      (await api(address, rootToken, 'PUT', '/v1/auth/approle/role/console', { token_policies: ['console-reader'] }))
        .status,
    ).toBe(200);
    const roleId = (await api(address, rootToken, 'GET', '/v1/auth/approle/role/console/role-id')).body
      .role_id as string;
    const secretId = (await api(address, rootToken, 'POST', '/v1/auth/approle/role/console/secret-id', {})).body
      .secret_id as string;

    const page = await openConsole();
    await page.getByLabel('Method').selectOption('approle');
    await page.getByLabel('Role ID').fill(roleId);
    await page.getByLabel('Secret ID').fill(secretId);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Policies: console-reader').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'Signed out: the token was revoked and forgotten.' }).waitFor();
    const revoked = (await auditTail()).filter((r) => r.operation === 'token.revoke-self' && r.type === 'response');
    expect(revoked.map((r) => r.outcome)).toEqual(['ok']);
    expect(requestedUrls.some((url) => url.includes(secretId) || url.includes(roleId))).toBe(false);
    await page.context().close();
  });

  it('signs every call with a Coffer access key (SigV4, service coffer): writes and reads a secret; a wrong secret key is refused', async () => {
    const { address, rootToken } = server();
    const rules = [{ path: 'secrets/*', capabilities: ['create', 'read', 'update', 'list'] }];
    expect((await api(address, rootToken, 'PUT', '/v1/sys/policies/console-signer', { rules })).status).toBe(200);
    const created = await runCli(
      ['access-key', 'create', '--principal', 'console-signer', '--policy', 'console-signer', '-o', 'json'],
      { env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken } },
    );
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
    signingSecrets.push(key.secretAccessKey);
    const signedName = `console-sigv4/${randomUUID().slice(0, 8)}/db`;
    const signedValue = `sigv4-${secretMarker}`;

    const page = await openConsole();
    const sent: { url: string; headers: Record<string, string> }[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/v1/'))
        sent.push({ url: request.url(), headers: request.headers() });
    });
    const signIn = async (secretAccessKey: string) => {
      await page.getByLabel('Method').selectOption({ label: 'AWS credentials (SigV4)' });
      // The region comes from the node (config.json), as the signature must name a region it serves.
      await expect.poll(() => page.getByLabel('Region').inputValue(), POLL).not.toBe('');
      await page.getByLabel('Access key ID').fill(key.accessKeyId);
      await page.getByLabel('Secret access key').fill(secretAccessKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
    };

    // A wrong secret key: the signature does not verify, and the console stays on the sign-in page.
    await signIn(`${key.secretAccessKey.slice(0, -4)}AAAA`);
    await page
      .getByRole('alert')
      .filter({ hasText: /Sign-in failed: The request signature we calculated does not match/ })
      .waitFor();
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    const refused = (await auditTail()).filter(
      (r) => r.type === 'response' && r.outcome === 'denied' && r.path === 'auth/token/lookup-self',
    );
    expect(refused.length).toBeGreaterThan(0);

    await signIn(key.secretAccessKey);
    await page.getByText(`Access key: ${key.accessKeyId}`).waitFor();

    await page.getByLabel('Name', { exact: true }).fill(signedName);
    await page.getByLabel('Value', { exact: true }).fill(signedValue);
    await page.getByRole('button', { name: 'Create secret' }).click();
    await page.getByRole('heading', { name: signedName }).waitFor();
    await page
      .getByRole('button', { name: /^Reveal version / })
      .first()
      .click();
    await page.locator('pre.value').waitFor();
    expect(await page.locator('pre.value').textContent()).toBe(signedValue);

    // The write and the read were the access key's own, verified by signature: no token was sent.
    const records = (await auditTail()).filter(
      (r) => r.type === 'response' && r.path === `secrets/${signedName}` && r.outcome === 'ok',
    ) as (AuditRecord & { principal?: { type?: string; id?: string } })[];
    expect(records.map((r) => r.operation)).toEqual(expect.arrayContaining(['secret.create', 'secret.read']));
    for (const record of records) expect(record.principal?.id).toBe(key.accessKeyId);
    const stored = await api(address, rootToken, 'GET', `/v1/secret/data/${encodeURI(signedName)}`);
    expect(stored.body.value).toBe(signedValue);
    const signedCalls = sent.filter((r) => r.headers.authorization !== undefined);
    expect(signedCalls.length).toBeGreaterThan(2);
    for (const { headers } of signedCalls) {
      expect(headers.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/\\d{8}/[a-z0-9-]+/coffer/aws4_request, SignedHeaders=`,
        ),
      );
      expect(headers['x-coffer-token']).toBeUndefined();
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'Signed out' }).waitFor();
    await page.context().close();
  });

  it('enforces the CSP in the browser: an injected inline script does not run', async () => {
    const page = await openConsole();
    // Browser-side code is given as text: this file is compiled without the DOM's types.
    const violations = page.evaluate<string>(
      `new Promise((resolve) => document.addEventListener('securitypolicyviolation',
        (event) => resolve(event.violatedDirective), { once: true }))`,
    );
    await page.evaluate(`{
      const script = document.createElement('script');
      script.textContent = 'window.injected = true';
      document.body.append(script);
    }`);
    await expect(violations).resolves.toMatch(/^script-src/);
    expect(await page.evaluate<unknown>('window.injected')).toBeUndefined();
    await page.context().close();
  });

  describe('from a page on another site', () => {
    let attacker: Server;
    let attackerUrl: string;
    beforeAll(async () => {
      attacker = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>elsewhere</title><p>another site</p>');
      });
      await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
      // `localhost` and `127.0.0.1` are different sites to the browser (a host name and an IP address).
      attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => attacker.close(() => resolve()));
    });

    it('cannot read the API (no token to send, no CORS) and its writes are refused as cross-site', async () => {
      const { address, rootToken } = server();
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('request', (request) => requestedUrls.push(request.url()));
      await page.goto(attackerUrl);
      // A read with whatever the browser holds for Coffer's origin: there is nothing (no cookie), and the answer is
      // not readable across origins.
      const read = await page.evaluate<string>(
        `fetch(${JSON.stringify(`${address}/v1/secret/list`)}, { credentials: 'include' })
          .then((r) => 'status ' + r.status, (e) => 'blocked: ' + e.name)`,
      );
      expect(read).toBe('blocked: TypeError');
      // A login with valid credentials (login CSRF): sent as a simple request, which needs no preflight.
      const roleId = (await api(address, rootToken, 'GET', '/v1/auth/approle/role/console/role-id')).body.role_id;
      const secretId = (await api(address, rootToken, 'POST', '/v1/auth/approle/role/console/secret-id', {})).body
        .secret_id;
      const logins = (await auditTail()).filter((r) => r.operation === 'auth.login').length;
      const login = JSON.stringify({ role_id: roleId, secret_id: secretId });
      await page.evaluate(
        `fetch(${JSON.stringify(`${address}/v1/auth/approle/login`)}, { method: 'POST', mode: 'no-cors',
          headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(login)} }).then(() => undefined)`,
      );
      const records = await auditTail();
      const refused = records.filter((r) => r.operation === 'http.cross-site');
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ outcome: 'denied', status: 403, errorCode: 'cross_site_request' });
      expect(records.filter((r) => r.operation === 'auth.login')).toHaveLength(logins);
      await context.close();
    });
  });

  it('left no token or secret in a URL, in storage or in the console', async () => {
    const page = await openConsole();
    await signInWithToken(page, server().rootToken);
    const storage = await page.evaluate<{ local: string; session: string; cookies: string }>(
      '({ local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }), cookies: document.cookie })',
    );
    expect(storage).toEqual({ local: '{}', session: '{}', cookies: '' });
    expect(page.url()).toBe(`${server().address}/ui/`);
    for (const leaked of [server().rootToken, secretMarker, ...signingSecrets]) {
      expect(requestedUrls.filter((url) => url.includes(leaked))).toEqual([]);
      expect(consoleMessages.filter((message) => message.includes(leaked))).toEqual([]);
    }
    expect(requestedUrls.length).toBeGreaterThan(10);
    // A pasted token is forgotten on sign-out, not revoked: the CLI or file it came from still uses it.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'Signed out: the token was forgotten.' }).waitFor();
    expect((await api(server().address, server().rootToken, 'GET', '/v1/auth/token/lookup-self')).status).toBe(200);
    await page.context().close();
  });
});
