import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsEmulator } from '../support/aws-emulator.ts';
import { shellBlocks } from '../support/readme-blocks.ts';
import { ReadmeSession, runBlocksInOrder } from '../support/readme-session.ts';

/**
 * The README's `aws` blocks (see readme.test.ts for how blocks run), in order, in a session of their own against the
 * AWS emulator this project starts: the standard AWS variables (endpoint, region, dummy credentials) are in every
 * block's environment, as the README tells a reader without an account to set them. The node they start reaches
 * STS there; nothing reaches real AWS.
 */

const README = path.resolve(import.meta.dirname, '../../README.md');
const awsBlocks = shellBlocks(readFileSync(README, 'utf8')).filter((b) => b.mode.kind !== 'skip' && b.mode.aws);

describe('README.md, the blocks that need AWS, in order against the emulator', () => {
  let session: ReadmeSession | undefined;
  beforeAll(async () => {
    const { endpoint, region, credentials } = awsEmulator();
    session = await ReadmeSession.open({
      env: {
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      },
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('starts its own node first (the session shares nothing with the other walkthroughs), then runs some', () => {
    expect(awsBlocks[0]?.mode.kind).toBe('server');
    expect(awsBlocks.filter((b) => b.mode.kind === 'run').length).toBeGreaterThan(0);
  });

  runBlocksInOrder(awsBlocks, () => session!);
});
