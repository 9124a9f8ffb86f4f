import type { V1Container, V1Pod } from '@kubernetes/client-node';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../lambdas/agent/config.ts';
import { reviewAdmission } from '../../../lambdas/injector/admission-review.ts';
import {
  admissionReviewOf,
  EXAMPLE_SETTINGS,
  examplePod,
  INJECTION_EXAMPLES,
  type InjectionExample,
} from '../../../scripts/injected-pods.ts';
import { validateKubernetesObject } from '../../support/kubernetes-schema.ts';
import type { KubeObject } from '../../support/kustomize.ts';

const example = (id: string): InjectionExample => INJECTION_EXAMPLES.find((e) => e.id === id)!;

/** Sends the pod through a review and applies the answer's patch to it, as the API server does. */
function admit(pod: V1Pod, settings = EXAMPLE_SETTINGS) {
  const review = admissionReviewOf(pod, 'b2c3d4e5-0001');
  const answer = reviewAdmission(JSON.parse(JSON.stringify(review)), settings);
  expect(answer.apiVersion).toBe('admission.k8s.io/v1');
  expect(answer.kind).toBe('AdmissionReview');
  expect(answer.response.uid).toBe('b2c3d4e5-0001');
  const { patch } = answer.response;
  const operations =
    patch === undefined ? [] : (JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as Operation[]);
  const result = jsonPatch.applyPatch(structuredClone(pod), operations, true, false).newDocument;
  return { response: answer.response, operations, result };
}

/**
 * The pod validated against the Kubernetes OpenAPI schema (kubernetes-models), with no field its types lack (the
 * schema alone lets a misspelt field through), then returned for assertions.
 */
function validated(pod: V1Pod): V1Pod {
  expect(() => validateKubernetesObject({ apiVersion: 'v1', kind: 'Pod', ...pod } as KubeObject)).not.toThrow();
  return pod;
}

const container = (containers: V1Container[] | undefined, name: string) => containers?.find((c) => c.name === name);
const envOf = (c: V1Container | undefined, name: string) => c?.env?.find((e) => e.name === name)?.value;
const configOf = (c: V1Container | undefined) => parseAgentConfig(JSON.parse(envOf(c, 'COFFER_AGENT_CONFIG')!), '/');

describe('reviewAdmission', () => {
  it('injects a secret-to-file pod: volume, read-only app mount, init container first, sidecar, projected token', () => {
    const { response, result } = admit(examplePod(example('secret')));
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const pod = validated(result);
    const spec = pod.spec!;
    expect(pod.metadata?.annotations?.['coffer.io/agent-inject-status']).toBe('injected');
    expect(spec.volumes).toEqual([
      { name: 'coffer-secrets', emptyDir: { medium: 'Memory' } },
      {
        name: 'coffer-token',
        projected: {
          sources: [{ serviceAccountToken: { audience: 'coffer', expirationSeconds: 3600, path: 'token' } }],
        },
      },
    ]);
    expect(container(spec.containers, 'app')?.volumeMounts).toEqual([
      { name: 'coffer-secrets', mountPath: '/coffer/secrets', readOnly: true },
    ]);
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['coffer-agent-init']);
    expect(spec.containers.map((c) => c.name)).toEqual(['app', 'coffer-agent']);
    const init = container(spec.initContainers, 'coffer-agent-init')!;
    const sidecar = container(spec.containers, 'coffer-agent')!;
    // The image's entrypoint is `coffer`: the containers give its arguments only.
    expect(init.command).toBeUndefined();
    expect(init.args).toEqual(['agent', '--config-env', 'COFFER_AGENT_CONFIG', '--once']);
    expect(sidecar.args).toEqual(['agent', '--config-env', 'COFFER_AGENT_CONFIG']);
    expect(init.image).toBe('registry.example.com/coffer:0.1.0');
    for (const agent of [init, sidecar]) {
      expect(agent.volumeMounts).toEqual([
        { name: 'coffer-secrets', mountPath: '/coffer/secrets' },
        { name: 'coffer-token', mountPath: '/var/run/secrets/coffer.io/serviceaccount', readOnly: true },
      ]);
      expect(agent.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(agent.resources).toEqual({
        requests: { cpu: '50m', memory: '64Mi' },
        limits: { cpu: '500m', memory: '256Mi' },
      });
      expect(envOf(agent, 'COFFER_CACERT_PEM')).toBeUndefined();
    }
    const config = configOf(init);
    expect(config.address).toBe('https://coffer.coffer.svc:8270');
    expect(config.auto_auth).toMatchObject({
      method: 'kubernetes',
      mount: 'kubernetes',
      role: 'web',
      token_path: '/var/run/secrets/coffer.io/serviceaccount/token',
    });
    expect(config.templates).toEqual([
      expect.objectContaining({
        contents: '{{ secret "shop/db" "password" }}',
        destination: '/coffer/secrets/db-password',
        perms: 0o644,
      }),
    ]);
    expect(envOf(sidecar, 'COFFER_AGENT_CONFIG')).toBe(envOf(init, 'COFFER_AGENT_CONFIG'));
  });

  it('injects a template under its own file name and mode', () => {
    const { result } = admit(examplePod(example('template')));
    const config = configOf(container(validated(result).spec?.initContainers, 'coffer-agent-init'));
    expect(config.templates).toEqual([
      expect.objectContaining({
        contents: 'DB_USER={{ secret "shop/db" "username" }}\nDB_PASSWORD={{ secret "shop/db" "password" }}\n',
        destination: '/coffer/secrets/config/db.env',
        perms: 0o640,
      }),
    ]);
  });

  it('pre-populate-only: the init container and no sidecar', () => {
    const { result } = admit(examplePod(example('pre-populate-only')));
    const spec = validated(result).spec!;
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['coffer-agent-init']);
    expect(spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(configOf(spec.initContainers?.[0]).auto_auth).toMatchObject({ role: 'migrate' });
  });

  it('a custom auth path and audience, the init container after the pod’s own, resources from annotations', () => {
    const { result } = admit(examplePod(example('auth-path')));
    const spec = validated(result).spec!;
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['wait-for-db', 'coffer-agent-init']);
    expect(container(spec.initContainers, 'wait-for-db')?.volumeMounts).toBeUndefined();
    const init = container(spec.initContainers, 'coffer-agent-init');
    expect(configOf(init).auto_auth).toMatchObject({ mount: 'cluster-eu', role: 'web' });
    expect(configOf(init).poll_interval).toBe(300_000);
    expect(configOf(init).templates[0]?.contents).toBe('{{ secret "shop/payments-api" stage="AWSPENDING" }}');
    expect(spec.volumes?.[1]?.projected?.sources?.[0]?.serviceAccountToken?.audience).toBe('coffer-eu');
    expect(init?.resources).toEqual({
      requests: { cpu: '50m', memory: '96Mi' },
      limits: { cpu: '500m', memory: '192Mi' },
    });
  });

  it('sidecar only (agent-pre-populate "false"), the mount in the named containers only, another image and user', () => {
    const pod = examplePod(example('secret'));
    pod.spec!.containers.push({ name: 'metrics', image: 'registry.example.com/metrics:1' });
    Object.assign(pod.metadata!.annotations!, {
      'coffer.io/agent-pre-populate': 'false',
      'coffer.io/agent-inject-containers': 'app',
      'coffer.io/agent-image': 'registry.example.com/coffer:2.0.0',
      'coffer.io/agent-run-as-user': '2000',
      'coffer.io/agent-run-as-group': '3000',
    });
    const spec = validated(admit(pod).result).spec!;
    expect(spec.initContainers).toBeUndefined();
    expect(spec.containers.map((c) => c.name)).toEqual(['app', 'metrics', 'coffer-agent']);
    expect(container(spec.containers, 'metrics')?.volumeMounts).toBeUndefined();
    const sidecar = container(spec.containers, 'coffer-agent')!;
    expect(sidecar.image).toBe('registry.example.com/coffer:2.0.0');
    expect(sidecar.securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000, runAsNonRoot: true });
  });

  it('mounts the files in the pod’s own init containers when the agent’s init container runs before them', () => {
    const pod = examplePod(example('secret'));
    pod.spec!.initContainers = [{ name: 'migrate', image: 'registry.example.com/shop-migrate:2.3.1' }];
    const spec = validated(admit(pod).result).spec!;
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['coffer-agent-init', 'migrate']);
    expect(container(spec.initContainers, 'migrate')?.volumeMounts).toEqual([
      { name: 'coffer-secrets', mountPath: '/coffer/secrets', readOnly: true },
    ]);
    pod.metadata!.annotations!['coffer.io/agent-inject-containers'] = 'migrate';
    const only = validated(admit(pod).result).spec!;
    expect(container(only.containers, 'app')?.volumeMounts).toBeUndefined();
    expect(container(only.initContainers, 'migrate')?.volumeMounts).toHaveLength(1);
  });

  it('hands the agents the CA of --ca-cert in COFFER_CACERT_PEM', () => {
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const spec = validated(admit(examplePod(example('secret')), { ...EXAMPLE_SETTINGS, caPem }).result).spec!;
    expect(envOf(spec.initContainers?.[0], 'COFFER_CACERT_PEM')).toBe(caPem);
    expect(envOf(container(spec.containers, 'coffer-agent'), 'COFFER_CACERT_PEM')).toBe(caPem);
  });

  it('leaves an injected pod alone: a second review of the patched pod allows it with no patch', () => {
    const once = admit(examplePod(example('secret'))).result;
    const again = admit(once);
    expect(again.response).toEqual({ uid: 'b2c3d4e5-0001', allowed: true });
    expect(again.result).toEqual(once);
  });

  it('allows pods that do not ask for injection, and other operations and kinds, unchanged', () => {
    const plain = examplePod(example('secret'));
    plain.metadata!.annotations = { 'coffer.io/agent-inject': 'false', 'coffer.io/role': 'web' };
    expect(admit(plain).response).toEqual({ uid: 'b2c3d4e5-0001', allowed: true });
    const update = { ...admissionReviewOf(examplePod(example('secret'))) };
    update.request = { ...update.request, operation: 'UPDATE' as 'CREATE' };
    expect(reviewAdmission(update, EXAMPLE_SETTINGS).response).toEqual({ uid: update.request.uid, allowed: true });
    const deployment = admissionReviewOf(examplePod(example('secret')));
    deployment.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    expect(reviewAdmission(deployment, EXAMPLE_SETTINGS).response.patch).toBeUndefined();
  });

  it.each([
    [
      'an agent-inject that is not "true" or "false"',
      { 'coffer.io/agent-inject': 'yes' },
      'agent-inject must be "true"',
    ],
    ['no role', { 'coffer.io/role': undefined }, 'coffer.io/role is required'],
    ['a bad role', { 'coffer.io/role': 'Web Role' }, 'coffer.io/role must be a role name'],
    [
      'a bad auth path',
      { 'coffer.io/auth-path': 'auth/kubernetes' },
      'coffer.io/auth-path must be one mount path segment',
    ],
    ['a file name with ..', { 'coffer.io/agent-inject-secret-..': 'shop/db' }, 'is not a file name'],
    [
      'a file path escaping the volume',
      { 'coffer.io/agent-inject-file-db-password': '../../etc/passwd' },
      'must be a relative path inside /coffer/secrets',
    ],
    ['an absolute file path', { 'coffer.io/agent-inject-file-db-password': '/etc/passwd' }, 'must be a relative path'],
    ['an empty secret reference', { 'coffer.io/agent-inject-secret-db-password': '#password' }, 'empty secret name'],
    [
      'a template the agent would not compile',
      { 'coffer.io/agent-inject-template-db-password': '{{ secret "shop/db" ' },
      'coffer.io/agent-inject-template-db-password:1:1',
    ],
    ['a file option without a file', { 'coffer.io/agent-inject-file-other': 'x' }, 'names no file'],
    ['a bad mode', { 'coffer.io/agent-inject-perms-db-password': '0999' }, 'an octal mode'],
    ['a bad flag', { 'coffer.io/agent-pre-populate-only': 'yes' }, 'must be "true" or "false"'],
    [
      'no agent at all',
      { 'coffer.io/agent-pre-populate-only': 'true', 'coffer.io/agent-pre-populate': 'false' },
      'leave no agent to inject',
    ],
    ['root', { 'coffer.io/agent-run-as-user': '0' }, 'never root'],
    ['a poll interval under a second', { 'coffer.io/agent-poll-interval': '250ms' }, 'whole seconds'],
    ['a bad quantity', { 'coffer.io/agent-limits-mem': 'lots' }, 'a Kubernetes quantity'],
    ['an unknown container', { 'coffer.io/agent-inject-containers': 'app,worker' }, 'names worker'],
    ['nothing to render', { 'coffer.io/agent-inject-secret-db-password': undefined }, 'nothing to render'],
  ])('refuses %s with a message naming the annotation (allowed false, no patch)', (_label, change, message) => {
    const pod = examplePod(example('secret'));
    const annotations: Record<string, string | undefined> = { ...pod.metadata!.annotations, ...change };
    pod.metadata!.annotations = Object.fromEntries(
      Object.entries(annotations).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const { response } = admit(pod);
    expect(response.allowed).toBe(false);
    expect(response.patch).toBeUndefined();
    expect(response.status?.code).toBe(400);
    expect(response.status?.message).toMatch(/^coffer injector: /);
    expect(response.status?.message).toContain(message);
  });

  it('refuses a pod that already uses a name the injection needs', () => {
    const taken = examplePod(example('secret'));
    taken.spec!.containers.push({ name: 'coffer-agent', image: 'x' });
    expect(admit(taken).response.status?.message).toContain('already has a container named coffer-agent');
    const volume = examplePod(example('secret'));
    volume.spec!.volumes = [{ name: 'coffer-secrets', emptyDir: {} }];
    expect(admit(volume).response.status?.message).toContain('already has a volume named coffer-secrets');
    const mounted = examplePod(example('secret'));
    mounted.spec!.containers[0]!.volumeMounts = [{ name: 'other', mountPath: '/coffer/secrets' }];
    mounted.spec!.volumes = [{ name: 'other', emptyDir: {} }];
    expect(admit(mounted).response.status?.message).toContain('container app already mounts something');
  });

  it('refuses a body that is not an AdmissionReview v1 (the server answers 400)', () => {
    expect(() =>
      reviewAdmission({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview' }, EXAMPLE_SETTINGS),
    ).toThrow();
    const noPod = admissionReviewOf(examplePod(example('secret')));
    (noPod.request as { object: unknown }).object = { metadata: {} };
    expect(reviewAdmission(noPod, EXAMPLE_SETTINGS).response).toMatchObject({ allowed: false, status: { code: 400 } });
  });
});
