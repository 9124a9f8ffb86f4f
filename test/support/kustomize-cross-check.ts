// By hand, where kubectl is installed (CI has none): `node --import tsx test/support/kustomize-cross-check.ts`.
// Renders every kustomization under deploy/kubernetes with `kubectl kustomize` and with the tests' renderer
// (kustomize.ts), and says whether they produce the same objects. Kustomize orders objects by kind, so they are
// compared by kind, namespace and name.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { type KubeObject, renderKustomization } from './kustomize.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const KUSTOMIZATIONS = ['base', 'overlays/single-node', 'overlays/ha'];

const key = (object: KubeObject) => `${object.kind} ${object.metadata.namespace ?? '-'}/${object.metadata.name}`;

let differences = 0;
for (const name of KUSTOMIZATIONS) {
  const dir = path.join(ROOT, 'deploy/kubernetes', name);
  const kubectl = parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }), {
    version: '1.1',
  }).map((document) => document.toJS() as KubeObject);
  const ours = new Map(renderKustomization(dir).map((object) => [key(object), object]));
  const theirs = new Map(kubectl.map((object) => [key(object), object]));
  for (const id of new Set([...ours.keys(), ...theirs.keys()])) {
    if (!isDeepStrictEqual(ours.get(id), theirs.get(id))) {
      differences += 1;
      console.log(`${name}: ${id} differs`);
      console.log(JSON.stringify({ ours: ours.get(id), kubectl: theirs.get(id) }, null, 2));
    }
  }
  console.log(`${name}: ${theirs.size} objects from kubectl, ${ours.size} from the renderer`);
}
console.log(differences === 0 ? 'the same objects' : `${differences} objects differ`);
process.exitCode = differences === 0 ? 0 : 1;
