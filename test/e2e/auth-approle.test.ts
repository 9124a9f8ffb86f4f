import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonLines } from '../support/json-lines.js';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/** Issue 12: AppRole from the CLI, against the real server: enable, role, role id + secret id, login, use. */

const current = useServer();
const cli = (args: string[], options: { token?: string; input?: string } = {}) =>
  runCli(args, {
    env: { COFFER_ADDR: current().address, COFFER_TOKEN: options.token ?? current().rootToken },
    ...(options.input === undefined ? {} : { input: options.input }),
  });

interface AuditLine {
  type: string;
  operation: string;
  outcome?: string;
  path: string;
  denied?: { path: string; reason?: string };
}
const auditLines = (): AuditLine[] => readJsonLines<AuditLine>(path.join(current().dataDir, 'audit', 'audit.log'));

async function ok(args: string[], options: { token?: string; input?: string } = {}): Promise<string> {
  const result = await cli(args, options);
  expect(result.code, `coffer ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

describe('coffer approle: log in as a workload', () => {
  it('enables AppRole, issues a role id and secret id, logs in, and reads only what the role allows', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/sys/policies/web-read', {
      rules: [{ path: 'secrets/web/*', capabilities: ['read'] }],
    });
    await ok(['secret', 'put', 'web/db'], { input: 'web-db-password' });
    await ok(['secret', 'put', 'billing/db'], { input: 'billing-db-password' });

    expect(await ok(['auth', 'enable', 'approle'])).toContain('enabled approle at auth/approle/');
    const mounts = JSON.parse(await ok(['auth', 'list', '-o', 'json'])) as { mounts: { path: string; type: string }[] };
    expect(mounts.mounts.map((m) => `${m.path}:${m.type}`)).toEqual(['approle:approle']);

    await ok([
      'approle',
      'role',
      'put',
      'web',
      '--policy',
      'web-read',
      '--token-ttl',
      '10m',
      '--secret-id-num-uses',
      '2',
    ]);
    expect(await ok(['approle', 'role', 'list'])).toBe('web\n');
    const role = JSON.parse(await ok(['approle', 'role', 'get', 'web', '-o', 'json'])) as {
      role: Record<string, unknown>;
    };
    expect(role.role).toMatchObject({ token_policies: ['web-read'], token_ttl: 600, secret_id_num_uses: 2 });

    const roleId = (await ok(['approle', 'role-id', 'web'])).trim();
    const secret = JSON.parse(await ok(['approle', 'secret-id', 'create', 'web', '-o', 'json'])) as {
      secret_id: string;
    };
    const tmp = tempDir();
    try {
      const secretFile = path.join(tmp.dir, 'secret-id');
      writeFileSync(secretFile, `${secret.secret_id}\n`, { mode: 0o600 });

      // Login from a file; the table shows the token and accessor.
      const table = await ok(['login', '--method', 'approle', '--role-id', roleId, '--secret-id-file', secretFile], {
        token: '',
      });
      expect(table).toMatch(/^token\s+cft_/m);
      expect(table).toMatch(/^accessor\s+acc_/m);
      expect(table).toMatch(/^role\s+approle\/web$/m);

      // Login from stdin, -o json: the whole Vault-shaped answer.
      const answer = JSON.parse(
        await ok(['login', '--method', 'approle', '--role-id', roleId, '-o', 'json'], {
          token: '',
          input: secret.secret_id,
        }),
      ) as { auth: { client_token: string; policies: string[]; lease_duration: number } };
      expect(answer.auth).toMatchObject({ policies: ['web-read'], lease_duration: 600 });
      const token = answer.auth.client_token;

      expect(await ok(['secret', 'get', 'web/db'], { token })).toContain('web-db-password');
      const refused = await cli(['secret', 'get', 'billing/db'], { token });
      expect(refused.code).toBe(4);
      expect(refused.stdout).not.toContain('billing-db-password');

      // The secret id allowed two logins: the third is refused, as a wrong secret id is.
      const exhausted = await cli(
        ['login', '--method', 'approle', '--role-id', roleId, '--secret-id-file', secretFile],
        {
          token: '',
        },
      );
      const wrong = await cli(['login', '--method', 'approle', '--role-id', roleId], {
        token: '',
        input: 'not-the-secret-id',
      });
      for (const result of [exhausted, wrong]) {
        expect(result.code).toBe(4);
        expect(result.stderr).toContain('invalid role id or secret id');
      }
      const alike = (text: string) => text.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>');
      expect(alike(exhausted.stderr)).toBe(alike(wrong.stderr));

      // Every login is audited with method, mount and role; no secret id or token in the log.
      const logins = auditLines().filter((line) => line.operation === 'auth.login' && line.type === 'response');
      expect(logins.map((line) => line.outcome)).toEqual(['ok', 'ok', 'denied', 'denied']);
      expect(logins.slice(2).map((line) => line.denied)).toEqual([
        {
          path: 'auth/approle/login',
          capability: 'update',
          reason: 'approle login at auth/approle (role web) refused: unknown secret id',
        },
        {
          path: 'auth/approle/login',
          capability: 'update',
          reason: 'approle login at auth/approle (role web) refused: unknown secret id',
        },
      ]);
      const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
      expect(log).not.toContain(secret.secret_id);
      expect(log).not.toContain(token);
      expect(log).not.toContain(roleId);

      // --field token, for scripts; disabling the mount revokes what its logins issued.
      const second = JSON.parse(
        await ok(['approle', 'secret-id', 'create', 'web', '--num-uses', '1', '-o', 'json']),
      ) as {
        secret_id: string;
      };
      const bare = (
        await ok(['login', '--method', 'approle', '--role-id', roleId, '--field', 'token'], {
          token: '',
          input: second.secret_id,
        })
      ).trim();
      expect(bare).toMatch(/^cft_[\w-]{43}$/);
      expect(await ok(['auth', 'disable', 'approle'])).toContain('disabled auth/approle/ (3 tokens revoked)');
      expect((await cli(['secret', 'get', 'web/db'], { token: bare })).code).not.toBe(0);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses a login at a mount that does not exist and an unknown method, with clear messages', async () => {
    const missing = await cli(['login', '--method', 'approle', '--path', 'nowhere', '--role-id', 'r'], {
      token: '',
      input: 's',
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no auth method is mounted at nowhere');
    const unknown = await cli(['login', '--method', 'userpass'], { token: '' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('coffer login does not know --method userpass');
  });
});
