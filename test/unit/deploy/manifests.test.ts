import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateKubernetesObject } from '../../support/kubernetes-schema.ts';
import { type KubeObject, parseImage, renderKustomization } from '../../support/kustomize.ts';

const KUBERNETES = path.resolve(import.meta.dirname, '../../../deploy/kubernetes');
const render = (name: string) => renderKustomization(path.join(KUBERNETES, name));
const KUSTOMIZATIONS = ['base', 'overlays/single-node', 'overlays/ha'];

interface Probe {
  httpGet?: { path?: string; port?: string | number; scheme?: string; httpHeaders?: { name: string; value: string }[] };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: { name: string; secret?: { secretName: string } }[];
  affinity?: { podAntiAffinity?: Record<string, { topologyKey?: string; labelSelector?: unknown }[]> };
  serviceAccountName?: string;
}
interface Workload extends KubeObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}

function find<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string, name: string): T {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found as T;
}

/** Whether a label selector's `matchLabels` selects a set of labels. */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(matchLabels).every(([key, value]) => labels[key] === value);

const envOf = (container: Container, name: string) => container.env?.find((variable) => variable.name === name);

describe.each(KUSTOMIZATIONS)('deploy/kubernetes/%s', (name) => {
  const objects = render(name);
  const workloads = objects.filter((object): object is Workload => ['StatefulSet', 'Deployment'].includes(object.kind));

  it('renders objects that each pass the Kubernetes OpenAPI schema', () => {
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual([
      'ClusterRoleBinding/coffer-auth-delegator',
      'Deployment/coffer-injector',
      'MutatingWebhookConfiguration/coffer-injector',
      'PodDisruptionBudget/coffer',
      'PodDisruptionBudget/coffer-injector',
      'Secret/coffer-token-reviewer',
      'Service/coffer',
      'Service/coffer-injector',
      'Service/coffer-internal',
      'ServiceAccount/coffer',
      'ServiceAccount/coffer-injector',
      'StatefulSet/coffer',
    ]);
    for (const object of objects) expect(() => validateKubernetesObject(object)).not.toThrow();
  });

  it('hardens every container: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp', () => {
    expect(workloads).toHaveLength(2);
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(container.securityContext, `${workload.metadata.name}/${container.name}`).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(container.resources?.limits?.memory).toEqual(expect.any(String));
      }
    }
  });

  it('probes the server on /v1/sys/health over HTTPS, naming a Host the server answers', () => {
    const server = find<Workload>(objects, 'StatefulSet', 'coffer').spec.template.spec.containers[0]!;
    for (const probe of [server.startupProbe, server.readinessProbe, server.livenessProbe]) {
      expect(probe?.httpGet).toEqual({
        path: '/v1/sys/health',
        port: 'https',
        scheme: 'HTTPS',
        httpHeaders: [{ name: 'Host', value: 'localhost' }],
      });
    }
    expect(server.ports).toEqual([{ name: 'https', containerPort: 8270 }]);
    expect(envOf(server, 'COFFER_PORT')?.value).toBe('8270');
  });

  it('serves the server with the certificate of the coffer-tls Secret and keeps its data in a claimed volume', () => {
    const set = find<Workload>(objects, 'StatefulSet', 'coffer');
    const server = set.spec.template.spec.containers[0]!;
    expect(server.args).toEqual(['server']);
    expect(envOf(server, 'COFFER_TLS_CERT')?.value).toBe('/etc/coffer/tls/tls.crt');
    expect(envOf(server, 'COFFER_TLS_KEY')?.value).toBe('/etc/coffer/tls/tls.key');
    expect(server.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/coffer/tls', readOnly: true });
    expect(set.spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ name: 'tls', secret: expect.objectContaining({ secretName: 'coffer-tls' }) }),
    );
    expect(envOf(server, 'COFFER_DATA_DIR')?.value).toBe('/var/lib/coffer/data');
    expect(server.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/coffer' });
    expect(set.spec.volumeClaimTemplates?.map((claim) => claim.metadata.name)).toEqual(['data']);
  });

  it('selects the pods of its own workload with each Service and PodDisruptionBudget', () => {
    const set = find<Workload>(objects, 'StatefulSet', 'coffer');
    const injector = find<Workload>(objects, 'Deployment', 'coffer-injector');
    const selector = (object: KubeObject) => (object.spec as { selector: Record<string, string> }).selector;
    const pdbSelector = (object: KubeObject) =>
      (object.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    for (const [pods, others, selectors] of [
      [
        set,
        injector,
        [
          selector(find(objects, 'Service', 'coffer')),
          selector(find(objects, 'Service', 'coffer-internal')),
          pdbSelector(find(objects, 'PodDisruptionBudget', 'coffer')),
          set.spec.selector.matchLabels,
        ],
      ],
      [
        injector,
        set,
        [
          selector(find(objects, 'Service', 'coffer-injector')),
          pdbSelector(find(objects, 'PodDisruptionBudget', 'coffer-injector')),
          injector.spec.selector.matchLabels,
        ],
      ],
    ] as const) {
      for (const labels of selectors) {
        expect(selects(labels, pods.spec.template.metadata.labels)).toBe(true);
        expect(selects(labels, others.spec.template.metadata.labels)).toBe(false);
      }
    }
    expect(set.spec.serviceName).toBe('coffer-internal');
    expect((find(objects, 'Service', 'coffer-internal').spec as { clusterIP: string }).clusterIP).toBe('None');
  });

  it('lets the server review tokens (system:auth-delegator) under its own service account', () => {
    const set = find<Workload>(objects, 'StatefulSet', 'coffer');
    const binding = find(objects, 'ClusterRoleBinding', 'coffer-auth-delegator');
    const serviceAccount = find(objects, 'ServiceAccount', 'coffer');
    expect(set.spec.template.spec.serviceAccountName).toBe('coffer');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'system:auth-delegator',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'coffer', namespace: serviceAccount.metadata.namespace ?? 'default' },
    ]);
    const reviewer = find(objects, 'Secret', 'coffer-token-reviewer');
    expect(reviewer.type).toBe('kubernetes.io/service-account-token');
    expect(reviewer.metadata.annotations?.['kubernetes.io/service-account.name']).toBe('coffer');
  });

  it('sends pod creations to the injector Service at /mutate, admission v1, no side effects, bounded in time', () => {
    const webhook = find(objects, 'MutatingWebhookConfiguration', 'coffer-injector');
    const service = find(objects, 'Service', 'coffer-injector');
    const injector = find<Workload>(objects, 'Deployment', 'coffer-injector');
    const [hook, ...others] = webhook.webhooks as Record<string, unknown>[];
    expect(others).toEqual([]);
    expect(hook).toMatchObject({
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Ignore',
      reinvocationPolicy: 'IfNeeded',
      timeoutSeconds: 10,
      clientConfig: {
        service: { name: 'coffer-injector', namespace: service.metadata.namespace ?? 'default', path: '/mutate' },
      },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    });
    const port = (service.spec as { ports: { port: number; targetPort: string }[] }).ports;
    expect(port).toEqual([{ name: 'webhook', port: 443, targetPort: 'webhook' }]);
    expect((hook!.clientConfig as { service: { port: number } }).service.port).toBe(443);
    const container = injector.spec.template.spec.containers[0]!;
    expect(container.ports).toEqual([{ name: 'webhook', containerPort: 8443 }]);
    expect(container.args?.slice(0, 3)).toEqual(['injector', '--listen', '0.0.0.0:8443']);
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet).toEqual({ path: '/healthz', port: 'webhook', scheme: 'HTTPS' });
    }
    expect(injector.spec.replicas).toBe(2);
    expect(
      (find(objects, 'PodDisruptionBudget', 'coffer-injector').spec as { minAvailable: number }).minAvailable,
    ).toBe(1);
  });

  it("never sends Coffer's own pods to the injector, nor the control plane's namespaces", () => {
    const webhook = find(objects, 'MutatingWebhookConfiguration', 'coffer-injector');
    const [hook] = webhook.webhooks as {
      objectSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
      namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
    }[];
    const [exclusion] = hook!.objectSelector.matchExpressions;
    expect(exclusion).toMatchObject({ operator: 'NotIn' });
    for (const workload of workloads) {
      expect(exclusion!.values).toContain(workload.spec.template.metadata.labels[exclusion!.key]);
    }
    expect(hook!.namespaceSelector.matchExpressions[0]).toMatchObject({
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: expect.arrayContaining(['kube-system', 'kube-node-lease', 'kube-public']),
    });
  });

  it('gives the injector the server address and its CA certificate only, never its key', () => {
    const injector = find<Workload>(objects, 'Deployment', 'coffer-injector').spec.template.spec;
    const args = injector.containers[0]!.args ?? [];
    expect(args[args.indexOf('--coffer-addr') + 1]).toBe('https://coffer.$(POD_NAMESPACE).svc:8270');
    expect(args[args.indexOf('--ca-cert') + 1]).toBe('/etc/coffer/tls/ca.crt');
    expect(injector.volumes).toContainEqual({
      name: 'coffer-ca',
      secret: { secretName: 'coffer-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
  });
});

describe.each(['overlays/single-node', 'overlays/ha'])('deploy/kubernetes/%s as applied', (name) => {
  const objects = render(name);

  it('puts every namespaced object, and the references to them, in the namespace coffer', () => {
    const clusterScoped = ['ClusterRoleBinding', 'MutatingWebhookConfiguration'];
    for (const object of objects) {
      expect(object.metadata.namespace).toBe(clusterScoped.includes(object.kind) ? undefined : 'coffer');
    }
    const webhook = find(objects, 'MutatingWebhookConfiguration', 'coffer-injector');
    const [hook] = webhook.webhooks as { namespaceSelector: { matchExpressions: { values: string[] }[] } }[];
    expect(hook!.namespaceSelector.matchExpressions[0]!.values).toContain('coffer');
  });

  it('has the webhook CA bundle filled in from the injector certificate by cert-manager', () => {
    const webhook = find(objects, 'MutatingWebhookConfiguration', 'coffer-injector');
    expect(webhook.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe('coffer/coffer-injector');
    const injector = find<Workload>(objects, 'Deployment', 'coffer-injector').spec.template.spec;
    expect(injector.volumes).toContainEqual(expect.objectContaining({ name: 'tls', secret: expect.anything() }));
    expect(injector.volumes?.find((volume) => volume.name === 'tls')?.secret?.secretName).toBe('coffer-injector-tls');
  });

  it('runs the server, the injector and the injected agent from one image', () => {
    const server = find<Workload>(objects, 'StatefulSet', 'coffer').spec.template.spec.containers[0]!;
    const injector = find<Workload>(objects, 'Deployment', 'coffer-injector').spec.template.spec.containers[0]!;
    expect(parseImage(server.image)).toEqual({ name: 'registry.example.com/coffer', tag: '0.1.0' });
    expect(injector.image).toBe(server.image);
    const args = injector.args ?? [];
    expect(args[args.indexOf('--agent-image') + 1]).toBe(server.image);
  });
});

describe('deploy/kubernetes/overlays/ha', () => {
  const single = render('overlays/single-node');
  const ha = render('overlays/ha');
  const server = (objects: KubeObject[]) => find<Workload>(objects, 'StatefulSet', 'coffer');
  const container = (objects: KubeObject[]) => server(objects).spec.template.spec.containers[0]!;

  it('runs three server replicas, and the base one', () => {
    expect(server(ha).spec.replicas).toBe(3);
    expect(server(single).spec.replicas).toBe(1);
    expect(server(render('base')).spec.replicas).toBe(1);
  });

  it('keeps two of the three serving through voluntary disruptions', () => {
    const budget = find(ha, 'PodDisruptionBudget', 'coffer').spec as { maxUnavailable?: number; minAvailable?: number };
    expect(budget).toEqual({ maxUnavailable: 1, selector: expect.anything() });
    expect((server(ha).spec.replicas ?? 1) - budget.maxUnavailable!).toBe(2);
  });

  it('reads the PostgreSQL store URL from a Secret, and its password from a mounted file', () => {
    expect(envOf(container(ha), 'COFFER_STORE_URL')).toEqual({
      name: 'COFFER_STORE_URL',
      valueFrom: { secretKeyRef: { name: 'coffer-store', key: 'url' } },
    });
    expect(envOf(container(ha), 'COFFER_STORE_PASSWORD_FILE')?.value).toBe('/etc/coffer/store/password');
    expect(container(ha).volumeMounts).toContainEqual({
      name: 'store',
      mountPath: '/etc/coffer/store',
      readOnly: true,
    });
    expect(server(ha).spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ name: 'store', secret: expect.objectContaining({ secretName: 'coffer-store' }) }),
    );
    expect(envOf(container(single), 'COFFER_STORE_URL')).toBeUndefined();
  });

  it('gives every node the same keyring, from a Secret mounted read-only', () => {
    expect(envOf(container(ha), 'COFFER_KEYRING_FILE')?.value).toBe('/etc/coffer/keyring/keyring.json');
    expect(container(ha).volumeMounts).toContainEqual({
      name: 'keyring',
      mountPath: '/etc/coffer/keyring',
      readOnly: true,
    });
    expect(server(ha).spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ name: 'keyring', secret: expect.objectContaining({ secretName: 'coffer-keyring' }) }),
    );
  });

  it('never schedules two server pods on one node', () => {
    const set = server(ha);
    const [term, ...others] =
      set.spec.template.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(others).toEqual([]);
    expect(term?.topologyKey).toBe('kubernetes.io/hostname');
    const { matchLabels } = term!.labelSelector as { matchLabels: Record<string, string> };
    expect(selects(matchLabels, set.spec.template.metadata.labels)).toBe(true);
  });
});
