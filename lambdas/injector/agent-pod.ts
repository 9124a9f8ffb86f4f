import type { V1Container, V1EnvVar, V1Pod, V1SecurityContext, V1Volume } from '@kubernetes/client-node';
import { parseAgentConfig } from '../agent/config.ts';
import { ANNOTATIONS, AnnotationError, type InjectionRequest, SECRETS_DIR } from './annotations.ts';

/** What the injector was started with: the same for every pod. */
export interface InjectorSettings {
  /** The address the agents reach Coffer at (`--coffer-addr`). */
  readonly cofferAddress: string;
  /** @default the `--agent-image` of the injector */
  readonly agentImage: string;
  /** The CA certificates (PEM) the agents trust for `cofferAddress` (`--ca-cert`), passed in COFFER_CACERT_PEM. */
  readonly caPem?: string | undefined;
}

export const INIT_CONTAINER = 'coffer-agent-init';
export const SIDECAR = 'coffer-agent';
export const SECRETS_VOLUME = 'coffer-secrets';
export const TOKEN_VOLUME = 'coffer-token';
/** The projected token's directory in the agent containers, apart from the API server's own token. */
export const TOKEN_DIR = '/var/run/secrets/coffer.io/serviceaccount';
/** The environment variable holding the agent's configuration (JSON): the image needs no shell to write a file. */
export const CONFIG_ENV = 'COFFER_AGENT_CONFIG';
/** The kubelet refreshes a projected token at 80% of its life; an hour is what the API server's own token uses. */
const TOKEN_SECONDS = 3600;

/** The agent's configuration for a pod: a Kubernetes login with the projected token, one template per file. */
export function agentConfig(request: InjectionRequest, settings: InjectorSettings): Record<string, unknown> {
  return {
    address: settings.cofferAddress,
    auto_auth: {
      method: 'kubernetes',
      mount: request.authPath,
      role: request.role,
      token_path: `${TOKEN_DIR}/token`,
    },
    ...(request.pollInterval === undefined
      ? {}
      : { poll_interval: /^\d+$/.test(request.pollInterval) ? Number(request.pollInterval) : request.pollInterval }),
    templates: request.files.map((file) => ({
      contents: file.template,
      destination: `${SECRETS_DIR}/${file.path}`,
      perms: file.perms,
    })),
  };
}

/**
 * The pod with the agent injected: a memory-backed volume for the rendered files, mounted read-only in the app's
 * containers; an init container that renders them once before the app starts; a sidecar that keeps them current;
 * a projected service-account token for Coffer's audience, seen by the agent containers only; and the status
 * annotation that makes a second admission of the same pod a no-op. The input is not changed.
 * @throws AnnotationError when the pod already uses a name or path the injection needs.
 */
export function injectAgent(pod: V1Pod, request: InjectionRequest, settings: InjectorSettings): V1Pod {
  const spec = pod.spec;
  if (spec === undefined) throw new AnnotationError('the pod has no spec');
  const config = agentConfig(request, settings);
  // The agent parses the same JSON at start: a config it would refuse must not reach a pod.
  try {
    parseAgentConfig(config, '/');
  } catch (err) {
    throw new AnnotationError(err instanceof Error ? err.message : 'the generated agent config is invalid');
  }
  const names = new Set([...spec.containers, ...(spec.initContainers ?? [])].map((c) => c.name));
  for (const name of [INIT_CONTAINER, SIDECAR]) {
    if (names.has(name)) throw new AnnotationError(`the pod already has a container named ${name}`);
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.name === SECRETS_VOLUME || volume.name === TOKEN_VOLUME) {
      throw new AnnotationError(`the pod already has a volume named ${volume.name}`);
    }
  }
  const ownInit = spec.initContainers ?? [];
  // The pod's own init containers see the files only when the agent's init container has rendered them first.
  const mountable = [...spec.containers, ...(request.initContainer && request.initFirst ? ownInit : [])];
  const targets = request.containers ?? mountable.map((c) => c.name);
  for (const name of targets) {
    if (!mountable.some((c) => c.name === name)) {
      throw new AnnotationError(
        `${ANNOTATIONS.containers} names ${name}, which is not a container of the pod (or an init container that runs after the agent's)`,
      );
    }
  }
  const mountSecrets = (container: V1Container): V1Container => {
    if (!targets.includes(container.name)) return container;
    if ((container.volumeMounts ?? []).some((m) => m.mountPath === SECRETS_DIR)) {
      throw new AnnotationError(`container ${container.name} already mounts something at ${SECRETS_DIR}`);
    }
    return {
      ...container,
      volumeMounts: [
        ...(container.volumeMounts ?? []),
        { name: SECRETS_VOLUME, mountPath: SECRETS_DIR, readOnly: true },
      ],
    };
  };

  const env: V1EnvVar[] = [{ name: CONFIG_ENV, value: JSON.stringify(config) }];
  if (settings.caPem !== undefined) env.push({ name: 'COFFER_CACERT_PEM', value: settings.caPem });
  const agent = (name: string, once: boolean): V1Container => ({
    name,
    image: request.image ?? settings.agentImage,
    imagePullPolicy: 'IfNotPresent',
    // Arguments of the image's entrypoint, which is `coffer` (the Dockerfile's): a distroless image has no shell
    // and no `coffer` on a PATH to name in a command.
    args: ['agent', '--config-env', CONFIG_ENV, ...(once ? ['--once'] : [])],
    env,
    resources: { requests: { ...request.resources.requests }, limits: { ...request.resources.limits } },
    securityContext: hardened(request),
    volumeMounts: [
      { name: SECRETS_VOLUME, mountPath: SECRETS_DIR },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ],
  });

  const volumes: V1Volume[] = [
    ...(spec.volumes ?? []),
    { name: SECRETS_VOLUME, emptyDir: { medium: 'Memory' } },
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          { serviceAccountToken: { audience: request.audience, expirationSeconds: TOKEN_SECONDS, path: 'token' } },
        ],
      },
    },
  ];
  const init = request.initContainer ? [agent(INIT_CONTAINER, true)] : [];
  const initContainers = request.initFirst ? [...init, ...ownInit.map(mountSecrets)] : [...ownInit, ...init];
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: { ...pod.metadata?.annotations, [ANNOTATIONS.status]: 'injected' },
    },
    spec: {
      ...spec,
      volumes,
      ...(initContainers.length === 0 ? {} : { initContainers }),
      containers: [...spec.containers.map(mountSecrets), ...(request.sidecar ? [agent(SIDECAR, false)] : [])],
    },
  };
}

/** What the restricted Pod Security Standard asks of a container, and a read-only root: the agent writes only the volume. */
function hardened(request: InjectionRequest): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: request.runAsUser,
    runAsGroup: request.runAsGroup,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
