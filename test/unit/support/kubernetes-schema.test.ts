import { describe, expect, it } from 'vitest';
import { unknownFields, validateKubernetesObject } from '../../support/kubernetes-schema.ts';
import type { KubeObject } from '../../support/kustomize.ts';

const deployment = (container: Record<string, unknown>): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'web', ...container }] },
    },
  },
});

describe('validateKubernetesObject', () => {
  it('passes a valid object', () => {
    expect(() =>
      validateKubernetesObject(
        deployment({ securityContext: { readOnlyRootFilesystem: true }, ports: [{ containerPort: 80 }] }),
      ),
    ).not.toThrow();
  });

  it('refuses a wrong type, as the OpenAPI schema does', () => {
    expect(() => validateKubernetesObject(deployment({ ports: [{ containerPort: 'http' }] }))).toThrow(
      /must be integer/,
    );
  });

  it('refuses a misspelt field, which the OpenAPI schema lets through', () => {
    expect(() => validateKubernetesObject(deployment({ securityContext: { readOnlyRootFileSystem: true } }))).toThrow(
      '/spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem',
    );
  });

  it('refuses a kind it has no schema for', () => {
    expect(() =>
      validateKubernetesObject({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'c' } }),
    ).toThrow(/no schema/);
  });
});

describe('unknownFields', () => {
  it('walks arrays and maps of models, and stops at free-form values', () => {
    expect(
      unknownFields(
        { metadata: { labels: { any: 'label' }, nmae: 'x' }, data: { key: 'value' }, immutable: true, typo: 1 },
        'V1ConfigMap',
      ),
    ).toEqual(['/metadata/nmae', '/typo']);
  });
});
