import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../../../lambdas/core/auth/console-headers.ts';
import { builtConsoleDir, ConsoleAssets } from '../../../../lambdas/entrypoints/local/console-assets.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function builtConsole(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-console-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html><script type="module" src="./assets/app-ABC.js"></script>',
  );
  writeFileSync(path.join(dir, 'config.json'), '{}');
  writeFileSync(path.join(dir, 'assets', 'app-ABC.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'assets', 'styles-DEF.css'), 'body{}');
  writeFileSync(path.join(dir, 'assets', 'notes.txt'), 'not served');
  writeFileSync(path.join(dir, 'secret.key'), 'never served');
  return dir;
}

describe('ConsoleAssets', () => {
  it('serves the page uncached and hashed assets cached for a year, every answer with the security headers', () => {
    const assets = ConsoleAssets.load(builtConsole());
    const page = assets.answer('GET', '/ui/');
    expect(page.status).toBe(200);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
    expect(assets.answer('GET', '/ui/index.html').body).toEqual(page.body);
    const script = assets.answer('GET', '/ui/assets/app-ABC.js');
    expect(script.headers).toMatchObject({
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=31536000, immutable',
    });
    expect(String(script.body)).toBe('console.log(1)');
    expect(assets.answer('GET', '/ui/assets/styles-DEF.css').headers['content-type']).toBe('text/css; charset=utf-8');
    expect(assets.answer('GET', '/ui/config.json').headers['cache-control']).toBe('no-store');
  });

  it("serves a config.json naming the node's region and the signing name coffer, for the console's SigV4 sign-in", () => {
    const assets = ConsoleAssets.load(builtConsole(), { region: 'eu-west-3' });
    const config = assets.answer('GET', '/ui/config.json');
    expect(config.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    expect(JSON.parse(String(config.body))).toEqual({ region: 'eu-west-3', signingService: 'coffer' });
  });

  it('answers nothing outside its table: traversal, other files, unknown types', () => {
    const assets = ConsoleAssets.load(builtConsole());
    for (const p of ['/ui/../secret.key', '/ui/secret.key', '/ui/assets/notes.txt', '/ui/assets/%2e%2e/secret.key']) {
      const answer = assets.answer('GET', p);
      expect(answer.status, p).toBe(404);
      expect(answer.headers['content-security-policy']).toBe(CONSOLE_CSP);
    }
  });

  it('redirects /ui to /ui/, answers HEAD without a body and refuses other methods', () => {
    const assets = ConsoleAssets.load(builtConsole());
    expect(assets.answer('GET', '/ui')).toMatchObject({ status: 308, headers: { location: '/ui/' } });
    const head = assets.answer('HEAD', '/ui/');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(assets.answer('POST', '/ui/')).toMatchObject({ status: 405, headers: { allow: 'GET, HEAD' } });
  });

  it('owns /ui and the paths under /ui/ only', () => {
    expect(ConsoleAssets.owns('/ui')).toBe(true);
    expect(ConsoleAssets.owns('/ui/assets/app.js')).toBe(true);
    expect(ConsoleAssets.owns('/uix')).toBe(false);
    expect(ConsoleAssets.owns('/v1/ui/')).toBe(false);
  });

  it('refuses to load a directory without a console', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-console-'));
    dirs.push(dir);
    expect(() => ConsoleAssets.load(dir)).toThrow(/no console in .*: run npm run build/);
  });
});

describe('builtConsoleDir', () => {
  it('finds dist/console beside the compiled server, and nothing where there is none', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-dist-'));
    dirs.push(root);
    mkdirSync(path.join(root, 'dist', 'console'), { recursive: true });
    writeFileSync(path.join(root, 'dist', 'console', 'index.html'), '');
    expect(builtConsoleDir(pathToFileURL(path.join(root, 'dist', 'cli.mjs')).href)).toBe(
      path.join(root, 'dist', 'console'),
    );
    const bare = mkdtempSync(path.join(os.tmpdir(), 'coffer-bare-'));
    dirs.push(bare);
    expect(builtConsoleDir(pathToFileURL(path.join(bare, 'a', 'b', 'c', 'd', 'e', 'f', 'x.mjs')).href)).toBeUndefined();
  });
});
