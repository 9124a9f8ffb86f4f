import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent } from '../../../lambdas/agent/agent.ts';
import { parseAgentConfig } from '../../../lambdas/agent/config.ts';
import { CliError, ExitCode } from '../../../lambdas/agent/exit-codes.ts';
import type { ApiCall } from '../../../lambdas/agent/secret-source.ts';
import { tempDir } from '../../support/server-process.ts';

/** The three calls the agent makes, answered from `values` (one version per value; a new value is a new version). */
function fakeServer(values: Map<string, string>): (token: string | undefined) => ApiCall {
  return () =>
    (async (method: string, urlPath: string) => {
      if (method === 'GET' && urlPath === '/v1/auth/token/lookup-self') {
        return { expiresAt: null, maxExpiresAt: null, renewable: false };
      }
      const [, kind, name] = /^\/v1\/secret\/(metadata|data)\/(.+)$/.exec(urlPath) ?? [];
      const value = values.get(decodeURIComponent(name ?? ''));
      if (value === undefined) throw new CliError(`no such call or secret: ${method} ${urlPath}`, ExitCode.notFound);
      const versionId = `v-${Buffer.from(value).toString('hex')}`;
      return kind === 'metadata' ? { versionIdsToStages: { [versionId]: ['AWSCURRENT'] } } : { versionId, value };
    }) as ApiCall;
}

describe('Function: runAgent', () => {
  let tmp: { dir: string; cleanup: () => void };
  let logs: string[];
  beforeEach(() => {
    tmp = tempDir('coffer-agent-unit-');
    logs = [];
  });
  afterEach(() => tmp.cleanup());

  const run = (config: object, values: Map<string, string>, options: { once?: boolean; log?: (m: string) => void }) =>
    runAgent({
      config: parseAgentConfig(config, tmp.dir),
      address: 'http://127.0.0.1:1',
      token: { kind: 'static', token: 'cft_test', origin: 'test' },
      api: fakeServer(values),
      once: options.once ?? true,
      env: { PATH: process.env.PATH },
      log: (message) => {
        logs.push(message);
        options.log?.(message);
      },
    });

  it('creates a destination’s missing directories (0700) and runs its command in the config file’s directory', async () => {
    writeFileSync(path.join(tmp.dir, 'hook.sh'), 'pwd > "$1"\n');
    chmodSync(path.join(tmp.dir, 'hook.sh'), 0o755);
    expect(realpathSync(process.cwd())).not.toBe(realpathSync(tmp.dir));
    const status = await run(
      {
        templates: [
          // A relative program and a relative argument: both mean the config file's directory.
          { contents: '{{ secret "app/db" }}', destination: 'run/app/db.conf', command: ['./hook.sh', 'ran-in'] },
        ],
      },
      new Map([['app/db', 'pw']]),
      {},
    );
    expect(status).toBe(ExitCode.ok);
    expect(readFileSync(path.join(tmp.dir, 'run/app/db.conf'), 'utf8')).toBe('pw');
    expect(statSync(path.join(tmp.dir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(tmp.dir, 'run/app')).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(tmp.dir, 'ran-in'), 'utf8').trim()).toBe(realpathSync(tmp.dir));
  });

  it('fails at start with an error naming the template and its destination, not the temporary file', async () => {
    writeFileSync(path.join(tmp.dir, 'app.tpl'), '{{ secret "app/db" }}');
    writeFileSync(path.join(tmp.dir, 'blocked'), 'a file where a directory should be');
    const values = new Map([['app/db', 'pw']]);
    const inline = run({ templates: [{ contents: 'x', destination: 'blocked/out' }] }, values, {});
    await expect(inline).rejects.toThrow(CliError);
    await expect(inline).rejects.toMatchObject({
      exitCode: ExitCode.failure,
      message: `template templates[0]: cannot write ${path.join(tmp.dir, 'blocked/out')}: ${path.join(tmp.dir, 'blocked')} is in the way: it is not a directory`,
    });
    mkdirSync(path.join(tmp.dir, 'dir-instead', 'inside'), { recursive: true });
    const fromFile = run(
      {
        templates: [
          { contents: 'ok', destination: 'fine' },
          { source: 'app.tpl', destination: 'dir-instead' },
        ],
      },
      values,
      {},
    );
    await expect(fromFile).rejects.toThrow(
      `template ${path.join(tmp.dir, 'app.tpl')}: cannot write ${path.join(tmp.dir, 'dir-instead')}: it is a directory (EISDIR)`,
    );
    expect(logs.join('\n')).not.toContain('.tmp');
  });

  it('logs a later failed write, and writes the file at a later poll without a secret change', async () => {
    const values = new Map([['app/db', 'one']]);
    const sub = path.join(tmp.dir, 'sub');
    const out = path.join(sub, 'out');
    const stop = path.join(tmp.dir, 'stop');
    let renders = 0;
    let failures = 0;
    const status = await run(
      {
        poll_interval: '20ms',
        templates: [{ contents: '{{ secret "app/db" }}', destination: 'sub/out' }],
        // A child that ends the agent when the test is done: exec mode exits with it.
        exec: { command: ['sh', '-c', `while [ ! -e '${stop}' ]; do sleep 0.02; done`] },
      },
      values,
      {
        once: false,
        log: (message) => {
          if (message === `rendered ${out}`) renders++;
          if (message === `rendered ${out}` && renders === 1) {
            // A file now stands where the directory was, and the secret moves.
            rmSync(sub, { recursive: true });
            writeFileSync(sub, 'in the way');
            values.set('app/db', 'two');
          } else if (message.startsWith('template templates[0]: cannot write')) {
            failures++;
            expect(readFileSync(sub, 'utf8')).toBe('in the way');
            if (failures === 2) rmSync(sub);
          } else if (message === `rendered ${out}`) {
            writeFileSync(stop, '');
          }
        },
      },
    );
    expect(status).toBe(0);
    expect(renders).toBe(2);
    expect(failures).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('two');
    expect(logs).toContain(
      `template templates[0]: cannot write ${out}: ${sub} is in the way: it is not a directory; keeping the last good file, trying again at the next poll`,
    );
    expect(existsSync(stop)).toBe(true);
  });
});
