import { describe, expect, it } from 'vitest';
import { summarise, targetName } from '../../../../../lambdas/entrypoints/cli/import/importer.ts';

describe('targetName', () => {
  it('fills the template from the item and puts the prefix first', () => {
    expect(targetName('{{source}}/{{key}}', { source: 'prod', key: 'DB_URL' }, 'app/')).toBe('app/prod/DB_URL');
    expect(targetName('{{ namespace }}-{{name}}', { namespace: 'ns', name: 'db' })).toBe('ns-db');
  });

  it('names the variables a source has when the template asks for another', () => {
    expect(() => targetName('{{path}}', { source: 'env', key: 'A' })).toThrow(
      'unknown {{path}} in the name template; this source has {{source}} {{key}}',
    );
  });
});

describe('summarise', () => {
  it('counts outcomes by source', () => {
    const r = (source: string, outcome: 'created' | 'updated' | 'skipped' | 'failed') => ({
      source,
      key: 'k',
      name: 'n',
      action: 'create' as const,
      versions: 1,
      outcome,
    });
    expect(summarise([r('env', 'created'), r('env', 'failed'), r('k8s:x', 'skipped'), r('env', 'created')])).toEqual([
      { source: 'env', created: 2, updated: 0, skipped: 0, failed: 1 },
      { source: 'k8s:x', created: 0, updated: 0, skipped: 1, failed: 0 },
    ]);
  });
});
