import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/server-process.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

// What a shell asks of the compiled CLI before any server exists: its version and its completion script.
describe('coffer CLI in the shell', () => {
  it.each(['--version', '-V'])('prints its name and the package version for %s', async (flag) => {
    const result = await runCli([flag]);
    expect(result).toEqual({ code: 0, stdout: `coffer ${version}\n`, stderr: '' });
  });

  it('prints a bash completion script that bash loads and that completes the commands', async () => {
    const result = await runCli(['completion', 'bash']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const completes = spawnSync(
      'bash',
      ['-c', `${result.stdout}\nCOMP_WORDS=(coffer sec); COMP_CWORD=1; _coffer; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { encoding: 'utf8' },
    );
    expect(completes.stderr).toBe('');
    expect(completes.stdout).toBe('secret\n');
  });

  it('says how to install the script, and refuses a shell it has no script for', async () => {
    expect((await runCli(['completion', '--help'])).stdout).toContain('source <(coffer completion bash)');
    const refused = await runCli(['completion', 'ksh']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('unknown shell ksh');
  });
});
