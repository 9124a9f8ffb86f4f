import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { JsonPatchSchema, KustomizationSchema, readKustomization } from '../../support/kustomize.ts';

const KUBERNETES = path.resolve(import.meta.dirname, '../../../deploy/kubernetes');

/** Every directory under deploy/kubernetes holding a kustomization.yaml. */
function kustomizationDirs(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => path.basename(file) === 'kustomization.yaml')
    .map((file) => path.join(root, path.dirname(file)));
}

describe('the kustomizations under deploy/kubernetes', () => {
  const dirs = kustomizationDirs(KUBERNETES);

  it('are base, overlays/single-node and overlays/ha', () => {
    expect(dirs.map((dir) => path.relative(KUBERNETES, dir)).sort()).toEqual([
      'base',
      'overlays/ha',
      'overlays/single-node',
    ]);
  });

  it.each(dirs.map((dir) => [path.relative(KUBERNETES, dir), dir]))(
    '%s uses only the features the test renderer renders exactly',
    (_name, dir) => {
      const raw = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'), { version: '1.1' });
      expect(KustomizationSchema.safeParse(raw).error?.issues ?? []).toEqual([]);
      // Kustomize tells a JSON patch from a strategic merge patch by its content: each file must be a list of ops.
      for (const patch of readKustomization(dir).patches ?? []) {
        const operations = parse(readFileSync(path.join(dir, patch.path), 'utf8'), { version: '1.1' });
        expect(JsonPatchSchema.safeParse(operations).error?.issues ?? []).toEqual([]);
      }
    },
  );

  it('leave no YAML file out: every file is a resource or a patch of the kustomization beside it', () => {
    for (const dir of dirs) {
      const kustomization = readKustomization(dir);
      const used = new Set([
        'kustomization.yaml',
        ...kustomization.resources,
        ...(kustomization.patches ?? []).map((patch) => patch.path),
      ]);
      const files = readdirSync(dir).filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'));
      expect(
        files.filter((file) => !used.has(file)),
        path.relative(KUBERNETES, dir),
      ).toEqual([]);
    }
  });
});
