import { copyFileSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readJsonLines } from '../support/json-lines.js';
import { api, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { waitFor } from '../support/wait-for.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<ServerProcess> {
  const tmp = tempDir();
  const s = await startServer(path.join(tmp.dir, 'data'));
  cleanups.push(tmp.cleanup, () => s.stop().then(() => undefined));
  return s;
}

const auditPath = (s: ServerProcess) => path.join(s.dataDir, 'audit', 'audit.log');
const records = (s: ServerProcess) =>
  readJsonLines<{ type: string; requestId: string; operation: string; outcome?: string }>(auditPath(s));

describe('Audit log end to end', () => {
  it('records every request and response, linked by request id', async () => {
    const s = await server();
    const ids: string[] = [];
    const call = async (method: string, p: string, body?: unknown, token: string | undefined = s.rootToken) => {
      const res = await api(s.address, token, method, p, body);
      ids.push(res.requestId!);
      return res;
    };
    await call('GET', '/v1/sys/health', undefined, undefined);
    await call('PUT', '/v1/secret/data/audit/a', { value: 'v1' });
    await call('GET', '/v1/secret/data/audit/a');
    await call('GET', '/v1/secret/data/audit/missing');
    await call('GET', '/v1/secret/data/audit/a', undefined, 'cft_bogus');
    await call('PUT', '/v1/secret/data/audit/a', '{not json');
    await call('GET', '/v1/sys/policies');
    await call('POST', '/v1/auth/token/create', { policies: ['root'], ttl: '1h' });
    const all = records(s);
    for (const id of ids) {
      const mine = all.filter((r) => r.requestId === id);
      expect(
        mine.some((r) => r.type === 'response'),
        `response record for ${id}`,
      ).toBe(true);
    }
    const denied = all.find((r) => r.requestId === ids[4] && r.type === 'response');
    expect(denied?.outcome).toBe('denied');
    const secretRead = all.filter((r) => r.requestId === ids[2]);
    expect(secretRead.map((r) => r.type)).toEqual(['request', 'response']);
    expect(JSON.stringify(all)).not.toContain('"v1"');
  });

  it.each([
    ['a changed byte', (lines: string[]) => lines.map((l, i) => (i === 3 ? l.replace('"time":"20', '"time":"21') : l))],
    ['an added space', (lines: string[]) => lines.map((l, i) => (i === 3 ? l.replace('{"', '{ "') : l))],
    ['a deleted line', (lines: string[]) => lines.filter((_, i) => i !== 3)],
    ['two swapped lines', (lines: string[]) => lines.map((l, i) => (i === 3 ? lines[4]! : i === 4 ? lines[3]! : l))],
  ])('audit verify detects %s and names the first bad line', async (_label, tamper) => {
    const s = await server();
    for (let i = 0; i < 5; i++) await api(s.address, s.rootToken, 'PUT', `/v1/secret/data/t/${i}`, { value: `x${i}` });
    await s.stop();
    const file = auditPath(s);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect((await runCli(['audit', 'verify', '--file', file])).code).toBe(0);
    writeFileSync(file, `${tamper(lines).join('\n')}\n`);
    const verify = await runCli(['audit', 'verify', '--file', file]);
    expect(verify.code).not.toBe(0);
    expect(verify.stdout).toMatch(/TAMPERED at line 4/);
  });

  it('does not call a copy with its last records cut intact: its end is unanchored, and an anchor names the gap', async () => {
    const s = await server();
    for (let i = 0; i < 4; i++)
      await api(s.address, s.rootToken, 'PUT', `/v1/secret/data/cut/${i}`, { value: `x${i}` });

    // The node answers with its anchor, so an operator can keep it elsewhere.
    const remote = await runCli(['audit', 'verify', '--remote', '--address', s.address], {
      env: { COFFER_TOKEN: s.rootToken },
    });
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toMatch(/chain intact up to record \d+; it reaches its anchor\nanchor: \d+:[0-9a-f]{64}\n$/);
    await s.stop();

    const verified = await runCli(['audit', 'verify', '--data-dir', s.dataDir]);
    expect(verified.code, verified.stderr).toBe(0);
    const anchor = /^anchor: (\d+:[0-9a-f]{64})$/m.exec(verified.stdout)?.[1];
    expect(anchor, verified.stdout).toBeDefined();
    const total = Number(anchor!.split(':')[0]);

    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const copy = path.join(dir, 'audit.log');
    const lines = readFileSync(auditPath(s), 'utf8').trimEnd().split('\n');
    writeFileSync(copy, `${lines.slice(0, -3).join('\n')}\n`);
    const kept = total - 3;

    const alone = await runCli(['audit', 'verify', '--file', copy]);
    expect(alone.code).toBe(7);
    expect(alone.stdout).toBe(
      `ok: ${lines.length - 3} records, chain intact up to record ${kept}; its end is not anchored ` +
        '(truncation cannot be ruled out): pass --anchor or --data-dir\n',
    );
    expect(alone.stdout).not.toMatch(/anchor: /);
    const asJson = await runCli(['audit', 'verify', '--file', copy, '--output', 'json']);
    expect(asJson.code).toBe(7);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, anchored: false, last: { seq: kept } });

    for (const anchored of [
      ['--anchor', anchor!],
      ['--data-dir', s.dataDir],
    ]) {
      const cut = await runCli(['audit', 'verify', '--file', copy, ...anchored]);
      expect(cut.code, anchored[0]).toBe(1);
      expect(cut.stdout).toMatch(
        new RegExp(
          `^TAMPERED at line ${lines.length - 2}: tail truncated: 3 records missing \\(the log ends at seq ${kept} `,
        ),
      );
    }

    const whole = path.join(dir, 'whole.log');
    copyFileSync(auditPath(s), whole);
    const untouched = await runCli(['audit', 'verify', '--file', whole, '--anchor', anchor!]);
    expect(untouched.code, untouched.stdout).toBe(0);
    expect(untouched.stdout).toBe(
      `ok: ${lines.length} records, chain intact up to record ${total}; it reaches its anchor\nanchor: ${anchor}\n`,
    );
    const json = JSON.parse(
      (await runCli(['audit', 'verify', '--file', whole, '--anchor', anchor!, '-o', 'json'])).stdout,
    );
    expect(json).toMatchObject({ ok: true, anchored: true, anchor: { seq: total }, last: { seq: total } });

    const bad = await runCli(['audit', 'verify', '--file', whole, '--anchor', 'latest']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--anchor must be <seq>:<64 hex digits>/);
  });

  it('records 404, 405, 413 and unknown-target requests, never their query or body', async () => {
    const s = await server();
    const send = async (
      method: string,
      p: string,
      init: { body?: string | Buffer; headers?: Record<string, string> },
    ) => {
      const res = await fetch(`${s.address}${p}`, { method, body: init.body, headers: init.headers });
      await res.arrayBuffer();
      return { status: res.status, requestId: res.headers.get('x-request-id') };
    };
    const results = [
      await send('GET', '/v1/no-such-thing?token=query-canary', {}),
      await send('DELETE', '/v1/sys/health', {}),
      await send('PUT', '/v1/secret/data/big?x=query-canary', {
        body: Buffer.alloc(2 * 1024 * 1024, 0x61),
        headers: { 'content-type': 'application/json', 'x-coffer-token': s.rootToken },
      }),
      await send('POST', '/', {
        body: '{"SecretString":"body-canary"}',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.NoSuchOperation' },
      }),
    ];
    expect(results.map((r) => r.status)).toEqual([404, 405, 413, 400]);
    const all = records(s) as Array<{ requestId: string; operation: string; outcome?: string; status?: number }>;
    const expected = [
      ['unroutable', 404],
      ['unroutable', 405],
      ['secret.write', 413],
      ['aws.unknown-operation', 400],
    ] as const;
    for (const [i, [operation, status]] of expected.entries()) {
      const mine = all.filter((r) => r.requestId === results[i]!.requestId);
      expect(mine, `${operation} ${status}`).toMatchObject([{ type: 'response', operation, outcome: 'error', status }]);
    }
    const text = readFileSync(auditPath(s), 'utf8');
    expect(text).not.toContain('query-canary');
    expect(text).not.toContain('body-canary');
    expect((await runCli(['audit', 'verify', '--file', auditPath(s)])).code).toBe(0);
  });

  it('writes Unicode line terminators escaped, one line per record, and the log verifies', async () => {
    const s = await server();
    const odd = 'a\u2028b\u2029c\u0085d\u202ee';
    const created = await api(s.address, s.rootToken, 'POST', '/v1/secrets', {
      name: 'terminators',
      description: odd,
    });
    expect(created.status).toBe(201);
    const described = await api(s.address, s.rootToken, 'GET', '/v1/secret/metadata/terminators');
    expect(described.body.description).toBe(odd);
    await s.stop();
    const text = readFileSync(auditPath(s), 'utf8');
    expect(text).not.toMatch(/[\u0085\u2028\u2029\u202e]/);
    const byAnyBreak = text.trimEnd().split(/\r\n|[\n\v\f\r\u0085\u2028\u2029]/);
    expect(byAnyBreak).toEqual(text.trimEnd().split('\n'));
    const verify = await runCli(['audit', 'verify', '--file', auditPath(s)]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/chain intact/);
  });

  it('refuses writes and changes nothing when the audit log cannot be written', async () => {
    const s = await server();
    expect((await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/guarded', { value: 'before' })).status).toBe(200);
    const file = auditPath(s);
    // Log rotation onto a full disk: the file is moved away and the new one cannot take a single byte.
    renameSync(file, `${file}.1`);
    symlinkSync('/dev/full', file);
    const failedBefore = s.output().split('audit log reopen failed').length;
    s.child.kill('SIGHUP');
    // The server handles SIGHUP asynchronously and says so when the reopen fails.
    await waitFor(
      'the audit log reopen to fail',
      () => s.output().split('audit log reopen failed').length > failedBefore,
      {
        detail: s.output,
      },
    );

    const refused = await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/guarded', { value: 'after' });
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('audit_unavailable');
    expect((await api(s.address, s.rootToken, 'GET', '/v1/secret/data/guarded')).status).toBe(503);
    expect((await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/new-one', { value: 'x' })).status).toBe(503);

    // Disk freed: a fresh file, reopened, continues the chain; the refused writes never happened.
    unlinkSync(file);
    s.child.kill('SIGHUP');
    // A successful reopen prints nothing: it shows as the node answering again (a refused read changes nothing).
    const read = await waitFor('the reopened audit log to take records', async () => {
      const answer = await api(s.address, s.rootToken, 'GET', '/v1/secret/data/guarded');
      return answer.status === 200 ? answer : undefined;
    });
    expect(read.body.value).toBe('before');
    expect((await api(s.address, s.rootToken, 'GET', '/v1/secret/data/new-one')).status).toBe(404);
  });
});
