import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/** Issue 12: a secret id delivered response-wrapped, from the CLI against the real server. */

const current = useServer();
const cli = (args: string[], options: { token?: string; input?: string; env?: Record<string, string> } = {}) =>
  runCli(args, {
    env: { COFFER_ADDR: current().address, COFFER_TOKEN: options.token ?? current().rootToken, ...options.env },
    ...(options.input === undefined ? {} : { input: options.input }),
  });

async function ok(args: string[], options: Parameters<typeof cli>[1] = {}): Promise<string> {
  const result = await cli(args, options);
  expect(result.code, `coffer ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

describe('response wrapping from the CLI', () => {
  it('hands a secret id over as a single-use wrapping token that logs in once unwrapped', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/wrap-web', {
      rules: [{ path: 'secrets/wrap/*', capabilities: ['read'] }],
    });
    await ok(['secret', 'put', 'wrap/db'], { input: 'wrapped-db-password' });
    await ok(['auth', 'enable', 'approle', '--path', 'wrap-approle']);
    await ok(['approle', 'role', 'put', 'web', '--path', 'wrap-approle', '--policy', 'wrap-web']);
    const roleId = (await ok(['approle', 'role-id', 'web', '--path', 'wrap-approle'])).trim();

    const wrapped = JSON.parse(
      await ok(['approle', 'secret-id', 'create', 'web', '--path', 'wrap-approle', '--wrap-ttl', '2m', '-o', 'json']),
    ) as { wrap_info: { token: string; ttl: number; creation_path: string } };
    expect(wrapped.wrap_info.token).toMatch(/^cwr\./);
    expect(wrapped.wrap_info).toMatchObject({ ttl: 120, creation_path: 'auth/wrap-approle/role/web/secret-id' });

    // The courier may look without using it up; the receiver opens it from stdin (no token of its own needed).
    const looked = JSON.parse(
      await ok(['wrapping', 'lookup', '-o', 'json'], { input: wrapped.wrap_info.token, token: '' }),
    );
    expect(looked).toMatchObject({ creation_ttl: 120, creation_path: 'auth/wrap-approle/role/web/secret-id' });
    const opened = JSON.parse(await ok(['unwrap', '-o', 'json'], { input: wrapped.wrap_info.token, token: '' })) as {
      secret_id: string;
    };
    expect(opened.secret_id.length).toBeGreaterThan(20);

    // A second unwrap is the alarm: someone else opened it.
    const again = await cli(['unwrap'], { input: wrapped.wrap_info.token, token: '' });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already unwrapped, or expired');

    const login = JSON.parse(
      await ok(['login', '--method', 'approle', '--path', 'wrap-approle', '--role-id', roleId, '-o', 'json'], {
        input: opened.secret_id,
        token: '',
      }),
    ) as { auth: { client_token: string } };
    expect(await ok(['secret', 'get', 'wrap/db'], { token: login.auth.client_token })).toContain('wrapped-db-password');

    // Neither the wrapping token nor the secret id reaches the audit log.
    const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
    expect(log).not.toContain(wrapped.wrap_info.token);
    expect(log).not.toContain(opened.secret_id);
  });

  it('lets the agent unwrap its secret id, and refuses a wrapping token made for anything else', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/wrap-agent', {
      rules: [{ path: 'secrets/wrap/*', capabilities: ['read'] }],
    });
    await ok(['secret', 'put', 'wrap/agent'], { input: 'agent-db-password' });
    await ok(['auth', 'enable', 'approle', '--path', 'wrap-agent']);
    await ok(['approle', 'role', 'put', 'web', '--path', 'wrap-agent', '--policy', 'wrap-agent']);
    const roleId = (await ok(['approle', 'role-id', 'web', '--path', 'wrap-agent'])).trim();
    const wrappedSecretId = async () =>
      (
        JSON.parse(
          await ok(['approle', 'secret-id', 'create', 'web', '--path', 'wrap-agent', '--wrap-ttl', '2m', '-o', 'json']),
        ) as { wrap_info: { token: string } }
      ).wrap_info.token;
    const tmp = tempDir();
    try {
      const file = (name: string) => path.join(tmp.dir, name);
      writeFileSync(file('role-id'), roleId);
      const agent = () => {
        writeFileSync(
          file('agent.json'),
          JSON.stringify({
            auto_auth: {
              method: 'approle',
              mount: 'wrap-agent',
              role_id_file: 'role-id',
              secret_id_file: 'secret-id',
              secret_id_response_wrapping_path: 'auth/wrap-agent/role/web/secret-id',
            },
            templates: [{ contents: '{{ secret "wrap/agent" }}', destination: 'db.conf' }],
          }),
        );
        return runCli(['agent', '--once', '--config', file('agent.json')], {
          env: { COFFER_ADDR: address, COFFER_TOKEN: '' },
        });
      };

      writeFileSync(file('secret-id'), await wrappedSecretId(), { mode: 0o600 });
      const good = await agent();
      expect(good.code, good.stderr).toBe(0);
      expect(readFileSync(file('db.conf'), 'utf8')).toBe('agent-db-password');

      // A wrapping token of another answer (a token someone created for themselves) is refused before it is opened.
      const foreign = JSON.parse(await ok(['token', 'create', '--wrap-ttl', '2m', '-o', 'json'])) as {
        wrap_info: { token: string };
      };
      writeFileSync(file('secret-id'), foreign.wrap_info.token, { mode: 0o600 });
      const bad = await agent();
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('was made at auth/token/create, not auth/wrap-agent/role/web/secret-id');
      expect(bad.stderr).not.toContain(foreign.wrap_info.token);
      expect(existsSync(file('secret-id'))).toBe(true); // left for the operator to look at
      // Still unopened: the lookup answers (an unwrap would have used it up).
      await ok(['wrapping', 'lookup'], { input: foreign.wrap_info.token, token: '' });
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses --wrap-ttl on a command whose answer holds no credential, and changes nothing', async () => {
    const result = await cli(['policy', 'list', '--wrap-ttl', '1m']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot be response-wrapped');
  });
});
