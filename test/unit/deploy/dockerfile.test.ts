import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyOf, envOf, execForm, readDockerfile, type Stage } from '../../support/dockerfile.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const stages = readDockerfile(path.join(ROOT, 'Dockerfile'));
const runtime = stages.at(-1)!;
const stage = (name: string): Stage => {
  const found = stages.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no stage ${name}`);
  return found;
};
const runs = (of: Stage) => of.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const copies = (of: Stage) => of.instructions.filter((i) => i.keyword === 'COPY').map(copyOf);

describe('Dockerfile', () => {
  it('builds dist/ on Node 22 with npm ci and npm run build', () => {
    expect(stage('build').from).toMatch(/^node:22(-|$)/);
    expect(runs(stage('build'))).toEqual(['npm ci --ignore-scripts && npm run build']);
  });

  it('installs the runtime dependencies alone, on the Debian release the runtime image is built from', () => {
    const dependencies = stage('runtime-dependencies');
    expect(dependencies.from).toMatch(/^node:22-bookworm$/);
    expect(runtime.from).toMatch(/debian12/);
    expect(runs(dependencies)).toEqual([
      'npm ci --omit=dev --omit=peer --ignore-scripts && npm rebuild better-sqlite3',
    ]);
    expect(copies(dependencies)).toEqual([
      { from: undefined, sources: ['package.json', 'package-lock.json'], destination: './' },
    ]);
  });

  it('runs on distroless Node 22: no shell, no npm, nothing run in the final stage', () => {
    expect(runtime.from).toMatch(/^gcr\.io\/distroless\/nodejs22-debian12(:|@)/);
    expect(runs(runtime)).toEqual([]);
  });

  it('puts only dist/, the CLI entry, package.json and the runtime node_modules in the final stage', () => {
    expect(copies(runtime)).toEqual([
      { from: 'runtime-dependencies', sources: ['/src/node_modules'], destination: './node_modules' },
      { from: 'build', sources: ['/src/package.json'], destination: './' },
      { from: 'build', sources: ['/src/bin/coffer.mjs', '/src/bin/built.mjs'], destination: './bin/' },
      { from: 'build', sources: ['/src/dist'], destination: './dist' },
    ]);
  });

  it('runs as a numeric user that is not root, which the manifests name too', () => {
    const users = runtime.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users).toEqual(['65532:65532']);
    const manifest = readFileSync(path.join(ROOT, 'deploy/kubernetes/base/server-statefulset.yaml'), 'utf8');
    expect(manifest).toContain('runAsUser: 65532');
  });

  it('starts the CLI with node, the server by default, its data directory a volume', () => {
    const [entrypoint, ...others] = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT');
    expect(others).toEqual([]);
    expect(execForm(entrypoint!)).toEqual(['/nodejs/bin/node', '/app/bin/coffer.mjs']);
    expect(runtime.instructions.filter((i) => i.keyword === 'CMD').map(execForm)).toEqual([['server']]);
    expect(runtime.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    const env = Object.assign({}, ...runtime.instructions.filter((i) => i.keyword === 'ENV').map(envOf));
    expect(env).toEqual({ NODE_ENV: 'production', COFFER_DATA_DIR: '/var/lib/coffer/data' });
  });

  it('sends the build only what it copies: no node_modules, dist/ or data directory from the checkout', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const included = ignore.slice(1);
    expect(included.every((line) => line.startsWith('!'))).toBe(true);
    expect(included.filter((line) => /node_modules|dist|\.coffer|test|\.git/.test(line))).toEqual([]);
    const context = stages.flatMap((of) => copies(of).filter((copy) => copy.from === undefined));
    for (const source of context.flatMap((copy) => copy.sources)) {
      expect(
        included.some((line) => line === `!${source}` || line === `!${source}/**`),
        source,
      ).toBe(true);
    }
  });
});
