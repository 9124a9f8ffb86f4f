import { describe, expect, it } from 'vitest';
import { runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/** A fresh node: nothing has issued a lease or retired a credential yet, so every list below is empty. */
const current = useServer();

const cli = (args: string[], input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken }, input });

describe('coffer CLI output on a fresh node', () => {
  it('prints the header and (none) for empty lists in table mode', async () => {
    const leases = await cli(['lease', 'list']);
    expect(leases.code).toBe(0);
    expect(leases.stdout.split('\n').map((line) => line.trimEnd())).toEqual(['LEASE  STATE  EXPIRES', '(none)', '']);

    const revocations = await cli(['rotation', 'revocations', '-o', 'table']);
    expect(revocations.code).toBe(0);
    expect(revocations.stdout.split('\n').map((line) => line.trimEnd())).toEqual([
      'SECRET  TYPE  DUE  ATTEMPTS  LAST ERROR',
      '(none)',
      '',
    ]);
  });

  it('prints empty lists as empty JSON arrays in json mode', async () => {
    const leases = await cli(['lease', 'list', '-o', 'json']);
    expect(leases.code).toBe(0);
    expect(JSON.parse(leases.stdout)).toEqual({ leases: [] });

    const revocations = await cli(['rotation', 'revocations', '-o', 'json']);
    expect(revocations.code).toBe(0);
    expect(JSON.parse(revocations.stdout)).toEqual({ revocations: [] });
  });

  it('renders a describe as key/value lines in table mode and as JSON in json mode', async () => {
    expect((await cli(['secret', 'put', 'app/db'], 'not-shown')).code).toBe(0);
    const table = await cli(['secret', 'describe', 'app/db', '-o', 'table']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^name\s+app\/db$/m);
    expect(() => JSON.parse(table.stdout)).toThrow();
    expect(table.stdout).not.toContain('not-shown');

    expect(JSON.parse((await cli(['secret', 'describe', 'app/db', '-o', 'json'])).stdout).name).toBe('app/db');
  });
});
