import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImage, renderKustomization } from '../../support/kustomize.ts';

describe('the test Kustomize renderer', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'coffer-kustomize-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  let count = 0;

  /** A kustomization in a fresh directory: its files by name, each YAML or text. */
  function kustomization(files: Record<string, string>): string {
    const dir = path.join(scratch, String(count++));
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  }

  const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n';
  const HEADER = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n';

  it('refuses a kustomization feature outside the subset instead of ignoring it', () => {
    for (const extra of ['commonLabels: {a: b}', 'namePrefix: x-', 'patchesStrategicMerge: [p.yaml]']) {
      const dir = kustomization({
        'kustomization.yaml': `${HEADER}resources: [s.yaml]\n${extra}\n`,
        's.yaml': SERVICE,
      });
      expect(() => renderKustomization(dir)).toThrow(/Unrecognized key/);
    }
  });

  it('refuses a strategic merge patch, and a patch that matches no object', () => {
    const patch = (text: string) =>
      kustomization({
        'kustomization.yaml': `${HEADER}resources: [s.yaml]\npatches:\n  - path: p.yaml\n    target: {version: v1, kind: Service, name: web}\n`,
        's.yaml': SERVICE,
        'p.yaml': text,
      });
    expect(() => renderKustomization(patch('spec: {type: NodePort}\n'))).toThrow(/expected array/);
    const other = kustomization({
      'kustomization.yaml': `${HEADER}resources: [s.yaml]\npatches:\n  - path: p.yaml\n    target: {version: v1, kind: Service, name: api}\n`,
      's.yaml': SERVICE,
      'p.yaml': '- {op: add, path: /spec/type, value: NodePort}\n',
    });
    expect(() => renderKustomization(other)).toThrow(/matches 0 objects/);
    expect(renderKustomization(patch('- {op: add, path: /spec/type, value: NodePort}\n'))[0]?.spec).toEqual({
      ports: [{ port: 80 }],
      type: 'NodePort',
    });
  });

  it('refuses a target name Kustomize would read as a pattern', () => {
    const dir = kustomization({
      'kustomization.yaml': `${HEADER}resources: [s.yaml]\npatches:\n  - path: p.yaml\n    target: {version: v1, kind: Service, name: "we.*"}\n`,
      's.yaml': SERVICE,
      'p.yaml': '- {op: add, path: /spec/type, value: NodePort}\n',
    });
    expect(() => renderKustomization(dir)).toThrow(/plain name/);
  });

  it('moves references to objects of the build with the namespace, and refuses references outside it', () => {
    const binding = (subject: string) =>
      kustomization({
        'kustomization.yaml': `${HEADER}namespace: shop\nresources: [o.yaml]\n`,
        'o.yaml': [
          'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}',
          `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [${subject}]`,
        ].join('\n---\n'),
      });
    const [account, bound] = renderKustomization(binding('{kind: ServiceAccount, name: web, namespace: default}'));
    expect(account?.metadata.namespace).toBe('shop');
    expect(bound?.metadata.namespace).toBeUndefined();
    expect(bound?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }]);
    expect(() => renderKustomization(binding('{kind: ServiceAccount, name: api, namespace: default}'))).toThrow(
      /objects of the build/,
    );
    expect(() => renderKustomization(binding('{kind: ServiceAccount, name: web, namespace: ops}'))).toThrow(
      /objects of the build/,
    );
  });

  it('sets images by name, keeping a registry port apart from the tag', () => {
    expect(parseImage('registry:5000/coffer:1.2')).toEqual({ name: 'registry:5000/coffer', tag: '1.2' });
    expect(parseImage('registry:5000/coffer')).toEqual({ name: 'registry:5000/coffer' });
    const dir = kustomization({
      'kustomization.yaml': `${HEADER}resources: [d.yaml]\nimages: [{name: coffer, newName: r.example/coffer, newTag: "2"}]\n`,
      'd.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      initContainers: [{name: i, image: "coffer:1"}]\n      containers: [{name: a, image: coffer}, {name: b, image: coffer-other}]\n',
    });
    const spec = (renderKustomization(dir)[0]!.spec as { template: { spec: Record<string, { image: string }[]> } })
      .template.spec;
    expect(spec.initContainers?.map((container) => container.image)).toEqual(['r.example/coffer:2']);
    expect(spec.containers?.map((container) => container.image)).toEqual(['r.example/coffer:2', 'coffer-other']);
  });

  it('reads YAML as Kubernetes does: a leading zero is octal', () => {
    const dir = kustomization({
      'kustomization.yaml': `${HEADER}resources: [d.yaml]\n`,
      'd.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      volumes: [{name: v, secret: {secretName: s, defaultMode: 0440}}]\n',
    });
    const spec = (renderKustomization(dir)[0]!.spec as { template: { spec: { volumes: unknown[] } } }).template.spec;
    expect(spec.volumes).toEqual([{ name: 'v', secret: { secretName: 's', defaultMode: 0o440 } }]);
  });
});
