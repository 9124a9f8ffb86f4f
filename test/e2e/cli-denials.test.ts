import { describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/** Issue 18: the CLI says why a request was refused, and refuses credentials naming policies that do not exist. */

const current = useServer();
const cli = (args: string[], token = current().rootToken, input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: token }, input });

describe('coffer: why a request was denied', () => {
  it('secret get prints the policy, rule and failed condition of the caller, and exits 4', async () => {
    const { address, rootToken } = current();
    const office = '10.20.0.0/16';
    await api(address, rootToken, 'PUT', '/v1/sys/policies/ci-read', {
      rules: [{ path: 'secrets/prod/*', capabilities: ['read'], conditions: { sourceCidrs: [office] } }],
    });
    expect((await cli(['secret', 'put', 'prod/db'], rootToken, 'denial-canary-value')).code).toBe(0);
    const created = await cli(['token', 'create', '--policy', 'ci-read', '-o', 'json']);
    expect(created.code).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };

    const denied = await cli(['secret', 'get', 'prod/db'], token);
    expect(denied.code).toBe(4);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toContain('permission denied: read on secrets/prod/db: policy "ci-read" rules[0]');
    expect(denied.stderr).toContain('("secrets/prod/*") grants read but its condition sourceCidrs');
    expect(denied.stderr).toMatch(/this request's source address \S+ is in none of them/);
    expect(denied.stderr).not.toContain(office);
    expect(denied.stderr).not.toContain('denial-canary-value');

    // A secret that does not exist is refused alike.
    const missing = await cli(['secret', 'get', 'prod/nope'], token);
    expect(missing.code).toBe(4);
    expect(missing.stderr.replaceAll('prod/nope', 'prod/db')).toBe(denied.stderr);
  });
});

describe('coffer access-key create: policies must exist', () => {
  it('refuses a policy that does not exist, naming it, and creates no key', async () => {
    const refused = await cli(['access-key', 'create', '--principal', 'ci-pipeline', '--policy', 'no-such-policy']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('policy "no-such-policy" does not exist');
    const listed = await cli(['access-key', 'list', '-o', 'json']);
    expect(listed.stdout).not.toContain('ci-pipeline');
  });

  it('accepts the built-in root policy and a policy once it exists', async () => {
    const { address, rootToken } = current();
    const before = await cli(['access-key', 'create', '--principal', 'deployer', '--policy', 'deploy', '-o', 'json']);
    expect(before.code).toBe(2);
    await api(address, rootToken, 'PUT', '/v1/sys/policies/deploy', {
      rules: [{ path: 'secrets/deploy/*', capabilities: ['read'] }],
    });
    const after = await cli(['access-key', 'create', '--principal', 'deployer', '--policy', 'deploy', '-o', 'json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ principal: 'deployer', policies: ['deploy'] });
    const root = await cli(['access-key', 'create', '--principal', 'admin', '--policy', 'root', '-o', 'json']);
    expect(root.code).toBe(0);
  });
});
