// The injected pod of each annotation style, as docs/kubernetes-injected-pods.md shows them: the examples are the
// unit tests' cases too (test/unit/injector/admission-review.test.ts), so the doc shows what the injector does.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { stringify } from 'yaml';
import { reviewAdmission } from '../lambdas/injector/admission-review.ts';
import type { InjectorSettings } from '../lambdas/injector/agent-pod.ts';

export const EXAMPLE_SETTINGS: InjectorSettings = {
  cofferAddress: 'https://coffer.coffer.svc:8270',
  agentImage: 'registry.example.com/coffer:0.1.0',
};

export interface InjectionExample {
  readonly id: string;
  readonly title: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** The pod's own init containers. */
  readonly initContainers?: V1Container[];
}

export const INJECTION_EXAMPLES: readonly InjectionExample[] = [
  {
    id: 'secret',
    title: 'A secret to a file (init container and sidecar)',
    annotations: {
      'coffer.io/agent-inject': 'true',
      'coffer.io/role': 'web',
      'coffer.io/agent-inject-secret-db-password': 'shop/db#password',
    },
  },
  {
    id: 'template',
    title: 'A template, with its file name and mode',
    annotations: {
      'coffer.io/agent-inject': 'true',
      'coffer.io/role': 'web',
      'coffer.io/agent-inject-template-db.env':
        'DB_USER={{ secret "shop/db" "username" }}\nDB_PASSWORD={{ secret "shop/db" "password" }}\n',
      'coffer.io/agent-inject-file-db.env': 'config/db.env',
      'coffer.io/agent-inject-perms-db.env': '0640',
    },
  },
  {
    id: 'pre-populate-only',
    title: 'Pre-populate only (a Job: the init container, no sidecar)',
    annotations: {
      'coffer.io/agent-inject': 'true',
      'coffer.io/role': 'migrate',
      'coffer.io/agent-pre-populate-only': 'true',
      'coffer.io/agent-inject-secret-db-url': 'shop/db#url',
    },
  },
  {
    id: 'auth-path',
    title: 'Another auth mount and audience, the init container after the pod’s own, sized resources',
    annotations: {
      'coffer.io/agent-inject': 'true',
      'coffer.io/role': 'web',
      'coffer.io/auth-path': 'cluster-eu',
      'coffer.io/auth-audience': 'coffer-eu',
      'coffer.io/agent-init-first': 'false',
      'coffer.io/agent-requests-mem': '96Mi',
      'coffer.io/agent-limits-mem': '192Mi',
      'coffer.io/agent-poll-interval': '5m',
      'coffer.io/agent-inject-secret-api-key': 'shop/payments-api@AWSPENDING',
    },
    initContainers: [
      { name: 'wait-for-db', image: 'busybox:1.36', command: ['sh', '-c', 'until nc -z db 5432; do sleep 1; done'] },
    ],
  },
];

/** The pod a Deployment of the example would create, as the API server sends it to the webhook. */
export function examplePod(example: InjectionExample): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `shop-${example.id}`, namespace: 'shop', annotations: { ...example.annotations } },
    spec: {
      serviceAccountName: 'web',
      ...(example.initContainers === undefined ? {} : { initContainers: example.initContainers }),
      containers: [{ name: 'app', image: 'registry.example.com/shop:2.3.1', ports: [{ containerPort: 8080 }] }],
    },
  };
}

/** An AdmissionReview of the pod's creation, as the API server sends it. */
export function admissionReviewOf(pod: V1Pod, uid = '705ab4f5-6393-11e8-b7cc-42010a800002') {
  return {
    apiVersion: 'admission.k8s.io/v1' as const,
    kind: 'AdmissionReview' as const,
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: pod.metadata?.namespace ?? 'default',
      operation: 'CREATE' as const,
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** The pod after the response's patch is applied to it, as the API server does. */
export function injectedPod(pod: V1Pod, settings: InjectorSettings = EXAMPLE_SETTINGS): V1Pod {
  const { response } = reviewAdmission(admissionReviewOf(pod), settings);
  if (!response.allowed || response.patch === undefined) throw new Error(`not injected: ${response.status?.message}`);
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
  return jsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
}

/** The part of docs/kubernetes-injected-pods.md between the markers: each example's annotations and injected pod. */
export function renderInjectedPods(): string {
  const sections = INJECTION_EXAMPLES.map((example) => {
    const pod = examplePod(example);
    const injected = injectedPod(pod);
    return [
      `### ${example.title}`,
      '',
      'The pod’s annotations:',
      '',
      '```yaml',
      stringify({ metadata: { annotations: example.annotations } }, { lineWidth: 0 }).trimEnd(),
      '```',
      '',
      'The pod the API server creates after the injector’s patch:',
      '',
      '```yaml',
      stringify(injected, { lineWidth: 0 }).trimEnd(),
      '```',
    ].join('\n');
  });
  const again = examplePod(INJECTION_EXAMPLES[0]!);
  const refused = examplePod(INJECTION_EXAMPLES[0]!);
  refused.metadata!.annotations!['coffer.io/agent-inject-file-db-password'] = '../../etc/passwd';
  const answer = (pod: V1Pod) => JSON.stringify(reviewAdmission(admissionReviewOf(pod), EXAMPLE_SETTINGS), null, 2);
  sections.push(
    [
      '### A pod injected already',
      '',
      'The first pod above, sent again after its patch (a reinvocation): allowed, no patch.',
      '',
      '```json',
      answer(injectedPod(again)),
      '```',
    ].join('\n'),
    [
      '### A refused pod',
      '',
      'The first pod above with `coffer.io/agent-inject-file-db-password: ../../etc/passwd`:',
      '',
      '```json',
      answer(refused),
      '```',
    ].join('\n'),
  );
  return `${sections.join('\n\n')}\n`;
}

export const GENERATED_START = '<!-- injected pods: generated by `npm run injected-pods`, do not edit -->';
export const GENERATED_END = '<!-- end of injected pods -->';

/** The document with its generated part replaced by `renderInjectedPods()`. */
export function withInjectedPods(doc: string): string {
  const start = doc.indexOf(GENERATED_START);
  const end = doc.indexOf(GENERATED_END);
  if (start < 0 || end < start) throw new Error('docs/kubernetes-injected-pods.md has lost its generated markers');
  return `${doc.slice(0, start + GENERATED_START.length)}\n\n${renderInjectedPods()}\n${doc.slice(end)}`;
}
