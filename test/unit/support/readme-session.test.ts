import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockMode, ShellBlock } from '../../support/readme-blocks.ts';
import { missingTools, README_PORTS, ReadmeSession } from '../../support/readme-session.ts';

let line = 0;
function block(code: string, mode: BlockMode = { kind: 'run', aws: false }): ShellBlock {
  line += 10;
  return { line, heading: 'Test', code: `${code}\n`, mode };
}

describe('Class: ReadmeSession', () => {
  let session: ReadmeSession | undefined;
  afterEach(async () => {
    await session?.close();
    session = undefined;
  });

  it('carries variables (exported or not) and the working directory from one block to the next', async () => {
    session = await ReadmeSession.open();
    await session.run(block('mkdir sub && cd sub\nPLAIN="two words"\nexport EXPORTED=yes\nCOUNT=(a b)'));
    const out = await session.run(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
      block('echo "$PWD|$PLAIN|$EXPORTED|${COUNT[1]}"; bash -c \'echo "child:$EXPORTED"\''),
    );
    expect(out).toBe(`${path.join(session.dir, 'sub')}|two words|yes|b\nchild:yes\n`);
  });

  it('runs each block with set -euo pipefail, and names the failed block with its output', async () => {
    session = await ReadmeSession.open();
    await expect(session.run(block('echo before\nfalse\necho after'))).rejects.toThrow(
      /README\.md:\d+ \(Test\) exited 1\n--- block ---\necho before\nfalse\necho after\n--- output ---\nbefore$/,
    );
    await expect(session.run(block('echo "$UNSET_VARIABLE"'))).rejects.toThrow(/unbound variable/);
    await expect(session.run(block('false | cat'))).rejects.toThrow(/exited 1/);
  });

  it('never shows a token in a failure, the root token of its node in particular', async () => {
    session = await ReadmeSession.open();
    mkdirSync(path.join(session.dir, '.coffer'));
    writeFileSync(path.join(session.dir, '.coffer', 'root-token'), 'cft_rootrootrootrootroot\n');
    writeFileSync(path.join(session.dir, 'child.json'), '{"token":"cft_childchildchildchild"}');
    const failed = session.run(block('echo "token $(cat child.json), root $(cat .coffer/root-token)"; exit 3'));
    await expect(failed).rejects.toThrow(/token \{"token":"cft_<redacted>"\}, root cft_<redacted>/);
    await expect(failed).rejects.not.toThrow(/childchild|rootroot/);
  });

  it("moves the README's ports to free ones, in the text and in COFFER_PORT / COFFER_ADDR", async () => {
    session = await ReadmeSession.open();
    const { coffer, postgres } = session.ports;
    expect([coffer, postgres]).not.toContain(README_PORTS.coffer);
    expect([coffer, postgres]).not.toContain(README_PORTS.postgres);
    const out = await session.run(block('echo http://127.0.0.1:8270 --port 5433 82700 "$COFFER_PORT" "$COFFER_ADDR"'));
    expect(out).toBe(`http://127.0.0.1:${coffer} --port ${postgres} 82700 ${coffer} http://127.0.0.1:${coffer}\n`);
  });

  it('maps npx coffer to this checkout and keeps the machine’s AWS settings out', async () => {
    const before = process.env.AWS_PROFILE;
    process.env.AWS_PROFILE = 'the-machines-own';
    try {
      session = await ReadmeSession.open();
    } finally {
      if (before === undefined) delete process.env.AWS_PROFILE;
      else process.env.AWS_PROFILE = before;
    }
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
    const out = await session.run(block('type npx npm | grep -c README_COFFER_BIN; echo "${AWS_PROFILE:-none}"'));
    expect(out).toBe('2\nnone\n');
  });

  it('starts a server block in the background once it listens, and replaces it with a later one of its name', async () => {
    session = await ReadmeSession.open();
    const server = { kind: 'server', name: 'server', aws: false } as const;
    await session.run(block('touch marker'));
    await session.start(
      block('trap "rm -f marker; exit 0" TERM; echo "listening on one"; while :; do sleep 0.1; done', server),
    );
    expect(session.output('server')).toBe('listening on one\n');
    expect(existsSync(path.join(session.dir, 'marker'))).toBe(true);
    await session.start(block('echo "listening on two"; exec sleep 60', server));
    // The first one got SIGTERM and was gone before the second started.
    expect(existsSync(path.join(session.dir, 'marker'))).toBe(false);
    expect(session.output('server')).toBe('listening on two\n');
  });

  it('fails a server block that exits before it listens, showing what it printed', async () => {
    session = await ReadmeSession.open();
    const server = { kind: 'server', name: 'server', aws: false } as const;
    await expect(session.start(block('echo "port in use" >&2; exit 1', server))).rejects.toThrow(
      /exited \(1\) before listening[\s\S]*port in use/,
    );
  });
});

describe('Function: missingTools', () => {
  it('names the commands bash cannot find', () => {
    expect(missingTools(['bash', 'no-such-command-coffer'])).toEqual(['no-such-command-coffer']);
  });
});
