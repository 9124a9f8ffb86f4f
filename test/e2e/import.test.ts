import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealBundle } from '../../lambdas/entrypoints/cli/import/bundle.ts';
import { api, COFFER_BIN, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { startVaultKv, type VaultKv } from '../support/vault-kv.ts';

/**
 * `coffer import` and `coffer export` end to end: the real CLI against the real server, from each source, as a team
 * moving from `.env` files, Kubernetes manifests, Vault and another Coffer node would run them.
 */

const current = useServer();
const work = tempDir('coffer-import-');
afterAll(() => work.cleanup());

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken, ...env } });

const file = (name: string, text: string | Buffer) => {
  const at = path.join(work.dir, `${randomUUID().slice(0, 8)}-${name}`);
  writeFileSync(at, text);
  return at;
};
const unique = () => `t${randomUUID().slice(0, 8)}/`;

async function read(name: string, query = '') {
  const got = await api(current().address, current().rootToken, 'GET', `/v1/secret/data/${name}${query}`);
  return got.body as { value?: string; binary?: string; versionId: string; versionStages: string[] };
}
async function describeSecret(name: string, server: ServerProcess = current()) {
  const got = await api(server.address, server.rootToken, 'GET', `/v1/secret/metadata/${name}`);
  return got as unknown as {
    status: number;
    body: { description: string; tags: Record<string, string>; versionIdsToStages: Record<string, string[]> };
  };
}
const versionCount = async (name: string) => Object.keys((await describeSecret(name)).body.versionIdsToStages).length;
async function allVersions(name: string, server: ServerProcess = current()) {
  const got = await api(server.address, server.rootToken, 'GET', `/v1/secret/versions/${name}?includeDeprecated=true`);
  return (got.body as { versions: Array<{ versionId: string; versionStages: string[] }> }).versions;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the test is about control characters.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

const DOTENV = `# the app's settings
export DB_URL=postgres://app:pw@db/app
API_KEY="first\\nsecond"  # a comment
PEM='-----BEGIN KEY-----
abc
-----END KEY-----'
EMPTY=
`;

describe('coffer import dotenv:', () => {
  it('plans without writing on --dry-run, then imports under the prefix with tags, and says what moved', async () => {
    const prefix = unique();
    const env = file('.env', DOTENV);
    const planned = await cli(['import', `dotenv:${env}`, '--prefix', prefix, '--dry-run']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`DB_URL   ${prefix}DB_URL`);
    expect(planned.stdout).toMatch(/EMPTY +\S+EMPTY +skip +0 +empty value/);
    expect((await describeSecret(`${prefix}DB_URL`)).status).toBe(404);

    const imported = await cli(['import', `dotenv:${env}`, '--prefix', prefix, '--tag', 'team=core', '-o', 'json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).summary).toEqual([
      { source: `dotenv:${env}`, created: 3, updated: 0, skipped: 1, failed: 0 },
    ]);
    expect((await read(`${prefix}DB_URL`)).value).toBe('postgres://app:pw@db/app');
    expect((await read(`${prefix}API_KEY`)).value).toBe('first\nsecond');
    expect((await read(`${prefix}PEM`)).value).toBe('-----BEGIN KEY-----\nabc\n-----END KEY-----');
    expect((await describeSecret(`${prefix}PEM`)).body.tags).toEqual({ team: 'core' });
    // No value in the answer or the progress.
    for (const out of [imported.stdout, imported.stderr]) {
      for (const value of ['app:pw', 'second', 'abc']) expect(out).not.toContain(value);
    }
  });

  it('skips existing secrets by default, adds a version only for a changed value with new-version, and overwrites tags', async () => {
    const prefix = unique();
    const first = file('.env', 'A=1\nB=2\n');
    expect((await cli(['import', `dotenv:${first}`, '--prefix', prefix, '--tag', 'old=yes'])).code).toBe(0);
    const changed = file('.env', 'A=1\nB=3\n');

    const skipped = await cli(['import', `dotenv:${changed}`, '--prefix', prefix]);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/0 +0 +2 +0/);
    expect((await read(`${prefix}B`)).value).toBe('2');

    const versioned = await cli(['import', `dotenv:${changed}`, '--prefix', prefix, '--on-conflict', 'new-version']);
    expect(versioned.code).toBe(0);
    expect(versioned.stdout).toContain(`skipped: A → ${prefix}A: unchanged`);
    expect(await versionCount(`${prefix}A`)).toBe(1);
    expect(await versionCount(`${prefix}B`)).toBe(2);
    expect((await read(`${prefix}B`)).value).toBe('3');
    expect((await read(`${prefix}B`, '?stage=AWSPREVIOUS')).value).toBe('2');

    const overwritten = await cli([
      'import',
      `dotenv:${file('.env', 'B=4\n')}`,
      '--prefix',
      prefix,
      '--on-conflict',
      'overwrite',
      '--tag',
      'new=yes',
    ]);
    expect(overwritten.code).toBe(0);
    expect((await read(`${prefix}B`)).value).toBe('4');
    expect((await describeSecret(`${prefix}B`)).body.tags).toEqual({ new: 'yes' });
  });

  it('refuses a malformed file by line number without printing it, and an unknown template variable per item', async () => {
    const bad = await cli(['import', `dotenv:${file('.env', 'A=1\nthis is s3cr3t\n')}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('line 2: expected KEY=value');
    expect(bad.stderr).not.toContain('s3cr3t');

    const template = await cli(['import', `dotenv:${file('.env', 'A=1\n')}`, '--name-template', '{{path}}']);
    expect(template.code).toBe(1);
    expect(template.stdout).toContain('unknown {{path}} in the name template; this source has {{source}} {{key}}');
  });

  it('refuses an unknown conflict policy, an unknown source, and a resume file on a dry run', async () => {
    const env = `dotenv:${file('.env', 'A=1\n')}`;
    const policy = await cli(['import', env, '--on-conflict', 'replace']);
    expect([policy.code, policy.stderr]).toEqual([2, 'error: --on-conflict must be skip, overwrite, new-version\n']);
    const unknown = await cli(['import', 'consul:x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown source "consul:x": use dotenv:<file>, env, k8s:<manifest.yaml>');
    const dry = await cli(['import', env, '--dry-run', '--resume-file', path.join(work.dir, 'never')]);
    expect([dry.code, dry.stderr]).toEqual([2, 'error: a dry run writes nothing: drop --resume-file\n']);
  });

  it('names secrets from a template', async () => {
    const prefix = unique();
    const env = file('.env.staging', 'TOKEN=t\n');
    const done = await cli(['import', `dotenv:${env}`, '--prefix', prefix, '--name-template', '{{source}}/{{key}}']);
    expect(done.code, done.stdout).toBe(0);
    expect((await read(`${prefix}staging/TOKEN`)).value).toBe('t');
  });
});

describe('coffer import env', () => {
  it("imports the variables matching --include, never Coffer's own", async () => {
    const prefix = unique();
    const done = await cli(['import', 'env', '--prefix', prefix, '--include', 'IMPORTME_*', '--include', 'COFFER_*'], {
      IMPORTME_ONE: 'uno',
      IMPORTME_TWO: 'dos',
      IMPORTME_SKIP: 'x',
      COFFER_BUNDLE_PASSPHRASE: 'never',
    });
    expect(done.code, done.stderr).toBe(0);
    const listed = await cli(['secret', 'list', prefix.slice(0, -1), '--recursive']);
    expect(listed.stdout.trim().split('\n').sort()).toEqual(
      ['IMPORTME_ONE', 'IMPORTME_SKIP', 'IMPORTME_TWO'].map((k) => `${prefix}${k}`),
    );
    const excluded = await cli(
      [
        'import',
        'env',
        '--prefix',
        unique(),
        '--include',
        'IMPORTME_*',
        '--exclude',
        '*_SKIP',
        '--dry-run',
        '-o',
        'json',
      ],
      {
        IMPORTME_ONE: 'uno',
        IMPORTME_SKIP: 'x',
      },
    );
    expect(JSON.parse(excluded.stdout).plan.map((p: { key: string }) => p.key)).toEqual(['IMPORTME_ONE']);
  });
});

describe('coffer import k8s:', () => {
  it('imports every key of every Secret, named namespace/name/key, binary data as bytes', async () => {
    const prefix = unique();
    const manifest = file(
      'secrets.yaml',
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n',
        `apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\ndata:\n  password: ${Buffer.from('hunter2').toString('base64')}\n  raw: ${Buffer.from([0, 255, 1]).toString('base64')}\nstringData:\n  user: app\n`,
      ].join('---\n'),
    );
    const done = await cli(['import', `k8s:${manifest}`, '--prefix', prefix]);
    expect(done.code, done.stdout).toBe(0);
    expect((await read(`${prefix}prod/db/password`)).value).toBe('hunter2');
    expect((await read(`${prefix}prod/db/user`)).value).toBe('app');
    expect((await read(`${prefix}prod/db/raw`)).binary).toBe(Buffer.from([0, 255, 1]).toString('base64'));
    expect((await describeSecret(`${prefix}prod/db/user`)).body.tags).toEqual({
      'k8s.namespace': 'prod',
      'k8s.secret': 'db',
    });
  });

  it('acts with the caller: a token limited to one namespace imports it and fails the rest, exit 1', async () => {
    const { address, rootToken } = current();
    const prefix = unique();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/import-team', {
      rules: [{ path: `secrets/${prefix}team/*`, capabilities: ['create', 'read', 'update', 'list'] }],
    });
    const created = await cli(['token', 'create', '--policy', 'import-team', '-o', 'json']);
    const { token } = JSON.parse(created.stdout) as { token: string };
    const manifest = file(
      'two.yaml',
      [
        'apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: team}\nstringData: {k: mine}\n',
        'apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: other}\nstringData: {k: theirs}\n',
      ].join('---\n'),
    );
    const done = await cli(['import', `k8s:${manifest}`, '--prefix', prefix], { COFFER_TOKEN: token });
    expect(done.code).toBe(1);
    expect(done.stdout).toMatch(/1 +0 +0 +1/);
    expect(done.stdout).toMatch(new RegExp(`failed: other/s#k → ${prefix}other/s/k: .*\\(permission_denied\\)`));
    expect((await read(`${prefix}team/s/k`)).value).toBe('mine');
    expect((await describeSecret(`${prefix}other/s/k`)).status).toBe(404);
  });
});

describe('coffer import vault:', () => {
  let vault: VaultKv;
  beforeAll(async () => {
    vault = await startVaultKv('kv');
  });
  afterAll(async () => vault.close());

  it('imports every readable version of every path, oldest first, with custom_metadata as tags; reports the rest', async () => {
    vault.put('app/db', { user: 'u', password: 'p1' }, { owner: 'payments' });
    vault.put('app/db', { user: 'u', password: 'p2' });
    vault.put('app/db', { user: 'u', password: 'p3' });
    vault.put('app/db', { user: 'u', password: 'p4' });
    vault.deleteVersion('app/db', 2);
    vault.put('app/nested/api', { key: 'k1' });
    vault.put('app/nested/api', { key: 'k2' });
    vault.destroyVersion('app/nested/api', 1);
    vault.put('top', { x: '1' });

    const prefix = unique();
    const env = { VAULT_TOKEN: vault.token };
    const done = await cli(['import', `vault:${vault.address}/kv/app`, '--prefix', prefix, '-o', 'json'], env);
    expect(done.code, done.stderr).toBe(0);
    const answer = JSON.parse(done.stdout) as { items: Array<{ key: string; name: string; reason?: string }> };
    expect(answer.items.map((i) => [i.key, i.name, i.reason])).toEqual([
      ['kv/app/db', `${prefix}app/db`, 'version 2 deleted'],
      ['kv/app/nested/api', `${prefix}app/nested/api`, 'version 1 destroyed'],
    ]);
    expect(JSON.parse((await read(`${prefix}app/db`)).value!)).toEqual({ user: 'u', password: 'p4' });
    expect(JSON.parse((await read(`${prefix}app/db`, '?stage=AWSPREVIOUS')).value!).password).toBe('p3');
    expect((await allVersions(`${prefix}app/db`)).length).toBe(3);
    expect((await describeSecret(`${prefix}app/db`)).body.tags).toEqual({ owner: 'payments' });
    expect(JSON.parse((await read(`${prefix}app/nested/api`)).value!)).toEqual({ key: 'k2' });
    expect((await describeSecret(`${prefix}top`)).status).toBe(404);
    expect(vault.requests).toContain('GET /v1/kv/metadata/app/?list=true');
  });

  it('needs VAULT_TOKEN, and says when Vault refuses it', async () => {
    const missing = await cli(['import', `vault:${vault.address}/kv`], { VAULT_TOKEN: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('a Vault import needs VAULT_TOKEN');
    const refused = await cli(['import', `vault:${vault.address}/kv`], { VAULT_TOKEN: 'wrong' });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('check VAULT_TOKEN');
  });
});

describe('resuming an interrupted import', () => {
  const KEYS = 30;
  const big = () => Array.from({ length: KEYS }, (_, i) => `K${String(i).padStart(2, '0')}=value-${i}`).join('\n');

  /** Runs the import and SIGKILLs it once its progress shows `after` items done. */
  function interrupted(args: string[], after: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, [COFFER_BIN, ...args], {
        env: { ...process.env, COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString('utf8');
        if (err.includes(`: ${after}/${KEYS} `)) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('close', () => resolve(err));
    });
  }

  it('continues where a killed run stopped: every item once, no duplicate version', async () => {
    const prefix = unique();
    const env = file('.env', big());
    const resume = path.join(work.dir, `${randomUUID()}.resume`);
    const args = ['import', `dotenv:${env}`, '--prefix', prefix, '--resume-file', resume];
    const progress = await interrupted(args, 5);
    expect(progress).not.toContain(`${KEYS}/${KEYS}`);
    expect(readFileSync(resume, 'utf8')).not.toContain('value-');

    const again = await cli([...args, '-o', 'json']);
    expect(again.code, again.stderr).toBe(0);
    const items = JSON.parse(again.stdout).items as Array<{ outcome: string; reason?: string }>;
    const resumed = items.filter((i) => i.reason?.startsWith('already imported')).length;
    expect(resumed).toBeGreaterThanOrEqual(5);
    expect(items.filter((i) => i.outcome === 'failed')).toEqual([]);
    for (let i = 0; i < KEYS; i++) {
      const name = `${prefix}K${String(i).padStart(2, '0')}`;
      expect((await read(name)).value).toBe(`value-${i}`);
      expect(await versionCount(name)).toBe(1);
    }
  });

  it('rewrites an item whose write landed but was not journalled as done, without a second version', async () => {
    const prefix = unique();
    const env = file('.env', 'A=1\nB=2\n');
    const resume = path.join(work.dir, `${randomUUID()}.resume`);
    const args = [
      'import',
      `dotenv:${env}`,
      '--prefix',
      prefix,
      '--resume-file',
      resume,
      '--on-conflict',
      'new-version',
    ];
    expect((await cli(args)).code).toBe(0);
    // As if the run died between the server's answer and the journal's `done` record.
    const journal = readFileSync(resume, 'utf8')
      .split('\n')
      .filter((l) => !l.includes('"done"'));
    writeFileSync(resume, journal.join('\n'));
    const again = await cli([...args, '-o', 'json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).summary[0]).toMatchObject({ created: 2, failed: 0 });
    expect(await versionCount(`${prefix}A`)).toBe(1);
    expect(await versionCount(`${prefix}B`)).toBe(1);
  });
});

describe('resuming after the source changed', () => {
  it('fails an unfinished item whose value changed rather than replacing the version it wrote', async () => {
    const prefix = unique();
    const resume = path.join(work.dir, `${randomUUID()}.resume`);
    const env = file('.env', 'A=1\n');
    const args = ['import', `dotenv:${env}`, '--prefix', prefix, '--resume-file', resume];
    expect((await cli(args)).code).toBe(0);
    const journal = readFileSync(resume, 'utf8')
      .split('\n')
      .filter((l) => !l.includes('"done"'));
    writeFileSync(resume, journal.join('\n'));
    writeFileSync(env, 'A=2\n');
    const changed = await cli(args);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(
      /failed: A → \S+A: version \S+ already exists; a new value needs a new clientRequestToken/,
    );
    expect((await read(`${prefix}A`)).value).toBe('1');
    expect(await versionCount(`${prefix}A`)).toBe(1);
  });
});

describe('import progress', () => {
  it('off a terminal: one plain line per item on stderr, no control characters, and the summary alone on stdout', async () => {
    const prefix = unique();
    const env = file('.env', 'A=1\nB=2\n');
    const done = await cli(['import', `dotenv:${env}`, '--prefix', prefix]);
    expect(done.stderr).not.toMatch(CONTROL);
    expect(done.stderr.split('\n').slice(0, -1)).toEqual([
      `importing dotenv:${env}...`,
      `importing dotenv:${env}: reading the source`,
      `importing dotenv:${env}: 1/2 ${prefix}A: created`,
      `importing dotenv:${env}: 2/2 ${prefix}B: created`,
      expect.stringMatching(
        new RegExp(`^importing dotenv:${env.replace(/[.]/g, '\\.')}: 2 item\\(s\\) \\(\\d+\\.\\ds\\)$`),
      ),
    ]);
    expect(done.stdout).toMatch(/^SOURCE +CREATED +UPDATED +SKIPPED +FAILED\n/);
  });

  it('on a terminal (a pseudo-terminal by script(1)): a redrawn bar with counts and percentage', async () => {
    const prefix = unique();
    const env = file('.env', 'A=1\nB=2\n');
    const command = [process.execPath, COFFER_BIN, 'import', `dotenv:${env}`, '--prefix', prefix]
      .map((a) => `'${a}'`)
      .join(' ');
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        env: { ...process.env, COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken, TERM: 'xterm' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
    });
    expect(out).toContain('\r\x1b[2K');
    expect(out).toMatch(/\[█{10}░{10}\] 1\/2 50%/);
    expect(out).toMatch(/\[█{20}\] 2\/2 100%/);
    expect((await read(`${prefix}B`)).value).toBe('2');
  });
});

describe('coffer export and the restore drill', () => {
  const PASS = { COFFER_BUNDLE_PASSPHRASE: 'correct horse battery staple' };

  it('restores every version, label, tag and description into a fresh node; refuses a wrong passphrase and a tampered bundle', async () => {
    const { address, rootToken } = current();
    const prefix = unique();
    const call = (method: string, p: string, body?: unknown) => api(address, rootToken, method, p, body);
    expect(
      (await call('POST', '/v1/secrets', { name: `${prefix}db`, description: 'the db', tags: { team: 'core' } }))
        .status,
    ).toBe(201);
    // Values long enough that random ciphertext cannot hold one by chance (a 2-byte value would, now and then).
    for (const value of ['db password one', 'db password two', 'db password three', 'db password four']) {
      expect((await call('PUT', `/v1/secret/data/${prefix}db`, { value })).status).toBe(200);
    }
    const pending = await call('PUT', `/v1/secret/data/${prefix}db`, {
      value: 'db password five',
      stages: ['AWSPENDING'],
    });
    expect(pending.status).toBe(200);
    expect(
      (await call('PUT', `/v1/secret/data/${prefix}bin`, { binary: Buffer.from([0, 1, 254]).toString('base64') }))
        .status,
    ).toBe(200);

    const bundle = path.join(work.dir, `${randomUUID()}.coffer`);
    const exported = await cli(['export', '--output-file', bundle, '--prefix', prefix], PASS);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe(`exported 2 secret(s), 6 version(s) to ${bundle}\n`);
    const sealed = readFileSync(bundle);
    for (const plain of ['db password one', 'the db', `${prefix}db`])
      expect(sealed.includes(Buffer.from(plain))).toBe(false);

    const again = await cli(['export', '--output-file', bundle], PASS);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists: choose another file');

    const tmp = tempDir();
    const fresh = await startServer(path.join(tmp.dir, 'data'));
    try {
      const into = (args: string[], env: Record<string, string> = PASS) =>
        runCli(args, { env: { COFFER_ADDR: fresh.address, COFFER_TOKEN: fresh.rootToken, ...env } });
      const wrong = await into(['import', `bundle:${bundle}`], { COFFER_BUNDLE_PASSPHRASE: 'wrong' });
      expect(wrong.code).toBe(4);
      expect(wrong.stderr).toContain('cannot open the bundle: the passphrase is wrong, or the bundle was altered');
      const tampered = Buffer.from(sealed);
      tampered[tampered.length - 40]! ^= 0x01;
      const tamperedFile = file('tampered.coffer', tampered);
      const refused = await into(['import', `bundle:${tamperedFile}`]);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toContain('cannot open the bundle');
      expect((await describeSecret(`${prefix}db`, fresh)).status).toBe(404);

      const restored = await into(['import', `bundle:${bundle}`, '-o', 'json']);
      expect(restored.code, restored.stderr).toBe(0);
      expect(JSON.parse(restored.stdout).summary[0]).toMatchObject({ created: 2, failed: 0 });

      for (const name of [`${prefix}db`, `${prefix}bin`]) {
        const before = await describeSecret(name);
        const after = await describeSecret(name, fresh);
        expect(after.body.description).toBe(before.body.description);
        expect(after.body.tags).toEqual(before.body.tags);
        expect(after.body.versionIdsToStages).toEqual(before.body.versionIdsToStages);
        const versionsBefore = await allVersions(name);
        const versionsAfter = await allVersions(name, fresh);
        expect(versionsAfter.map((v) => v.versionId).sort()).toEqual(versionsBefore.map((v) => v.versionId).sort());
        for (const { versionId } of versionsBefore) {
          const a = await api(address, rootToken, 'GET', `/v1/secret/data/${name}?versionId=${versionId}`);
          const b = await api(fresh.address, fresh.rootToken, 'GET', `/v1/secret/data/${name}?versionId=${versionId}`);
          expect([b.body.value, b.body.binary]).toEqual([a.body.value, a.body.binary]);
        }
      }
      // Labels: v1..v3 deprecated, v4 AWSPREVIOUS? No: v5 is only AWSPENDING, so v4 stays current and v3 previous.
      const stages = Object.values((await describeSecret(`${prefix}db`, fresh)).body.versionIdsToStages)
        .flat()
        .sort();
      expect(stages).toEqual(['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']);
      expect((await allVersions(`${prefix}db`, fresh)).length).toBe(5);

      // Restoring twice changes nothing: every secret exists and is skipped.
      const twice = await into(['import', `bundle:${bundle}`, '-o', 'json']);
      expect(JSON.parse(twice.stdout).summary[0]).toMatchObject({ created: 0, skipped: 2 });
    } finally {
      await fresh.stop();
      tmp.cleanup();
    }
  });
});

describe('restoring a long history', () => {
  it("retries the writes the secret's write rate throttles, and restores all 30 versions", async () => {
    const prefix = unique();
    const versions = Array.from({ length: 30 }, (_, i) => ({
      versionId: randomUUID(),
      stages: i === 29 ? ['AWSCURRENT'] : i === 28 ? ['AWSPREVIOUS'] : [],
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      value: `history-${i}`,
    }));
    const sealed = await sealBundle(
      { secrets: [{ name: `${prefix}long`, description: '', tags: {}, versions }] },
      'pp',
      { cost: { N: 2 ** 14, r: 8, p: 1 } },
    );
    const done = await cli(['import', `bundle:${file('long.coffer', sealed)}`], { COFFER_BUNDLE_PASSPHRASE: 'pp' });
    expect(done.code, done.stdout).toBe(0);
    const restored = await allVersions(`${prefix}long`);
    expect(restored.map((v) => v.versionId).sort()).toEqual(versions.map((v) => v.versionId).sort());
    expect((await read(`${prefix}long`)).value).toBe('history-29');
    expect((await read(`${prefix}long`, '?stage=AWSPREVIOUS')).value).toBe('history-28');
    expect(
      Object.values((await describeSecret(`${prefix}long`)).body.versionIdsToStages)
        .flat()
        .sort(),
    ).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
  });
});

describe('coffer export --prefix', () => {
  it('fails naming a secret the caller may list but not read, and writes no bundle', async () => {
    const prefix = unique();
    const { address, rootToken } = current();
    for (const name of ['open', 'closed']) {
      expect((await api(address, rootToken, 'PUT', `/v1/secret/data/${prefix}${name}`, { value: name })).status).toBe(
        200,
      );
    }
    await api(address, rootToken, 'PUT', '/v1/sys/policies/export-some', {
      rules: [
        { path: `secrets/${prefix.slice(0, -1)}`, capabilities: ['list'] },
        { path: `secrets/${prefix}open`, capabilities: ['read'] },
      ],
    });
    const { token } = JSON.parse((await cli(['token', 'create', '--policy', 'export-some', '-o', 'json'])).stdout);
    const bundle = path.join(work.dir, `${randomUUID()}.coffer`);
    const refused = await cli(['export', '--output-file', bundle, '--prefix', prefix], {
      COFFER_TOKEN: token,
      COFFER_BUNDLE_PASSPHRASE: 'pp',
    });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`error: ${prefix}closed: `);
    expect(() => readFileSync(bundle)).toThrow(/ENOENT/);
  });

  it('takes a prefix that is not a whole folder', async () => {
    const prefix = unique();
    const { address, rootToken } = current();
    for (const name of ['api', 'app', 'web']) {
      expect((await api(address, rootToken, 'PUT', `/v1/secret/data/${prefix}${name}`, { value: name })).status).toBe(
        200,
      );
    }
    const bundle = path.join(work.dir, `${randomUUID()}.coffer`);
    const exported = await cli(['export', '--output-file', bundle, '--prefix', `${prefix}ap`, '-o', 'json'], {
      COFFER_BUNDLE_PASSPHRASE: 'pp',
    });
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ secrets: 2, versions: 2 });
  });
});
