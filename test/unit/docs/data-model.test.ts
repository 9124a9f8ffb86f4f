import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PARTITIONS } from '../../../lambdas/entrypoints/partitions.ts';
import { renderDataModel } from '../../../scripts/data-model.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * The partition keys the sources declare, by the three ways they are written: a constant named after a partition
 * (`*_PK`, `PK_*`, `PK`, `*PARTITION*`), the string values of a `*_PARTITIONS = { … }` object, and the fixed part of
 * a function that builds a partition key (`versionPartition = (arn) => \`secret-versions#${arn}\``).
 */
function declaredPartitions(source: string): string[] {
  const found: string[] = [];
  const constant = /\bconst\s+(?:\w*_PK|PK_\w+|PK|\w*PARTITION\w*)\s*=\s*'([^']+)'/g;
  for (const match of source.matchAll(constant)) found.push(match[1] as string);
  const object = /\bconst\s+\w*PARTITIONS\s*=\s*\{([^}]*)\}/g;
  for (const match of source.matchAll(object)) {
    for (const value of (match[1] as string).matchAll(/:\s*'([^']+)'/g)) found.push(value[1] as string);
  }
  const builder = /\bconst\s+\w*[Pp]artition\s*=\s*\([^)]*\)[^=]*=>\s*`([^`$]+)\$\{/g;
  for (const match of source.matchAll(builder)) found.push(match[1] as string);
  return found;
}

describe('docs/data-model.md', () => {
  it('is what `npm run data-model` renders from the partition registry', () => {
    const committed = readFileSync(path.join(ROOT, 'docs/data-model.md'), 'utf8');
    expect(committed, 'run `npm run data-model` and commit docs/data-model.md').toBe(renderDataModel());
  });

  it('names every partition the sources under lambdas/ declare', () => {
    const registered = new Set(PARTITIONS.map((partition) => partition.pk));
    const missing = sources(path.join(ROOT, 'lambdas')).flatMap((file) =>
      declaredPartitions(readFileSync(file, 'utf8'))
        .filter((pk) => !registered.has(pk))
        .map((pk) => `${pk} (${path.relative(ROOT, file)})`),
    );
    expect(missing, 'add these to lambdas/entrypoints/partitions.ts').toEqual([]);
  });

  it('finds partitions in each way the sources write them', () => {
    const source = [
      "export const ROTATION_PK = 'rotation';",
      "const PK = 'pki#ca-key';",
      "export const PK_CRL = 'pki#crl';",
      "export const API_KEY_PARTITION = 'api-keys';",
      "export const TOKEN_PARTITIONS = { tokens: 'tokens', childrenPrefix: 'token-children#' } as const;",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text the scan reads
      'export const versionPartition = (arn: string): string => `secret-versions#${arn}`;',
    ].join('\n');
    expect(declaredPartitions(source)).toEqual([
      'rotation',
      'pki#ca-key',
      'pki#crl',
      'api-keys',
      'tokens',
      'token-children#',
      'secret-versions#',
    ]);
  });

  it('has one entry per partition', () => {
    const keys = PARTITIONS.map((partition) => partition.pk);
    expect(keys.filter((pk, index) => keys.indexOf(pk) !== index)).toEqual([]);
  });
});
