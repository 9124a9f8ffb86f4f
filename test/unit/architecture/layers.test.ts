import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cruise, type IConfiguration, type ICruiseResult } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const config = createRequire(import.meta.url)('../../../.dependency-cruiser.cjs') as IConfiguration;

/**
 * A miniature tree with the repository's folder names: each case is one importing file, so a violation names exactly
 * the edge under test. `npm run layers` proves the real tree clean; this proves the rules would notice if it were not.
 */
const forbidden: Record<string, string> = {
  'lambdas/core/auth/verifier.ts': '../../broker/http-types.ts',
  'lambdas/core/secrets/reader.ts': 'node:fs',
  'lambdas/engines/pki/issuer.ts': '../../adapters/local/pki-keys/store.ts',
  'lambdas/engines/database/plugin.ts': '../aws/aws-engine.ts',
  'lambdas/engines/rotation/certificate/rotator.ts': '../../database/plugin.ts',
  'lambdas/adapters/local/store/sqlite-store.ts': '../../memory/memory-store.ts',
  'lambdas/adapters/aws/kms/kms-ca.ts': '../../../engines/pki/issuer.ts',
  'lambdas/broker/routes/secrets.ts': '../../adapters/aws/dynamodb/store.ts',
  'lambdas/entrypoints/lambda/compose.ts': '../local/compose.ts',
  'lambdas/agent/secret-source.ts': '../entrypoints/cli/api-client.ts',
  'lambdas/agent/cache-sidecar.ts': '../extension/server.ts',
  'lambdas/sdk/client.ts': '../agent/config.ts',
  'lambdas/extension/server.ts': '../broker/http-types.ts',
  'lambdas/api/secrets.ts': '../broker/http-types.ts',
  'lambdas/console/pages/secrets.ts': '../../sdk/client.ts',
  'lambdas/console/api-client.ts': 'node:fs',
  'lib/broker-stack.ts': '../lambdas/entrypoints/lambda/handler.ts',
  'lambdas/entrypoints/local/server.ts': '../../../test/support/fixtures.ts',
  'lambdas/core/a.ts': './b.ts',
  'lambdas/core/b.ts': './a.ts',
};

/** Imports the architecture intends: none may be reported, or the rules would only be obeyed by being ignored. */
const allowed: Record<string, string> = {
  'lambdas/broker/broker.ts': '../engines/pki/issuer.ts',
  'lambdas/engines/aws/aws-engine.ts': '../shared/guarded-socket.ts',
  'lambdas/engines/rotation/certificate/settings.ts': '../../pki/issuer.ts',
  'lambdas/engines/rotation/registry.ts': '../pki/issuer.ts',
  'lambdas/adapters/local/pki-keys/store.ts': '../../../core/ports/ca-key-store.ts',
  'lambdas/extension/run.ts': '../sdk/client.ts',
  'lambdas/agent/agent.ts': '../sdk/client.ts',
  'lambdas/console/app.ts': '../api/secrets.ts',
  'lambdas/entrypoints/local/compose.ts': '../compose-services.ts',
  'lambdas/entrypoints/cli/commands/server.ts': '../../local/compose.ts',
  'lib/coffer-broker.ts': '../lambdas/entrypoints/lambda/deployment-names.ts',
  'lib/coffer-stack.ts': '../lambdas/core/egress/egress-policy.ts',
};

/** Modules that are only imported (they import nothing, so they add no edges of their own). */
const leaves = [
  'lambdas/broker/http-types.ts',
  'lambdas/adapters/memory/memory-store.ts',
  'lambdas/adapters/aws/dynamodb/store.ts',
  'lambdas/engines/shared/guarded-socket.ts',
  'lambdas/core/ports/ca-key-store.ts',
  'lambdas/core/egress/egress-policy.ts',
  'lambdas/entrypoints/cli/api-client.ts',
  'lambdas/entrypoints/compose-services.ts',
  'lambdas/entrypoints/lambda/handler.ts',
  'lambdas/entrypoints/lambda/deployment-names.ts',
  'lambdas/agent/config.ts',
  'lambdas/sdk/client.ts',
  'test/support/fixtures.ts',
];

let root: string;
let violations: ICruiseResult['summary']['violations'];

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'coffer-layers-'));
  const write = (file: string, text: string): void => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  for (const file of leaves) write(file, 'export const leaf = 1;\n');
  for (const [file, target] of Object.entries({ ...forbidden, ...allowed })) {
    write(file, `import * as target from '${target}';\nexport const used = target;\n`);
  }
  const { output } = await cruise(['lambdas', 'lib'], {
    baseDir: root,
    validate: true,
    ruleSet: { forbidden: config.forbidden ?? [] },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
  });
  violations = (output as ICruiseResult).summary.violations;
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The rule names reported for imports made by `from`. */
function rulesBroken(from: string): string[] {
  return violations
    .filter((v) => v.from === from)
    .map((v) => v.rule.name)
    .sort();
}

describe('Layers: .dependency-cruiser.cjs', () => {
  it.each([
    ['lambdas/core/auth/verifier.ts', 'core-imports-nothing-above-it'],
    ['lambdas/core/secrets/reader.ts', 'core-has-no-io'],
    ['lambdas/engines/pki/issuer.ts', 'engines-build-on-the-core'],
    ['lambdas/engines/database/plugin.ts', 'engines-are-independent'],
    ['lambdas/engines/rotation/certificate/rotator.ts', 'certificate-rotation-drives-only-pki'],
    ['lambdas/adapters/aws/kms/kms-ca.ts', 'adapters-implement-core-ports'],
    ['lambdas/broker/routes/secrets.ts', 'broker-uses-core-and-engines'],
    ['lambdas/entrypoints/lambda/compose.ts', 'entrypoint-runtimes-are-independent'],
    ['lambdas/agent/secret-source.ts', 'clients-talk-http-only'],
    ['lambdas/agent/cache-sidecar.ts', 'agent-and-extension-are-independent'],
    ['lambdas/sdk/client.ts', 'sdk-is-the-base-client'],
    ['lambdas/extension/server.ts', 'clients-talk-http-only'],
    ['lambdas/api/secrets.ts', 'wire-contract-stands-alone'],
    ['lib/broker-stack.ts', 'cdk-imports-no-runtime-code'],
    ['lambdas/entrypoints/local/server.ts', 'production-does-not-import-tests'],
  ])('reports %s under %s', (from, rule) => {
    expect(rulesBroken(from)).toEqual([rule]);
  });

  it('reports a production store that imports the in-memory one, under both rules it breaks', () => {
    expect(rulesBroken('lambdas/adapters/local/store/sqlite-store.ts')).toEqual([
      'adapter-families-are-independent',
      'memory-adapters-are-for-tests',
    ]);
  });

  it('reports an import cycle', () => {
    expect(rulesBroken('lambdas/core/a.ts')).toEqual(['no-circular']);
  });

  it('allows the imports the architecture intends', () => {
    for (const from of Object.keys(allowed)) expect(rulesBroken(from), from).toEqual([]);
  });

  it('says why for every rule', () => {
    for (const rule of config.forbidden ?? []) expect(rule.comment?.length ?? 0, rule.name).toBeGreaterThan(40);
  });
});
