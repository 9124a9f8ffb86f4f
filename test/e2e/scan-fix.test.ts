import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { password, randomFrom, signedJwt } from '../support/scan-fixture-repo.ts';
import { api, COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * `coffer scan --fix` end to end: the real CLI against the real server, on a repository where a team keeps secrets
 * in a `.env` file and in config files, as a team moving to Coffer would run it.
 */

const current = useServer();
const work = tempDir('coffer-scan-fix-');
afterAll(() => work.cleanup());

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface Repo {
  readonly dir: string;
  readonly secrets: {
    dbPassword: string;
    databaseUrl: string;
    clientSecret: string;
    apiToken: string;
  };
  readonly files: Record<string, string>;
  read(file: string): string;
}

/** A git work tree with a `.env` file, a YAML and a JSON config file, each holding secrets drawn at random. */
function repo(extra: Record<string, string> = {}): Repo {
  const dir = path.join(work.dir, randomUUID().slice(0, 8));
  const dbPassword = randomFrom(ALNUM, 24);
  const pgPassword = password();
  const databaseUrl = `postgres://app:${pgPassword}@db.internal:5432/billing`;
  const clientSecret = randomFrom(ALNUM, 32);
  const apiToken = randomBytes(24).toString('base64');
  const files: Record<string, string> = {
    '.env': [
      '# billing settings',
      'APP_NAME=billing',
      `DB_PASSWORD=${dbPassword}`,
      `export DATABASE_URL="${databaseUrl}"  # the primary`,
      'LOG_LEVEL=info',
      '',
    ].join('\n'),
    'config/app.yaml': [
      'server:',
      '  port: 8080',
      'oauth:',
      '  client_id: billing',
      `  client_secret: ${clientSecret}`,
      '',
    ].join('\n'),
    'config/service.json': `{\n  "name": "billing",\n  "api_token": "${apiToken}",\n  "retries": 3\n}\n`,
    ...extra,
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  execFileSync('git', ['init', '-q', dir]);
  return {
    dir,
    secrets: { dbPassword, databaseUrl, clientSecret, apiToken },
    files,
    read: (file) => readFileSync(path.join(dir, file), 'utf8'),
  };
}

const unique = () => `t${randomUUID().slice(0, 8)}`;

function cli(cwd: string, args: string[], env: Record<string, string> = {}) {
  const { address, rootToken } = current();
  // The working directory: `coffer scan` scans it and names paths relative to it.
  return runCli(args, { cwd, env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken, ...env } });
}

async function read(name: string) {
  const got = await api(current().address, current().rootToken, 'GET', `/v1/secret/data/${name}`);
  return { status: got.status, value: (got.body as { value?: string }).value };
}

function expectNoSecret(repo: Repo, ...outputs: string[]) {
  for (const output of outputs) {
    for (const secret of [...Object.values(repo.secrets), repo.secrets.databaseUrl.split(':')[2]!.split('@')[0]!]) {
      expect(output).not.toContain(secret);
    }
  }
}

describe('coffer scan --fix', () => {
  it('imports every secret as the caller, rewrites the files to references, and a second scan finds nothing', async () => {
    const r = repo();
    const prefix = `${unique()}/billing`;
    const fixed = await cli(r.dir, ['scan', '--fix', '--write', '--yes', '--prefix', `${prefix}/`]);
    expect(fixed.code, fixed.stderr + fixed.stdout).toBe(0);
    expectNoSecret(r, fixed.stdout, fixed.stderr);

    // In Coffer, under names derived from the keys, read back through the API.
    expect((await read(`${prefix}/db-password`)).value).toBe(r.secrets.dbPassword);
    expect((await read(`${prefix}/database-url`)).value).toBe(r.secrets.databaseUrl);
    expect((await read(`${prefix}/client-secret`)).value).toBe(r.secrets.clientSecret);
    expect((await read(`${prefix}/api-token`)).value).toBe(r.secrets.apiToken);

    // The .env holds references where the secrets were, and everything else as it was.
    expect(r.read('.env')).toBe(
      [
        '# billing settings',
        'APP_NAME=billing',
        `DB_PASSWORD=coffer://${prefix}/db-password`,
        `export DATABASE_URL=coffer://${prefix}/database-url  # the primary`,
        'LOG_LEVEL=info',
        '',
      ].join('\n'),
    );
    // The config files are agent templates now.
    expect(r.read('config/app.yaml')).toBe(
      r.files['config/app.yaml']!.replace(r.secrets.clientSecret, `{{ secret "${prefix}/client-secret" }}`),
    );
    expect(r.read('config/service.json')).toBe(
      r.files['config/service.json']!.replace(r.secrets.apiToken, `{{ secret "${prefix}/api-token" }}`),
    );
    expect(fixed.stdout).toMatch(/\.env:3 +DB_PASSWORD +\S+\/db-password +created +fixed/);
    expect(fixed.stderr).toContain('coffer run --env-file .env -- <command>');
    expect(fixed.stderr).toContain('rotate them at their issuer');

    // coffer run with the rewritten .env gives the child the original values (and the plain settings).
    const out = path.join(r.dir, 'child-env.json');
    const script = `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env))`;
    const run = await cli(r.dir, ['run', '--env-file', '.env', '--', process.execPath, '-e', script]);
    expect(run.code, run.stderr).toBe(0);
    const childEnv = JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
    expect(childEnv.DB_PASSWORD).toBe(r.secrets.dbPassword);
    expect(childEnv.DATABASE_URL).toBe(r.secrets.databaseUrl);
    expect(childEnv.APP_NAME).toBe('billing');
    expect(childEnv.COFFER_TOKEN).toBeUndefined();
    const twice = await cli(r.dir, [
      'run',
      '--env-file',
      '.env',
      '--secret',
      `APP_NAME=${prefix}/db-password`,
      '--',
      'true',
    ]);
    expect([twice.code, twice.stderr]).toEqual([2, 'error: --secret APP_NAME is given twice\n']);

    // The agent's exec child gets them from the same .env (exec.env_file).
    const execOut = path.join(r.dir, 'exec-env.json');
    const execConfig = path.join(r.dir, 'agent-exec.json');
    writeFileSync(
      execConfig,
      JSON.stringify({
        exec: {
          command: [process.execPath, '-e', script.replace(JSON.stringify(out), JSON.stringify(execOut))],
          env_file: '.env',
        },
      }),
    );
    const exec = await cli(r.dir, ['agent', '--config', execConfig]);
    expect(exec.code, exec.stderr).toBe(0);
    const execEnv = JSON.parse(readFileSync(execOut, 'utf8')) as Record<string, string>;
    expect([execEnv.DB_PASSWORD, execEnv.DATABASE_URL, execEnv.APP_NAME]).toEqual([
      r.secrets.dbPassword,
      r.secrets.databaseUrl,
      'billing',
    ]);

    // The agent renders each template back into the file as it was, byte for byte.
    const config = path.join(r.dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        templates: [
          { source: 'config/app.yaml', destination: 'rendered/app.yaml' },
          { source: 'config/service.json', destination: 'rendered/service.json' },
        ],
      }),
    );
    const rendered = await cli(r.dir, ['agent', '--config', config, '--once']);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(r.read('rendered/app.yaml')).toBe(r.files['config/app.yaml']);
    expect(r.read('rendered/service.json')).toBe(r.files['config/service.json']);
    writeFileSync(path.join(r.dir, '.gitignore'), 'rendered/\n*.json\n!config/*.json\n');

    // Idempotent: the references are no findings, so nothing is left to fix.
    const again = await cli(r.dir, ['scan']);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stderr).toMatch(/^0 secrets found/);
    const refix = await cli(r.dir, ['scan', '--fix', '--write', '--yes', '--prefix', `${prefix}/`]);
    expect([refix.code, refix.stdout]).toEqual([0, 'nothing to fix\n']);
  });

  it('on a dry run imports nothing and changes no file, and shows the replacements as a diff with secrets redacted', async () => {
    const r = repo();
    const prefix = unique();
    const planned = await cli(r.dir, ['scan', '--fix', '--dry-run', '--prefix', `${prefix}/`]);
    expect(planned.code, planned.stderr).toBe(0);
    expectNoSecret(r, planned.stdout, planned.stderr);
    expect(planned.stdout).toContain(
      [
        '--- a/.env',
        '+++ b/.env',
        '@@ -1,5 +1,5 @@',
        ' # billing settings',
        ' APP_NAME=billing',
        `-DB_PASSWORD=${r.secrets.dbPassword.slice(0, 4)}…(24 chars)`,
        `-export DATABASE_URL=${'"pos'}…(${r.secrets.databaseUrl.length + 2} chars)  # the primary`,
        `+DB_PASSWORD=coffer://${prefix}/db-password`,
        `+export DATABASE_URL=coffer://${prefix}/database-url  # the primary`,
        ' LOG_LEVEL=info',
      ].join('\n'),
    );
    expect(planned.stdout).toContain(`+  client_secret: {{ secret "${prefix}/client-secret" }}`);
    expect(planned.stdout).toMatch(/\.env:3 +DB_PASSWORD +\S+ +create +proposed/);
    expect((await read(`${prefix}/db-password`)).status).toBe(404);
    for (const [file, text] of Object.entries(r.files)) expect(r.read(file)).toBe(text);

    // Without --write the secrets are imported and the diff goes to the patch file; the files stay as they are.
    const patch = path.join(work.dir, `${unique()}.patch`);
    const imported = await cli(r.dir, ['scan', '--fix', '--prefix', `${prefix}/`, '--patch-file', patch, '-o', 'json']);
    expect(imported.code, imported.stderr).toBe(0);
    const answer = JSON.parse(imported.stdout) as { results: Array<{ outcome: string; imported: string }> };
    expect(answer.results.map((x) => [x.imported, x.outcome])).toEqual(Array(4).fill(['created', 'proposed']));
    expect(readFileSync(patch, 'utf8')).toContain('+++ b/config/service.json');
    expect(statSync(patch).mode & 0o777).toBe(0o600);
    expectNoSecret(r, imported.stdout, imported.stderr, readFileSync(patch, 'utf8'));
    expect((await read(`${prefix}/db-password`)).value).toBe(r.secrets.dbPassword);
    for (const [file, text] of Object.entries(r.files)) expect(r.read(file)).toBe(text);
  });

  it('acts with the caller: a token that may not write under the prefix gets a clear error and no file changes', async () => {
    const { address, rootToken } = current();
    const team = unique();
    await api(address, rootToken, 'PUT', `/v1/sys/policies/${team}`, {
      rules: [{ path: `secrets/${team}/*`, capabilities: ['create', 'read', 'update', 'list'] }],
    });
    const created = await cli(work.dir, ['token', 'create', '--policy', team, '-o', 'json']);
    const { token } = JSON.parse(created.stdout) as { token: string };
    const r = repo();
    const elsewhere = unique();
    const refused = await cli(r.dir, ['scan', '--fix', '--write', '--yes', '--prefix', `${elsewhere}/`], {
      COFFER_TOKEN: token,
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/\.env:3 +DB_PASSWORD +\S+\/db-password +failed +failed +.*\(permission_denied\)/);
    expect(refused.stderr).toContain('0 of 4 secrets moved into Coffer; 0 files rewritten');
    expectNoSecret(r, refused.stdout, refused.stderr);
    for (const [file, text] of Object.entries(r.files)) expect(r.read(file)).toBe(text);
    expect((await read(`${elsewhere}/db-password`)).status).toBe(404);

    // Under its own prefix the same token moves them.
    const allowed = await cli(r.dir, ['scan', '--fix', '--write', '--yes', '--prefix', `${team}/`], {
      COFFER_TOKEN: token,
    });
    expect(allowed.code, allowed.stdout).toBe(0);
    expect((await read(`${team}/client-secret`)).value).toBe(r.secrets.clientSecret);
  });

  it('never points a file at a secret that holds another value, and leaves source code to the user', async () => {
    const { address, rootToken } = current();
    const prefix = unique();
    const jwt = signedJwt();
    const r = repo({ 'src/client.ts': `export const authToken = '${jwt}';\n` });
    // db-password exists with another value; client-secret already holds this one.
    await api(address, rootToken, 'PUT', `/v1/secret/data/${prefix}/db-password`, { value: 'someone-elses' });
    await api(address, rootToken, 'PUT', `/v1/secret/data/${prefix}/client-secret`, { value: r.secrets.clientSecret });

    // The dry run already compares: it says which reference would be refused.
    const planned = await cli(r.dir, ['scan', '--fix', '--dry-run', '--prefix', `${prefix}/`]);
    expect(planned.stdout).toMatch(/\.env:3 +DB_PASSWORD +\S+ +skipped +failed +\S+ exists with another value/);
    expect(planned.stdout).toMatch(/config\/app\.yaml:5 +client_secret +\S+ +exists +proposed/);

    const fixed = await cli(r.dir, ['scan', '--fix', '--write', '--yes', '--prefix', `${prefix}/`, '-o', 'json']);
    expect(fixed.code).toBe(1);
    expect(fixed.stdout).not.toContain(jwt);
    const results = (JSON.parse(fixed.stdout) as { results: Array<Record<string, string>> }).results;
    const at = (where: string) => results.find((x) => `${x.path}:${x.line}` === where)!;
    expect(at('.env:3')).toMatchObject({ outcome: 'failed', name: `${prefix}/db-password` });
    expect(at('.env:3').reason).toContain('exists with another value');
    expect(at('.env:4')).toMatchObject({ outcome: 'fixed', imported: 'created' });
    expect(at('config/app.yaml:5')).toMatchObject({ outcome: 'fixed', imported: 'exists' });
    expect(at('src/client.ts:1')).toMatchObject({
      outcome: 'manual',
      imported: 'created',
      reference: `--secret AUTH_TOKEN=${prefix}/auth-token`,
    });
    expect((await read(`${prefix}/db-password`)).value).toBe('someone-elses');
    expect((await read(`${prefix}/auth-token`)).value).toBe(jwt);
    expect(r.read('.env')).toContain(`DB_PASSWORD=${r.secrets.dbPassword}\n`);
    expect(r.read('.env')).toContain(`DATABASE_URL=coffer://${prefix}/database-url`);
    expect(r.read('src/client.ts')).toBe(r.files['src/client.ts']);

    // new-version stores this value as the newest version, and the reference is then right.
    const versioned = await cli(r.dir, [
      'scan',
      '--fix',
      '--write',
      '--yes',
      '--prefix',
      `${prefix}/`,
      '--on-conflict',
      'new-version',
    ]);
    expect(versioned.stdout).toMatch(/\.env:3 +DB_PASSWORD +\S+ +updated +fixed/);
    expect((await read(`${prefix}/db-password`)).value).toBe(r.secrets.dbPassword);
  });

  it('finds a .env that git ignores when it is named, and leaves it alone when it is not', async () => {
    const r = repo({ '.gitignore': '.env\n' });
    const prefix = unique();
    const all = await cli(r.dir, ['scan', '--fix', '--dry-run', '--prefix', `${prefix}/`, '--format', 'json']);
    const paths = (JSON.parse(all.stdout) as { results: Array<{ path: string }> }).results.map((x) => x.path);
    expect(paths).not.toContain('.env');
    const named = await cli(r.dir, ['scan', '--fix', '--write', '--yes', '--prefix', `${prefix}/`, '.env']);
    expect(named.code, named.stdout).toBe(0);
    expect(r.read('.env')).toContain(`DB_PASSWORD=coffer://${prefix}/db-password\n`);
    expect(r.read('config/app.yaml')).toBe(r.files['config/app.yaml']);
  });

  it('asks before --write on a terminal: no changes without a yes, the fix with one', async () => {
    const r = repo();
    const prefix = unique();
    // script(1) runs the CLI on a pseudo-terminal and types the answer on it.
    const onTerminal = (answer: string) =>
      runCli([], {
        cwd: r.dir,
        input: answer,
        env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken },
        command: [
          'script',
          '-qec',
          `${JSON.stringify(process.execPath)} ${JSON.stringify(COFFER_BIN)} scan --fix --write --prefix ${prefix}/`,
          '/dev/null',
        ],
      });
    const declined = await onTerminal('n\n');
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain('import 4 secret(s) into Coffer and rewrite up to 3 file(s)? [y/N]');
    expect(declined.stdout).toContain('not confirmed: nothing imported, no file changed');
    for (const [file, text] of Object.entries(r.files)) expect(r.read(file)).toBe(text);
    expect((await read(`${prefix}/db-password`)).status).toBe(404);

    const accepted = await onTerminal('y\n');
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(r.read('.env')).toContain(`DB_PASSWORD=coffer://${prefix}/db-password\n`);
    expect((await read(`${prefix}/db-password`)).value).toBe(r.secrets.dbPassword);
  });

  it('refuses bad usage with exit 2: history, --write without --yes off a terminal, fix options without --fix', async () => {
    const r = repo();
    const history = await cli(r.dir, ['scan', '--fix', '--git-history']);
    expect(history.code).toBe(2);
    expect(history.stderr).toContain('a secret in the git history cannot be replaced, only rotated');
    const unconfirmed = await cli(r.dir, ['scan', '--fix', '--write']);
    expect([unconfirmed.code, unconfirmed.stderr]).toEqual([
      2,
      'error: --write changes files: confirm with --yes (there is no terminal to ask on)\n',
    ]);
    const loose = await cli(r.dir, ['scan', '--prefix', 'x/']);
    expect([loose.code, loose.stderr]).toEqual([2, 'error: --prefix needs --fix\n']);
    const both = await cli(r.dir, ['scan', '--fix', '--write', '--dry-run', '--yes']);
    expect(both.code).toBe(2);
    for (const [file, text] of Object.entries(r.files)) expect(r.read(file)).toBe(text);
  });
});
