import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../lambdas/agent/config.ts';

const base = { templates: [{ contents: 'x', destination: 'out.txt' }] };

describe('Function: parseAgentConfig', () => {
  it('applies defaults and resolves paths against the config directory', () => {
    const config = parseAgentConfig({ ...base, auto_auth: { method: 'token_file', path: 'token' } }, '/etc/coffer');
    expect(config.poll_interval).toBe(30_000);
    expect(config.templates[0]).toMatchObject({ destination: '/etc/coffer/out.txt', perms: 0o600 });
    expect(config.auto_auth).toEqual({ method: 'token_file', path: '/etc/coffer/token' });
    // Templates' commands run there.
    expect(config.directory).toBe('/etc/coffer');
    expect(parseAgentConfig(base, 'conf').directory).toBe(path.resolve('conf'));
  });

  it('reads durations with units and octal modes', () => {
    const config = parseAgentConfig(
      {
        poll_interval: '250ms',
        templates: [{ source: '/t.tpl', destination: '/o', perms: '0640', command_timeout: '2m' }],
      },
      '/',
    );
    expect(config.poll_interval).toBe(250);
    expect(config.templates[0]).toMatchObject({ perms: 0o640, command_timeout: 120_000 });
  });

  it('reads the cache sidecar with its extra Host names, none by default', () => {
    expect(parseAgentConfig({ cache: { port: 2773 } }, '/').cache).toEqual({
      port: 2773,
      host: '127.0.0.1',
      allowed_hosts: [],
    });
    const named = parseAgentConfig({ cache: { port: 0, allowed_hosts: ['secrets-cache'] } }, '/');
    expect(named.cache?.allowed_hosts).toEqual(['secrets-cache']);
    expect(() => parseAgentConfig({ cache: { port: 0, allowed_hosts: ['http://x/'] } }, '/')).toThrow(/allowed_hosts/);
  });

  it('parses exec env references and defaults the restart policy', () => {
    const config = parseAgentConfig({ exec: { command: ['app'], env: { DB: 'prod/db#password' } } }, '/');
    expect(config.exec).toMatchObject({
      restart_on_secret_changes: 'always',
      restart_stop_signal: 'SIGTERM',
      restart_kill_timeout: 10_000,
      env: { DB: { name: 'prod/db', field: 'password', stage: 'AWSCURRENT' } },
    });
  });

  it("resolves exec.env_file against the config file's directory", () => {
    const config = parseAgentConfig({ exec: { command: ['app'], env_file: '.env' } }, '/srv/app');
    expect(config.exec?.env_file).toBe(path.resolve('/srv/app', '.env'));
    expect(parseAgentConfig({ exec: { command: ['app'] } }, '/').exec?.env_file).toBeUndefined();
  });

  it.each([
    [{}, /nothing to do/],
    [{ exec: { command: ['a'], env_file: '' } }, /exec\.env_file/],
    [{ templates: [{ destination: '/o' }] }, /exactly one of source or contents/],
    [{ templates: [{ source: 'a', contents: 'b', destination: '/o' }] }, /exactly one of source or contents/],
    [{ ...base, poll_interval: '1d' }, /poll_interval/],
    [{ ...base, poll_interval: '5ms' }, /at least 10ms/],
    [{ templates: [{ contents: 'x', destination: '/o', perms: 600 }] }, /perms/],
    [{ templates: [{ contents: 'x', destination: '/o', perms: '0999' }] }, /perms/],
    [{ ...base, surprise: true }, /surprise|unrecognized/i],
    [{ exec: { command: [] } }, /exec\.command/],
    [{ exec: { command: ['a'], env: { 'BAD-NAME': 'x' } } }, /exec\.env/],
    [{ exec: { command: ['a'], env: { A: 'x#' } } }, /empty field/],
    [{ exec: { command: ['a'], restart_on_secret_changes: 'sometimes' } }, /restart_on_secret_changes/],
    [{ ...base, auto_auth: { method: 'approle' } }, /auto_auth/],
    [
      {
        templates: [
          { contents: 'a', destination: 'same' },
          { contents: 'b', destination: './same' },
        ],
      },
      /two templates write/,
    ],
    [
      { ...base, templates: [{ contents: 'x', destination: '/o', signal: { name: 'SIGNOPE', pid_file: 'p' } }] },
      /signal/,
    ],
  ])('rejects %j', (input, error) => {
    expect(() => parseAgentConfig(input, '/etc')).toThrow(error);
  });
});
