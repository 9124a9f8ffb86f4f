import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstCommand, shellBlocks } from '../support/readme-blocks.ts';
import { missingTools, ReadmeSession, runBlocksInOrder } from '../support/readme-session.ts';

/**
 * README.md cannot drift: every `sh` block runs, in order, as a reader following it would, against a fresh node.
 *
 * - One session for the whole file (test/support/readme-session.ts): a fresh working directory (where `.coffer/` and
 *   the walkthroughs' files land), each block in its own `bash` with `set -euo pipefail`, and what a reader's shell
 *   keeps between blocks (variables, the working directory) carried over. Each block must exit 0; a failure names
 *   its README line and heading and shows its output (tokens redacted). Later blocks then report that one.
 * - Ports: the README's defaults (8270 for the server, 5433 for `coffer dev postgres`) are never bound here. Every
 *   block's text has them replaced by free ports, and COFFER_PORT / COFFER_ADDR point `npm start` and the CLI at the
 *   session's port, since `npm start` and `npx coffer` name none.
 * - `npx coffer` runs this checkout's bin/coffer.mjs (the build is fresh: e2e runs refuse a stale one), `npm start`
 *   its server, `npm ci` is a no-op (CI has run it), `npx cdk` runs in the checkout with its output in the session.
 * - Annotations (test/support/readme-blocks.ts): `server` blocks run in the background until a later one of the same
 *   name replaces them or the file ends; `aws` blocks run in readme-aws.test.ts, against the AWS emulator, in a
 *   session of their own (so they must not depend on the other walkthroughs); `skip` blocks are listed below, reasons
 *   and all, so a block cannot quietly stop running.
 */

const README = path.resolve(import.meta.dirname, '../../README.md');
const blocks = shellBlocks(readFileSync(README, 'utf8'));

/** The only blocks that do not run, by first command, with the reason each gives. */
const SKIPPED = [
  [
    'npm ci && npm test      # typecheck, lint, layer rules and every test suite',
    "the whole test suite, this README's test included: CI runs it",
  ],
  ['npx cdk bootstrap                                       # once per account and region', 'needs an AWS account'],
  [
    'npm run build       # compile the CLI (with server and agent), the extension and the package exports to dist/',
    'development commands on the checkout itself, which npm test runs (bench takes minutes)',
  ],
];

describe('README.md', () => {
  it('skips only what cannot run in a test, and says why', () => {
    const skipped = blocks.flatMap((b) => (b.mode.kind === 'skip' ? [[firstCommand(b), b.mode.reason]] : []));
    expect(skipped).toEqual(SKIPPED);
  });

  it('finds the programs its blocks call besides node (.ci/run installs the aws CLI and openssl)', () => {
    expect(missingTools(['bash', 'curl', 'openssl', 'aws'])).toEqual([]);
  });

  it('has a walkthrough block for every capability the tour names', () => {
    const commands = blocks.map((b) => b.code).join('\n');
    for (const needle of [
      'npm start',
      'npx coffer secret create',
      'npx coffer policy put',
      'npx coffer token create',
      'npx coffer dev postgres',
      'npx coffer db role put',
      'npx coffer creds get db/',
      'npx coffer pki issue',
      'npx coffer secret rotate',
      'aws secretsmanager get-secret-value',
      'npx coffer run',
      'npx coffer agent',
      'npx coffer aws role put',
      'npx cdk synth',
    ]) {
      expect(commands, needle).toContain(needle);
    }
  });
});

describe('README.md, every shell block in order', () => {
  let session: ReadmeSession | undefined;
  beforeAll(async () => {
    session = await ReadmeSession.open();
  });
  afterAll(async () => {
    await session?.close();
  });
  runBlocksInOrder(
    blocks.filter((b) => b.mode.kind !== 'skip' && !b.mode.aws),
    () => session!,
  );
});
