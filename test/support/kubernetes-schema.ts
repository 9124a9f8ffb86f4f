import * as k8s from '@kubernetes/client-node';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { KubeObject } from './kustomize.ts';

/**
 * The model of each kind the manifests use, by `apiVersion/kind`: kubernetes-models' class (the OpenAPI schema's
 * types, required fields, enumerations) and the name of @kubernetes/client-node's model (the fields each type has).
 */
const MODELS: Record<string, { readonly schema: new (data: never) => { validate(): void }; readonly type: string }> = {
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': {
    schema: MutatingWebhookConfiguration,
    type: 'V1MutatingWebhookConfiguration',
  },
  'apps/v1/Deployment': { schema: Deployment, type: 'V1Deployment' },
  'apps/v1/StatefulSet': { schema: StatefulSet, type: 'V1StatefulSet' },
  'policy/v1/PodDisruptionBudget': { schema: PodDisruptionBudget, type: 'V1PodDisruptionBudget' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { schema: ClusterRoleBinding, type: 'V1ClusterRoleBinding' },
  'v1/ConfigMap': { schema: ConfigMap, type: 'V1ConfigMap' },
  'v1/Pod': { schema: Pod, type: 'V1Pod' },
  'v1/Secret': { schema: Secret, type: 'V1Secret' },
  'v1/Service': { schema: Service, type: 'V1Service' },
  'v1/ServiceAccount': { schema: ServiceAccount, type: 'V1ServiceAccount' },
};

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };

/**
 * The fields of `value` that its type does not have, as JSON paths. The OpenAPI schema lets unknown fields through
 * (the API server drops them, or refuses them under strict field validation): a misspelt `readOnlyRootFileSystem`
 * would pass it and leave the root filesystem writable. @kubernetes/client-node's models list every field of every
 * type, generated from the same OpenAPI document.
 */
export function unknownFields(value: unknown, type: string, at = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) {
    return Array.isArray(value) ? value.flatMap((item, index) => unknownFields(item, array[1]!, `${at}/${index}`)) : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    return Object.entries(value as object).flatMap(([key, item]) => unknownFields(item, map[1]!, `${at}/${key}`));
  }
  const model = (k8s as unknown as Record<string, ModelClass | undefined>)[type];
  if (typeof model?.getAttributeTypeMap !== 'function' || typeof value !== 'object' || Array.isArray(value)) return [];
  const attributes = new Map(model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute.type]));
  return Object.entries(value).flatMap(([key, item]) => {
    const field = attributes.get(key);
    return field === undefined ? [`${at}/${key}`] : unknownFields(item, field, `${at}/${key}`);
  });
}

/**
 * Validates one object against the Kubernetes OpenAPI schema, and refuses fields its types do not have.
 * @throws Error for a kind without a model here, an unknown field, and kubernetes-models' error for an invalid object
 */
export function validateKubernetesObject(object: KubeObject): void {
  const model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new model.schema(object as never).validate();
  const unknown = unknownFields(object, model.type);
  if (unknown.length > 0) {
    throw new Error(`${object.kind} ${object.metadata.name}: fields Kubernetes does not have: ${unknown.join(', ')}`);
  }
}
