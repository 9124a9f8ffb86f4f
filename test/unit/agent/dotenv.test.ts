import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEnvFile } from '../../../lambdas/agent/dotenv.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-env-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function envFile(text: string): string {
  const file = path.join(dir, `${count++}.env`);
  writeFileSync(file, text);
  return file;
}

describe('readEnvFile', () => {
  it('reads coffer:// values as secret references and keeps the other values as they are', async () => {
    const file = envFile(
      'APP=billing\nDB_PASSWORD=coffer://apps/db-password\nDB_USER="coffer://apps/db#user@AWSPREVIOUS"\nOPS=coffer://ops/alice@example.com@AWSCURRENT\n',
    );
    const { secrets, plain } = await readEnvFile(file);
    expect(Object.fromEntries(secrets)).toEqual({
      DB_PASSWORD: { name: 'apps/db-password', stage: 'AWSCURRENT' },
      DB_USER: { name: 'apps/db', field: 'user', stage: 'AWSPREVIOUS' },
      OPS: { name: 'ops/alice@example.com', stage: 'AWSCURRENT' },
    });
    expect(Object.fromEntries(plain)).toEqual({ APP: 'billing' });
  });

  it('refuses what a child cannot be given: a name that is no variable name, an empty reference', async () => {
    const dotted = envFile('spring.password=x\n');
    await expect(readEnvFile(dotted)).rejects.toMatchObject({
      exitCode: 2,
      message: `${dotted}: invalid environment variable name "spring.password"`,
    });
    await expect(readEnvFile(envFile('A=coffer://\n'))).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('empty secret name'),
    });
  });
});
