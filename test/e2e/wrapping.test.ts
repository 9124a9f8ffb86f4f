import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
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

  it('refuses --wrap-ttl on a command whose answer holds no credential, and changes nothing', async () => {
    const result = await cli(['policy', 'list', '--wrap-ttl', '1m']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot be response-wrapped');
  });
});
