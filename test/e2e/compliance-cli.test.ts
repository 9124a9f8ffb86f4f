import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComplianceReport } from '../../lambdas/api/compliance.ts';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * `coffer compliance report` against the real server (compiled dist/, its audit file, real time), in every format:
 * the figures the server computed reach the file the auditor gets.
 */
describe('coffer compliance report', () => {
  const server = useServer();
  const out = tempDir();
  const prefix = `c${randomUUID().slice(0, 6)}`;
  const cli = (args: string[], token = server().rootToken) =>
    runCli(['compliance', 'report', ...args], { env: { COFFER_ADDR: server().address, COFFER_TOKEN: token } });
  let stranger: string;

  beforeAll(async () => {
    const { address, rootToken } = server();
    const create = async (name: string, tags?: Record<string, string>) =>
      expect((await api(address, rootToken, 'POST', '/v1/secrets', { name, value: 'v', tags })).status).toBe(201);
    await create(`${prefix}/owned`, { owner: 'team-a' });
    await create(`${prefix}/orphan-1`);
    await create(`${prefix}/orphan-2`, { owner: '' });
    stranger = (await api(address, rootToken, 'POST', '/v1/auth/token/create', { policies: [] })).body.token as string;
    for (let i = 0; i < 2; i++) {
      expect((await api(address, stranger, 'GET', `/v1/secret/data/${prefix}/owned`)).status).toBe(403);
    }
  });
  afterAll(() => out.cleanup());

  it("json: the server's answer, with the figures of this node", async () => {
    const run = await cli(['--format', 'json', '--since', '1d']);
    expect(run.code, run.stderr).toBe(0);
    const report = ComplianceReport.parse(JSON.parse(run.stdout));
    const metric = (id: string) => report.metrics.find((m) => m.id === id)!;
    expect(Date.parse(report.window.until) - Date.parse(report.window.since)).toBe(86_400_000);
    expect(metric('secrets_without_owner').details).toEqual([
      { name: `${prefix}/orphan-1` },
      { name: `${prefix}/orphan-2` },
    ]);
    expect(metric('rotation_compliance')).toMatchObject({ value: 100, status: 'ok' });
    expect(metric('audit_completeness').details).toContainEqual(
      expect.objectContaining({ kind: 'chain', source: 'audit file', verified: true }),
    );
    const denied = metric('top_denied_principals').details ?? [];
    expect(denied).toEqual([expect.objectContaining({ type: 'token', denials: 2 })]);
    expect(metric('unauthorised_attempt_rate').details?.[0]?.denied).toBe(2);
  });

  it('table by default, csv, html and pdf written to --file with mode 0600', async () => {
    const table = await cli([]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/secrets_without_owner\s+2\s+warning/);

    const csvFile = path.join(out.dir, 'report.csv');
    expect((await cli(['--format', 'csv', '--file', csvFile])).code).toBe(0);
    const csv = readFileSync(csvFile, 'utf8');
    expect(csv.split('\r\n')[0]).toBe('section,metric,title,value,unit,status,definition,row,field,field_value');
    expect(csv).toContain('metric,secrets_without_owner,Secrets without an owner,2,count,warning,');
    expect(csv).toContain(`detail,secrets_without_owner,Secrets without an owner,,,,,2,name,${prefix}/orphan-2`);
    expect(statSync(csvFile).mode & 0o777).toBe(0o600);

    const htmlFile = path.join(out.dir, 'report.html');
    expect((await cli(['--format', 'html', '--file', htmlFile])).code).toBe(0);
    const html = readFileSync(htmlFile, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain(`${prefix}/orphan-1`);

    const pdfFile = path.join(out.dir, 'report.pdf');
    expect((await cli(['--format', 'pdf', '--file', pdfFile])).code).toBe(0);
    const text = execFileSync('pdftotext', [pdfFile, '-']).toString('utf8');
    expect(text).toContain('Coffer compliance report');
    expect(text).toContain('Secrets without an owner: 2 (warning)');
    expect(text).toContain(`${prefix}/orphan-2`);
  });

  it("refuses a bad format (usage), a bad window (the server's message) and a caller without read (denied)", async () => {
    const badFormat = await cli(['--format', 'docx']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('--format must be one of table, json, csv, html, pdf');
    const badWindow = await cli(['--since', 'last week']);
    expect(badWindow.code).toBe(2);
    expect(badWindow.stderr).toContain('invalid duration');
    const denied = await cli(['--format', 'json'], stranger);
    expect(denied.code).toBe(4);
    expect(denied.stderr).toContain('sys/compliance');
  });
});
