import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../../../../../lambdas/agent/exit-codes.ts';
import type { ApiClient } from '../../../../../../lambdas/entrypoints/cli/api-client.ts';
import { Progress } from '../../../../../../lambdas/entrypoints/cli/progress.ts';
import { applyFixes, planFixes } from '../../../../../../lambdas/entrypoints/cli/scan/fix/fix.ts';
import { scan } from '../../../../../../lambdas/entrypoints/cli/scan/scan.ts';

/**
 * What happens to the files around the import. The import itself, against the real server, is the e2e test's
 * (test/e2e/scan-fix.test.ts); here the API accepts every write, as a server would for a caller allowed everything.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-scan-fix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const accepting = {
  async call(method: string, urlPath: string) {
    if (method === 'GET') throw new CliError(`${urlPath} not found (not_found)`, ExitCode.notFound);
    return {};
  },
} as unknown as ApiClient;

/** Drawn per run: no secret-shaped literal in Coffer's sources for its own scan to trip on. */
const password = randomBytes(18).toString('base64url').replace(/[-_]/g, 'x');

const reference = 'coffer://app/db-password';

const quiet = new Progress('test', { quiet: true });
const options = { prefix: 'app/', nameTemplate: '{{key}}', onConflict: 'skip' as const, dryRun: false, write: true };

async function planned(files: Record<string, string | Buffer>) {
  const cwd = mkdtempSync(path.join(dir, 'repo-'));
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(cwd, file), text);
  const report = await scan({
    paths: ['.'],
    gitHistory: false,
    staged: false,
    maxBytes: 1 << 20,
    baseline: new Set(),
    cwd,
  });
  return { cwd, plans: await planFixes(report.findings, { ...options, cwd }) };
}

describe('applyFixes', () => {
  it('rewrites a file in place and keeps its mode', async () => {
    const { cwd, plans } = await planned({ '.env': `DB_PASSWORD=${password}\n` });
    chmodSync(path.join(cwd, '.env'), 0o640);
    const report = await applyFixes(accepting, plans, { ...options, cwd }, quiet);
    expect(report.written).toEqual(['.env']);
    expect(readFileSync(path.join(cwd, '.env'), 'utf8')).toBe(`DB_PASSWORD=${reference}\n`);
    expect(statSync(path.join(cwd, '.env')).mode & 0o777).toBe(0o640);
  });

  it('leaves a file that changed since the scan as it is, and says so', async () => {
    const { cwd, plans } = await planned({ '.env': `DB_PASSWORD=${password}\n` });
    writeFileSync(path.join(cwd, '.env'), `DB_PASSWORD=${password}\nEDITED=1\n`);
    const report = await applyFixes(accepting, plans, { ...options, cwd }, quiet);
    expect(report.written).toEqual([]);
    expect(report.results.map((r) => [r.imported, r.outcome, r.reason])).toEqual([
      ['created', 'failed', '.env changed since it was scanned: scan again'],
    ]);
    expect(readFileSync(path.join(cwd, '.env'), 'utf8')).toBe(`DB_PASSWORD=${password}\nEDITED=1\n`);
    expect(report.diff).toBe('');
  });

  it('does not write back a file that is not UTF-8, which it would damage', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('# caf'),
      Buffer.from([0xe9]),
      Buffer.from(`\nDB_PASSWORD=${password}\n`),
    ]);
    const { cwd, plans } = await planned({ '.env': latin1 });
    const report = await applyFixes(accepting, plans, { ...options, cwd }, quiet);
    expect(report.results.map((r) => r.reason)).toEqual(['.env is not UTF-8 text: replace the secret by hand']);
    expect(readFileSync(path.join(cwd, '.env')).equals(latin1)).toBe(true);
  });

  it('without --write imports and proposes, and changes no file', async () => {
    const text = `DB_PASSWORD=${password}\n`;
    const { cwd, plans } = await planned({ '.env': text });
    const report = await applyFixes(accepting, plans, { ...options, write: false, cwd }, quiet);
    expect(report.results.map((r) => r.outcome)).toEqual(['proposed']);
    expect(report.diff).toContain(`+DB_PASSWORD=${reference}\n`);
    expect(readFileSync(path.join(cwd, '.env'), 'utf8')).toBe(text);
  });
});
