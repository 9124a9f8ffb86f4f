import { defineConfig } from 'vitest/config';

/**
 * Suites that talk to the AWS emulator. Only their projects (`integration-aws`, `e2e-aws`) start one, so a unit run
 * or a local integration run never does. `test/contract/*.contract.ts` are no suites of their own: each is imported
 * by the tests of the adapters that implement its port, in whichever project those tests belong to.
 */
const AWS_SUITES = {
  integration: ['test/integration/aws/**/*.test.ts'],
  e2e: ['test/e2e/aws-creds.test.ts', 'test/e2e/readme-aws.test.ts', 'test/e2e/import-aws.test.ts'],
};

const AWS_EMULATOR = ['test/support/aws-global-setup.ts'];

export default defineConfig({
  test: {
    // Integration and end-to-end suites spawn real servers; the machines are small and noisy.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    allowOnly: false,
    // CI reads the closing summary from this file (see .ci/run).
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    // `--project 'integration*'` selects a kind with its AWS half (the npm scripts test:unit, test:integration, test:e2e).
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], exclude: AWS_SUITES.integration },
      },
      {
        extends: true,
        test: { name: 'integration-aws', include: AWS_SUITES.integration, globalSetup: AWS_EMULATOR },
      },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: AWS_SUITES.e2e } },
      { extends: true, test: { name: 'e2e-aws', include: AWS_SUITES.e2e, globalSetup: AWS_EMULATOR } },
    ],
  },
});
