import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INJECTION_EXAMPLES, withInjectedPods } from '../../../scripts/injected-pods.ts';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../../docs/kubernetes-injected-pods.md'), 'utf8');

describe('docs/kubernetes-injected-pods.md', () => {
  it('shows the pod the injector makes for each annotation style, as `npm run injected-pods` renders it', () => {
    expect(DOC, 'run `npm run injected-pods` and commit the page').toBe(withInjectedPods(DOC));
    for (const example of INJECTION_EXAMPLES) expect(DOC).toContain(`### ${example.title}`);
  });

  it('documents every annotation the injector reads', async () => {
    const { ANNOTATIONS } = await import('../../../lambdas/injector/annotations.ts');
    const reference = DOC.slice(DOC.indexOf('## Annotations'), DOC.indexOf('## What is injected'));
    const missing = Object.values(ANNOTATIONS).filter((key) => {
      // The resources and user rows group their annotations: `-requests-mem` stands for coffer.io/agent-requests-mem.
      const short = key.replace(/^coffer\.io\/agent/, '');
      return !reference.includes(`\`${key}\``) && !reference.includes(`\`${short}\``);
    });
    expect(missing).toEqual([]);
    for (const kind of ['secret', 'template', 'file', 'perms']) {
      expect(reference).toContain(`\`coffer.io/agent-inject-${kind}-<file>\``);
    }
  });
});
