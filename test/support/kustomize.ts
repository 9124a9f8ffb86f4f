import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import * as z from 'zod';

/**
 * A renderer for the part of Kustomize the manifests under `deploy/kubernetes/` use, so the tests can check what
 * `kubectl apply -k` would send without kubectl (CI has none). The subset is small enough that its semantics are
 * exact, and everything outside it is refused rather than approximated:
 *
 * - `resources`: files (every YAML document) and directories (another kustomization, rendered first);
 * - `patches`: RFC 6902 JSON patches from a file (`path`), aimed by `target` {group, version, kind, name} at exactly
 *   one object, applied with fast-json-patch (no strategic merge patches, no inline patches, no selectors);
 * - `namespace`: set on every namespaced object; references to an object of the build written with the namespace
 *   `default` (a ServiceAccount subject of a (Cluster)RoleBinding, a webhook's service) follow it, as Kustomize's
 *   name-reference handling does. A reference to anything outside the build is refused;
 * - `images`: `newName` and `newTag` (no `digest`) for containers and init containers of pod templates.
 *
 * Kustomize applies them in that order (patches, namespace, images). Documents are read as YAML 1.1, as Kubernetes
 * reads them (`0440` is octal). `test/unit/deploy/kustomize-subset.test.ts` holds every kustomization to this subset.
 */

const TargetSchema = z.strictObject({
  group: z.string().optional(),
  version: z.string(),
  kind: z.string().min(1),
  // Kustomize reads a target name as an anchored regular expression: plain names keep it an exact match.
  name: z.string().regex(/^[a-z0-9-]+$/, 'a target name is a plain name (Kustomize reads it as a regex)'),
});

const ImageSchema = z.strictObject({
  name: z.string().min(1),
  newName: z.string().min(1).optional(),
  newTag: z.string().min(1).optional(),
});

export const KustomizationSchema = z.strictObject({
  apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
  kind: z.literal('Kustomization'),
  resources: z.array(z.string().min(1)).min(1),
  namespace: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .optional(),
  images: z.array(ImageSchema).optional(),
  patches: z.array(z.strictObject({ path: z.string().min(1), target: TargetSchema })).optional(),
});
export type Kustomization = z.infer<typeof KustomizationSchema>;

/** A JSON patch as RFC 6902 writes it: only the operations, each with what it needs. */
export const JsonPatchSchema = z
  .array(
    z.discriminatedUnion('op', [
      z.strictObject({ op: z.enum(['add', 'replace', 'test']), path: z.string().startsWith('/'), value: z.unknown() }),
      z.strictObject({ op: z.literal('remove'), path: z.string().startsWith('/') }),
      z.strictObject({
        op: z.enum(['move', 'copy']),
        from: z.string().startsWith('/'),
        path: z.string().startsWith('/'),
      }),
    ]),
  )
  .min(1);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The kinds the manifests use that have no namespace (anything else unknown is refused by {@link namespaced}). */
const CLUSTER_SCOPED = new Set(['ClusterRoleBinding', 'ClusterRole', 'MutatingWebhookConfiguration']);
const NAMESPACED = new Set([
  'ConfigMap',
  'Deployment',
  'PodDisruptionBudget',
  'Secret',
  'Service',
  'ServiceAccount',
  'StatefulSet',
]);

function namespaced(kind: string): boolean {
  if (NAMESPACED.has(kind)) return true;
  if (CLUSTER_SCOPED.has(kind)) return false;
  throw new Error(`the test renderer does not know whether ${kind} is namespaced: add it to kustomize.ts`);
}

export function readKustomization(dir: string): Kustomization {
  const [document] = readYaml(path.join(dir, 'kustomization.yaml'));
  return KustomizationSchema.parse(document);
}

/** Every object `kubectl kustomize <dir>` renders, in the order of the resources (Kustomize sorts them by kind). */
export function renderKustomization(dir: string): KubeObject[] {
  const kustomization = readKustomization(dir);
  let objects = kustomization.resources.flatMap((resource) => {
    const at = path.resolve(dir, resource);
    if (existsSync(at) && statSync(at).isDirectory()) return renderKustomization(at);
    return readYaml(at).map((document) => document as KubeObject);
  });
  for (const patch of kustomization.patches ?? []) {
    const operations = JsonPatchSchema.parse(readYaml(path.join(dir, patch.path))[0]) as Operation[];
    const matches = objects.filter((object) => matchesTarget(object, patch.target));
    if (matches.length !== 1) {
      throw new Error(`patch ${patch.path} matches ${matches.length} objects in ${dir}; the subset wants exactly one`);
    }
    const [target] = matches as [KubeObject];
    const patched = jsonPatch.applyPatch(structuredClone(target), operations, true, false).newDocument;
    objects = objects.map((object) => (object === target ? patched : object));
  }
  if (kustomization.namespace !== undefined) objects = setNamespace(objects, kustomization.namespace);
  for (const image of kustomization.images ?? []) objects = objects.map((object) => setImage(object, image));
  return objects;
}

function readYaml(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' })
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      return document.toJS() as unknown;
    })
    .filter((document) => document !== null);
}

function matchesTarget(object: KubeObject, target: z.infer<typeof TargetSchema>): boolean {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  return (
    object.kind === target.kind &&
    object.metadata.name === target.name &&
    version === target.version &&
    group === (target.group ?? '')
  );
}

/** A reference written into another object: where it sits, what it names. */
interface Reference {
  readonly kind: 'ServiceAccount' | 'Service';
  readonly holder: Record<string, unknown>;
}

function references(object: KubeObject): Reference[] {
  if (object.kind === 'ClusterRoleBinding' || object.kind === 'RoleBinding') {
    const subjects = (object.subjects ?? []) as Record<string, unknown>[];
    return subjects
      .filter((subject) => subject.kind === 'ServiceAccount')
      .map((holder) => ({ kind: 'ServiceAccount', holder }));
  }
  if (object.kind === 'MutatingWebhookConfiguration' || object.kind === 'ValidatingWebhookConfiguration') {
    const webhooks = (object.webhooks ?? []) as { clientConfig?: { service?: Record<string, unknown> } }[];
    return webhooks.flatMap((webhook) =>
      webhook.clientConfig?.service === undefined ? [] : [{ kind: 'Service', holder: webhook.clientConfig.service }],
    );
  }
  return [];
}

function setNamespace(objects: KubeObject[], namespace: string): KubeObject[] {
  const inBuild = (kind: string, name: unknown, written: unknown) =>
    objects.some(
      (object) =>
        object.kind === kind &&
        object.metadata.name === name &&
        (object.metadata.namespace ?? 'default') === (written ?? 'default'),
    );
  return objects.map((original) => {
    if (original.kind === 'Namespace') throw new Error('Kustomize renames a Namespace object: not in the subset');
    const object = structuredClone(original);
    if (namespaced(object.kind)) object.metadata.namespace = namespace;
    for (const reference of references(object)) {
      const { name, namespace: written } = reference.holder;
      if (written !== 'default' || !inBuild(reference.kind, name, written)) {
        throw new Error(
          `${object.kind} ${object.metadata.name} names ${reference.kind} ${String(name)} in namespace ` +
            `${String(written)}: the subset follows only references to objects of the build, written as default`,
        );
      }
      reference.holder.namespace = namespace;
    }
    return object;
  });
}

/** `name[:tag][@digest]`, where a `:` before the last `/` belongs to a registry's port. */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withTag, digest] = image.split('@') as [string, string | undefined];
  const colon = withTag.lastIndexOf(':');
  const hasTag = colon > withTag.lastIndexOf('/');
  return {
    name: hasTag ? withTag.slice(0, colon) : withTag,
    ...(hasTag && { tag: withTag.slice(colon + 1) }),
    ...(digest !== undefined && { digest }),
  };
}

function setImage(original: KubeObject, image: z.infer<typeof ImageSchema>): KubeObject {
  const object = structuredClone(original);
  const pod = (object.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
  if (pod === undefined) return object;
  const containers = [...((pod.containers ?? []) as { image?: string }[]), ...((pod.initContainers ?? []) as [])];
  for (const container of containers as { image?: string }[]) {
    if (container.image === undefined) continue;
    const current = parseImage(container.image);
    if (current.name !== image.name) continue;
    if (current.digest !== undefined) throw new Error(`${container.image}: images by digest are not in the subset`);
    const tag = image.newTag ?? current.tag;
    container.image = `${image.newName ?? current.name}${tag === undefined ? '' : `:${tag}`}`;
  }
  return object;
}
