import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envFileBindings } from '../../../../../lambdas/entrypoints/cli/commands/run.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-run-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function envFile(text: string): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.env`);
  writeFileSync(file, text);
  return file;
}

describe('envFileBindings (coffer run --env-file)', () => {
  it('makes each coffer:// value a binding to resolve and passes every other value as it is', async () => {
    const file = envFile(
      [
        'APP_NAME=billing',
        'DB_PASSWORD=coffer://apps/billing/db-password',
        'export DB_USER="coffer://apps/billing/db#user@AWSPREVIOUS"  # quoted works too',
        'GREETING="hello\\nworld"',
        '',
      ].join('\n'),
    );
    const { bindings, plain } = await envFileBindings(file);
    expect(bindings).toEqual([
      'DB_PASSWORD=apps/billing/db-password@AWSCURRENT',
      'DB_USER=apps/billing/db#user@AWSPREVIOUS',
    ]);
    expect(Object.fromEntries(plain)).toEqual({ APP_NAME: 'billing', GREETING: 'hello\nworld' });
  });

  it('refuses a missing file and a malformed one as usage errors, by line number only', async () => {
    await expect(envFileBindings(path.join(dir, 'absent.env'))).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('ENOENT'),
    });
    const bad = envFile('A=1\nnot a line s3cr3t\n');
    const refused = await envFileBindings(bad).catch((err: Error & { exitCode: number }) => err);
    expect(refused).toMatchObject({ exitCode: 2, message: `${bad}: line 2: expected KEY=value` });
  });
});
