import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const UNIT = path.join(ROOT, 'test/unit');

/**
 * Suites about the whole rather than one module, each with the reason it has no single source file to mirror.
 * Folders end in `/`.
 */
const CROSS_CUTTING: Record<string, string> = {
  'architecture/': 'the tree as a whole: layers, where tests go',
  'broker/authz-every-route.test.ts': 'every route of every routes file against the authorisation invariant',
  'broker/secretsmanager-fidelity/':
    'every Secrets Manager operation against recorded AWS answers (test/fixtures/secretsmanager)',
  'deploy/':
    'the deployment artefacts, which are no module: deploy/kubernetes (rendered, schema-checked) and the Dockerfile',
  'adapters/aws/faults/':
    "the AWS adapters and the SDK's retries together under injected throttling, 5xx and lost answers",
};

/**
 * Where a unit test points: `lib/`, `bin/`, `docs/` at themselves, `support/` at test support, the rest at `lambdas/`.
 */
const SOURCE_ROOTS: Record<string, string> = { lib: 'lib', bin: 'bin', docs: 'docs', support: 'test/support' };

/**
 * The source a unit test mirrors, or `undefined`. `test/unit/x/y/z.test.ts` mirrors `lambdas/x/y/z.ts` (or `.mjs`, or
 * the folder `lambdas/x/y/z`). A module with several suites names each after it with one qualifier:
 * `z.property.test.ts`, `z.contract.test.ts`, `z.list.test.ts`. Documents mirror as `docs/z.md` or `docs/Z.md`.
 */
function mirroredSource(testPath: string, exists: (file: string) => boolean = existsSync): string | undefined {
  const withoutSuffix = testPath.replace(/\.test\.ts$/, '');
  if (withoutSuffix === testPath) return undefined;
  const [top = '', ...rest] = withoutSuffix.split('/');
  const base = top in SOURCE_ROOTS ? [SOURCE_ROOTS[top]!, ...rest] : ['lambdas', top, ...rest];
  const name = base.pop()!;
  const names = [name, name.replace(/\.[^.]+$/, '')];
  for (const module of names) {
    // Documents keep their conventional capitals (ARCHITECTURE.md); their tests are lower case like every file.
    for (const file of [`${module}.ts`, `${module}.mjs`, module, `${module}.md`, `${module.toUpperCase()}.md`]) {
      const candidate = [...base, file].join('/');
      if (exists(path.join(ROOT, candidate))) return candidate;
    }
  }
  return undefined;
}

/** The `*.test.ts` files under `root`, as `/`-separated paths relative to it. */
function testFiles(root = UNIT): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => file.split(path.sep).join('/'));
}

const crossCutting = (test: string) =>
  Object.keys(CROSS_CUTTING).some((entry) => (entry.endsWith('/') ? test.startsWith(entry) : test === entry));

describe('Unit test layout', () => {
  it('puts every unit test at the path of the module it tests, or lists it as cross-cutting', () => {
    const misplaced = testFiles().filter((test) => !crossCutting(test) && mirroredSource(test) === undefined);
    expect(misplaced, 'test/unit/x/y/z.test.ts tests lambdas/x/y/z.ts (see mirroredSource)').toEqual([]);
  });

  it('lists as cross-cutting only what exists', () => {
    const missing = Object.keys(CROSS_CUTTING).filter((entry) => !existsSync(path.join(UNIT, entry)));
    expect(missing).toEqual([]);
  });

  it('has every contract suite run by some adapter test (they are not suites of their own)', () => {
    const contracts = readdirSync(path.join(ROOT, 'test/contract')).filter((file) => file.endsWith('.contract.ts'));
    const tests = ['unit', 'integration'].flatMap((kind) =>
      testFiles(path.join(ROOT, 'test', kind)).map((file) => readFileSync(path.join(ROOT, 'test', kind, file), 'utf8')),
    );
    const unused = contracts.filter((contract) => !tests.some((source) => source.includes(`/contract/${contract}'`)));
    expect(unused).toEqual([]);
  });

  it('mirrors modules, folders and qualified suites, and nothing else', () => {
    const tree = new Set([
      'lambdas/core/secrets/secret-service.ts',
      'lambdas/engines/rotation/postgres',
      'lib/coffer-stack.ts',
      'bin/built.mjs',
      'test/support/wait-for.ts',
    ]);
    const exists = (file: string) => tree.has(path.relative(ROOT, file));
    expect(mirroredSource('core/secrets/secret-service.test.ts', exists)).toBe(
      'lambdas/core/secrets/secret-service.ts',
    );
    expect(mirroredSource('core/secrets/secret-service.list.test.ts', exists)).toBe(
      'lambdas/core/secrets/secret-service.ts',
    );
    expect(mirroredSource('engines/rotation/postgres.test.ts', exists)).toBe('lambdas/engines/rotation/postgres');
    expect(mirroredSource('lib/coffer-stack.test.ts', exists)).toBe('lib/coffer-stack.ts');
    expect(mirroredSource('bin/built.test.ts', exists)).toBe('bin/built.mjs');
    expect(mirroredSource('support/wait-for.test.ts', exists)).toBe('test/support/wait-for.ts');
    expect(mirroredSource('core/secrets/secret-service-list.test.ts', exists)).toBeUndefined();
    expect(mirroredSource('core/secrets.test.ts', exists)).toBeUndefined();
    expect(mirroredSource('core/secrets/secret-service.a.b.test.ts', exists)).toBeUndefined();
  });
});
