import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { type WaitForOptions, waitFor } from '../support/wait-for.ts';

const current = useServer();

const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

async function putSecret(name: string, value: string): Promise<string> {
  const put = await api(current().address, current().rootToken, 'PUT', `/v1/secret/data/${name}`, { value });
  expect(put.status).toBe(200);
  return put.body.versionId as string;
}

/** The agent starts a process and polls a server per step: waits get longer than the default, with its output. */
const slowly = (output?: () => string): WaitForOptions => ({ timeoutMs: 45_000, detail: output });

const readOr = (file: string, fallback = '') => (existsSync(file) ? readFileSync(file, 'utf8') : fallback);
const lines = (file: string) =>
  readOr(file)
    .split('\n')
    .filter((line) => line !== '');

/** Successful responses of one operation on one secret, from the server's audit log: how polls are counted. */
function audited(operation: string, secret: string): Array<{ response?: { versionId?: string } }> {
  const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
  return log
    .split('\n')
    .filter((line) => line.includes(`"operation":"${operation}"`) && line.includes(`"path":"secrets/${secret}"`))
    .map((line) => JSON.parse(line) as { type: string; outcome: string; response?: { versionId?: string } })
    .filter((record) => record.type === 'response' && record.outcome === 'ok');
}

interface Agent {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

describe('coffer agent', () => {
  let tmp: { dir: string; cleanup: () => void };
  const agents: Agent[] = [];
  beforeEach(() => {
    tmp = tempDir('coffer-agent-');
  });
  afterEach(async () => {
    for (const agent of agents.splice(0)) {
      if (agent.child.exitCode !== null || agent.child.signalCode !== null) continue;
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    tmp.cleanup();
  });

  const writeConfig = (config: object) => {
    const file = path.join(tmp.dir, 'agent.json');
    writeFileSync(file, JSON.stringify(config));
    return file;
  };

  const agentEnv = (extra: Record<string, string> = {}) => ({
    COFFER_ADDR: current().address,
    COFFER_TOKEN: current().rootToken,
    WORK: tmp.dir,
    ...extra,
  });

  function startAgent(config: object, extra: Record<string, string> = {}): Agent {
    const child = spawn(process.execPath, [COFFER_BIN, 'agent', '--config', writeConfig(config)], {
      env: { ...process.env, ...agentEnv(extra) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const agent = { child, exited, output: () => out };
    agents.push(agent);
    return agent;
  }

  it('renders atomically with mode 0600 and runs the command only when the output changes', async () => {
    const name = unique('agent');
    await putSecret(name, JSON.stringify({ password: 'pw-1', other: 'a' }));
    const out = path.join(tmp.dir, 'db.conf');
    const runs = path.join(tmp.dir, 'runs.log');
    const agent = startAgent({
      poll_interval: '100ms',
      templates: [
        {
          contents: `password={{ secret "${name}" "password" }}\n`,
          destination: 'db.conf',
          command: ['sh', '-c', 'echo run >> "$WORK/runs.log"'],
        },
      ],
    });
    await waitFor('the first render and command', () => lines(runs).length === 1, slowly(agent.output));
    expect(readFileSync(out, 'utf8')).toBe('password=pw-1\n');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const firstInode = statSync(out).ino;

    // Several polls with no change: no render, no command.
    const polls = audited('secret.describe', name).length;
    await waitFor('three more polls', () => audited('secret.describe', name).length >= polls + 3, slowly(agent.output));
    expect(lines(runs)).toHaveLength(1);
    expect(statSync(out).ino).toBe(firstInode);

    // A new version whose rendered output is the same (only an unused field changed): fetched, not rewritten.
    const sameOutput = await putSecret(name, JSON.stringify({ password: 'pw-1', other: 'b' }));
    await waitFor(
      'the agent to fetch the new version',
      () => audited('secret.read', name).some((r) => r.response?.versionId === sameOutput),
      slowly(agent.output),
    );
    const afterFetch = audited('secret.describe', name).length;
    await waitFor(
      'another poll',
      () => audited('secret.describe', name).length >= afterFetch + 2,
      slowly(agent.output),
    );
    expect(lines(runs)).toHaveLength(1);
    expect(statSync(out).ino).toBe(firstInode);

    // A real change: replaced by rename (new inode), still 0600, command runs once more, no temporary file left.
    await putSecret(name, JSON.stringify({ password: 'pw-2', other: 'b' }));
    await waitFor('the second render', () => readOr(out) === 'password=pw-2\n', slowly(agent.output));
    await waitFor('the second command', () => lines(runs).length === 2, slowly(agent.output));
    expect(statSync(out).ino).not.toBe(firstInode);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(tmp.dir).sort()).toEqual(['agent.json', 'db.conf', 'runs.log']);
    expect(agent.output()).not.toContain('pw-1');
    expect(agent.output()).not.toContain('pw-2');
  });

  it('renders once and exits with --once, with the given mode and a template file', async () => {
    const name = unique('agent');
    await putSecret(name, 'whole-value');
    writeFileSync(path.join(tmp.dir, 'app.tpl'), `v={{ secret "${name}" }} home={{ env "HOME_X" }}\n`);
    const config = writeConfig({ templates: [{ source: 'app.tpl', destination: 'app.env', perms: '0640' }] });
    const result = await runCli(['agent', '--config', config, '--once'], { env: agentEnv({ HOME_X: '/h' }) });
    expect(result.code).toBe(0);
    const out = path.join(tmp.dir, 'app.env');
    expect(readFileSync(out, 'utf8')).toBe('v=whole-value home=/h\n');
    expect(statSync(out).mode & 0o777).toBe(0o640);
  });

  it('--once: creates missing directories (0700) and runs the command in the config file’s directory', async () => {
    const name = unique('agent');
    await putSecret(name, 'deep-value');
    writeFileSync(path.join(tmp.dir, 'hook.sh'), 'pwd > "$1"\n', { mode: 0o755 });
    const config = writeConfig({
      templates: [
        { contents: `{{ secret "${name}" }}`, destination: 'run/app/out', command: ['./hook.sh', 'cwd.txt'] },
      ],
    });
    // The CLI runs in the test's working directory, not the config file's.
    expect(realpathSync(process.cwd())).not.toBe(realpathSync(tmp.dir));
    const result = await runCli(['agent', '--config', config, '--once'], { env: agentEnv() });
    expect(result.stderr).toBe(`coffer agent: rendered ${path.join(tmp.dir, 'run/app/out')}\n`);
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(tmp.dir, 'run/app/out'), 'utf8')).toBe('deep-value');
    expect(statSync(path.join(tmp.dir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(tmp.dir, 'run/app')).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(tmp.dir, 'cwd.txt'), 'utf8').trim()).toBe(realpathSync(tmp.dir));
  });

  it('--once: a destination it cannot write fails naming the template and the destination', async () => {
    const name = unique('agent');
    await putSecret(name, 'v');
    writeFileSync(path.join(tmp.dir, 'conf'), 'a file where a directory should be');
    const blocked = writeConfig({ templates: [{ contents: `{{ secret "${name}" }}`, destination: 'conf/out' }] });
    const failed = await runCli(['agent', '--config', blocked, '--once'], { env: agentEnv() });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe(
      `error: template templates[0]: cannot write ${path.join(tmp.dir, 'conf/out')}: ` +
        `${path.join(tmp.dir, 'conf')} is in the way: it is not a directory\n`,
    );

    writeFileSync(path.join(tmp.dir, 'app.tpl'), `{{ secret "${name}" }}`);
    mkdirSync(path.join(tmp.dir, 'taken', 'inside'), { recursive: true });
    const directory = writeConfig({ templates: [{ source: 'app.tpl', destination: 'taken' }] });
    const isDir = await runCli(['agent', '--config', directory, '--once'], { env: agentEnv() });
    expect(isDir.code).toBe(1);
    expect(isDir.stderr).toBe(
      `error: template ${path.join(tmp.dir, 'app.tpl')}: cannot write ${path.join(tmp.dir, 'taken')}: ` +
        'it is a directory (EISDIR)\n',
    );
    expect(readdirSync(path.join(tmp.dir, 'taken'))).toEqual(['inside']);
  });

  it('logs a write that fails after start, keeps running, and writes the file once it can', async () => {
    const name = unique('agent');
    await putSecret(name, 'w1');
    const sub = path.join(tmp.dir, 'sub');
    const out = path.join(sub, 'out');
    const agent = startAgent({
      poll_interval: '100ms',
      templates: [{ contents: `{{ secret "${name}" }}`, destination: 'sub/out' }],
    });
    await waitFor('the first render', () => readOr(out) === 'w1', slowly(agent.output));
    rmSync(sub, { recursive: true });
    writeFileSync(sub, 'in the way');
    await putSecret(name, 'w2');
    const message =
      `coffer agent: template templates[0]: cannot write ${out}: ${sub} is in the way: it is not a directory; ` +
      'keeping the last good file, trying again at the next poll';
    await waitFor('the failed write', () => agent.output().includes(message), slowly(agent.output));
    expect(agent.output()).not.toContain('.tmp');
    // No secret moves from here on: the next poll tries again by itself.
    rmSync(sub);
    await waitFor('the retried write', () => readOr(out) === 'w2', slowly(agent.output));
    expect(statSync(sub).mode & 0o777).toBe(0o700);
    expect(agent.child.exitCode).toBe(null);
  });

  it('fails --once without writing when a secret is missing, and on a template error', async () => {
    const config = writeConfig({ templates: [{ contents: '{{ secret "agent/none-such" }}', destination: 'x' }] });
    const missing = await runCli(['agent', '--config', config, '--once'], { env: agentEnv() });
    expect(missing.code).toBe(3);
    expect(existsSync(path.join(tmp.dir, 'x'))).toBe(false);
    const broken = writeConfig({ templates: [{ contents: 'a\n{{ shell "id" }}', destination: 'x' }] });
    const bad = await runCli(['agent', '--config', broken, '--once'], { env: agentEnv() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('templates[0]:2:4: unknown function "shell"');
  });

  it('--once: fixes a mode without rewriting, fails on a failed command, reads the token from auto_auth env', async () => {
    const name = unique('agent');
    await putSecret(name, 'v1');
    const out = path.join(tmp.dir, 'out');
    const runs = path.join(tmp.dir, 'runs.log');
    const config = writeConfig({
      auto_auth: { method: 'env', variable: 'MY_AGENT_TOKEN' },
      templates: [
        {
          contents: `{{ secret "${name}" }}`,
          destination: 'out',
          command: ['sh', '-c', 'echo run >> "$WORK/runs.log"; exit "$FAIL_WITH"'],
        },
      ],
    });
    const env = agentEnv({ COFFER_TOKEN: '', MY_AGENT_TOKEN: current().rootToken, FAIL_WITH: '0' });
    expect((await runCli(['agent', '--config', config, '--once'], { env })).code).toBe(0);
    expect(lines(runs)).toHaveLength(1);
    const inode = statSync(out).ino;

    await chmod(out, 0o644);
    expect((await runCli(['agent', '--config', config, '--once'], { env })).code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(statSync(out).ino).toBe(inode);
    expect(lines(runs)).toHaveLength(1);

    await putSecret(name, 'v2');
    const failed = await runCli(['agent', '--config', config, '--once'], { env: { ...env, FAIL_WITH: '3' } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('exited with status 3');
    expect(readFileSync(out, 'utf8')).toBe('v2');

    const noToken = await runCli(['agent', '--config', config, '--once'], { env: { ...env, MY_AGENT_TOKEN: '' } });
    expect(noToken.code).toBe(4);
    const exec = writeConfig({ exec: { command: ['true'] } });
    expect((await runCli(['agent', '--config', exec, '--once'], { env })).code).toBe(2);
  }, 180_000);

  it('signals the process in pid_file after a change, and polls at once on SIGHUP', async () => {
    const name = unique('agent');
    await putSecret(name, 'a');
    const marker = path.join(tmp.dir, 'hups.log');
    const pidFile = path.join(tmp.dir, 'app.pid');
    // A stand-in for a server that reloads on SIGHUP.
    const app = spawn(
      'sh',
      ['-c', 'trap \'echo hup >> "$MARKER"\' HUP; echo $$ > "$PIDFILE"; while :; do sleep 0.05; done'],
      {
        env: { ...process.env, MARKER: marker, PIDFILE: pidFile },
        stdio: 'ignore',
      },
    );
    try {
      await waitFor('the app', () => readOr(pidFile).trim() === String(app.pid), slowly());
      const agent = startAgent({
        poll_interval: '1h',
        templates: [{ contents: `{{ secret "${name}" }}`, destination: 'out', signal: { pid_file: 'app.pid' } }],
      });
      await waitFor('the first signal', () => lines(marker).length === 1, slowly(agent.output));
      await putSecret(name, 'b');
      // The next scheduled poll is an hour away: SIGHUP makes the agent poll now.
      agent.child.kill('SIGHUP');
      await waitFor('the render after SIGHUP', () => readOr(path.join(tmp.dir, 'out')) === 'b', slowly(agent.output));
      await waitFor('the second signal', () => lines(marker).length === 2, slowly(agent.output));
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      app.kill('SIGKILL');
    }
  });

  it('exec mode with restart_on_secret_changes "never" keeps the child', async () => {
    const name = unique('agent');
    await putSecret(name, 'n1');
    const seen = path.join(tmp.dir, 'seen.log');
    const agent = startAgent({
      poll_interval: '100ms',
      exec: {
        command: ['sh', '-c', 'echo "$V" >> "$WORK/seen.log"; exec sleep 600'],
        env: { V: name },
        restart_on_secret_changes: 'never',
      },
    });
    await waitFor('the child', () => lines(seen).length === 1, slowly(agent.output));
    const second = await putSecret(name, 'n2');
    await waitFor(
      'the agent to fetch the new version',
      () => audited('secret.read', name).some((r) => r.response?.versionId === second),
      slowly(agent.output),
    );
    const polls = audited('secret.describe', name).length;
    await waitFor('more polls', () => audited('secret.describe', name).length >= polls + 3, slowly(agent.output));
    expect(lines(seen)).toEqual(['n1']);
  });

  it('exec mode kills a child that ignores the stop signal after restart_kill_timeout', async () => {
    const name = unique('agent');
    await putSecret(name, 'k1');
    const seen = path.join(tmp.dir, 'seen.log');
    const agent = startAgent({
      poll_interval: '100ms',
      exec: {
        command: ['sh', '-c', 'trap "" TERM; echo "$$ $V" >> "$WORK/seen.log"; while :; do sleep 0.05; done'],
        env: { V: name },
        restart_kill_timeout: '300ms',
      },
    });
    await waitFor('the child', () => lines(seen).length === 1, slowly(agent.output));
    await putSecret(name, 'k2');
    await waitFor('the restarted child', () => lines(seen).length === 2, slowly(agent.output));
    const [firstPid] = lines(seen)[0]!.split(' ');
    const [secondPid, value] = lines(seen)[1]!.split(' ');
    expect(value).toBe('k2');
    expect(agent.output()).toContain('SIGKILL');
    expect(() => process.kill(Number(firstPid), 0)).toThrow();
    // This child ignores SIGTERM too; end it here so the agent exits with it.
    process.kill(Number(secondPid), 'SIGKILL');
    expect(await agent.exited).toBe(137);
  });

  it('runs the local secrets cache sidecar with the agent’s token', async () => {
    const name = unique('agent');
    await putSecret(name, 'cached-value');
    const agent = startAgent({ cache: { port: 0 } }, { AWS_SESSION_TOKEN: 'session-xyz' });
    let address = '';
    await waitFor(
      'the cache to listen',
      () => {
        address = /secrets cache listening on (http:\/\/[\d.]+:\d+)/.exec(agent.output())?.[1] ?? '';
        return address !== '';
      },
      slowly(agent.output),
    );
    const url = `${address}/secretsmanager/get?secretId=${encodeURIComponent(name)}`;
    const ok = await fetch(url, { headers: { 'x-aws-parameters-secrets-token': 'session-xyz' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { SecretString: string }).SecretString).toBe('cached-value');
    const refused = await fetch(url, { headers: { 'x-aws-parameters-secrets-token': 'wrong' } });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await refused.text();

    const once = await runCli(['agent', '--config', writeConfig({ cache: { port: 0 } }), '--once'], {
      env: agentEnv(),
    });
    expect(once.code).toBe(2);
  });

  it('exec mode injects env, restarts the child after a change and forwards SIGTERM', async () => {
    const name = unique('agent');
    await putSecret(name, JSON.stringify({ password: 'exec-1' }));
    const seen = path.join(tmp.dir, 'seen.log');
    const agent = startAgent({
      poll_interval: '100ms',
      exec: {
        command: [
          'sh',
          '-c',
          'echo "$$ $DB $(test -n "$COFFER_TOKEN" && echo token)" >> "$WORK/seen.log"; exec sleep 600',
        ],
        env: { DB: `${name}#password` },
        restart_kill_timeout: '5s',
      },
    });
    await waitFor('the child', () => lines(seen).length === 1, slowly(agent.output));
    const [firstPid, firstValue, leaked] = lines(seen)[0]!.split(' ');
    expect(firstValue).toBe('exec-1');
    expect(leaked).toBe('');

    await putSecret(name, JSON.stringify({ password: 'exec-2' }));
    await waitFor('the restarted child', () => lines(seen).length === 2, slowly(agent.output));
    const [secondPid, secondValue] = lines(seen)[1]!.split(' ');
    expect(secondValue).toBe('exec-2');
    expect(secondPid).not.toBe(firstPid);
    expect(() => process.kill(Number(firstPid), 0)).toThrow();

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(143);
    expect(() => process.kill(Number(secondPid), 0)).toThrow();
  });

  it('exec mode exits with the child’s status when it exits on its own', async () => {
    const name = unique('agent');
    await putSecret(name, 'v');
    const agent = startAgent({ exec: { command: ['sh', '-c', 'exit 9'], env: { V: name } } });
    expect(await agent.exited).toBe(9);
  });

  it('renews a short-lived token and picks up a new token from the token file', async () => {
    const name = unique('agent');
    await putSecret(name, 'r1');
    const created = await api(current().address, current().rootToken, 'POST', '/v1/auth/token/create', {
      // Long enough for the agent to start on a loaded machine, short enough that it must renew during the test.
      ttl: '15s',
      explicitMaxTtl: '1h',
    });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    const firstExpiry = Date.parse(created.body.expiresAt as string);
    const tokenFile = path.join(tmp.dir, 'token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const out = path.join(tmp.dir, 'out');
    const agent = startAgent(
      {
        auto_auth: { method: 'token_file', path: 'token' },
        poll_interval: '200ms',
        templates: [{ contents: `{{ secret "${name}" }}`, destination: 'out' }],
      },
      { COFFER_TOKEN: '' },
    );
    await waitFor('the first render', () => readOr(out) === 'r1', slowly(agent.output));

    const expiry = async () => {
      const looked = await api(current().address, current().rootToken, 'POST', '/v1/auth/token/lookup', { token });
      return looked.status === 200 ? Date.parse(looked.body.expiresAt as string) : 0;
    };
    await waitFor('a renewal', async () => (await expiry()) > firstExpiry, slowly(agent.output));
    // Past the original expiry, the agent still reads with its renewed token.
    await waitFor('the original expiry to pass', () => Date.now() > firstExpiry + 500, slowly());
    await putSecret(name, 'r2');
    await waitFor('a render with the renewed token', () => readOr(out) === 'r2', slowly(agent.output));
    expect(agent.output()).toContain('renewed the token');

    // Replace the token: revoke the old one, write a new one; the agent switches without a restart.
    const next = await api(current().address, current().rootToken, 'POST', '/v1/auth/token/create', { ttl: '1h' });
    expect((await api(current().address, current().rootToken, 'POST', '/v1/auth/token/revoke', { token })).status).toBe(
      204,
    );
    writeFileSync(tokenFile, next.body.token as string);
    await putSecret(name, 'r3');
    await waitFor('a render with the new token', () => readOr(out) === 'r3', slowly(agent.output));
    expect(agent.output()).toContain('the token file changed');
    expect(agent.output()).not.toContain(token);
  }, 180_000);
});
