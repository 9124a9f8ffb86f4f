import { describe, expect, it } from 'vitest';
import { childEnvironment, exitStatus, spawnFailureStatus } from '../../../lambdas/agent/child-process.ts';

describe('Function: exitStatus', () => {
  it('is the exit code, or 128 plus the signal number', () => {
    expect(exitStatus(7, null)).toBe(7);
    expect(exitStatus(0, null)).toBe(0);
    expect(exitStatus(null, 'SIGTERM')).toBe(143);
    expect(exitStatus(null, 'SIGKILL')).toBe(137);
  });
});

describe('Function: childEnvironment', () => {
  it('adds the variables, drops the Coffer token and leaves the base untouched', () => {
    const base = { PATH: '/bin', COFFER_TOKEN: 'cft_x', COFFER_ADDR: 'http://h' };
    const env = childEnvironment(base, new Map([['DB', 'v']]));
    expect(env).toEqual({ PATH: '/bin', COFFER_ADDR: 'http://h', DB: 'v' });
    expect(base).toEqual({ PATH: '/bin', COFFER_TOKEN: 'cft_x', COFFER_ADDR: 'http://h' });
  });
});

describe('Function: childEnvironment with a NUL byte', () => {
  it('refuses the value without quoting it', () => {
    const run = () => childEnvironment({}, { DB: 'abc\0secret-tail' });
    expect(run).toThrow(/value for DB contains a NUL byte/);
    expect(run).not.toThrow(/secret-tail/);
  });
});

describe('Function: spawnFailureStatus', () => {
  it('uses the shell statuses', () => {
    expect(spawnFailureStatus(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(127);
    expect(spawnFailureStatus(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(126);
  });
});
