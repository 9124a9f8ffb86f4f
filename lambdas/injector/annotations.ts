import * as z from 'zod';
import { DEFAULT_STAGE, parseSecretRef, type SecretRef } from '../agent/secret-ref.ts';
import { compileTemplate } from '../agent/template.ts';

/**
 * The pod annotations the injector reads, as Vault's agent injector names them under `vault.hashicorp.com/` (a Vault
 * user finds the same keys under `coffer.io/`). Only annotations on the pod count: a Deployment's own annotations
 * never reach the pods it creates.
 */
export const ANNOTATION_PREFIX = 'coffer.io/';

export const ANNOTATIONS = {
  /** `"true"` asks for injection; anything else leaves the pod as it is. */
  inject: 'coffer.io/agent-inject',
  /** Set to `injected` by the injector: a pod that carries it is never mutated again (reinvocation, re-admission). */
  status: 'coffer.io/agent-inject-status',
  /** The Kubernetes auth role the agent logs in with. Required. */
  role: 'coffer.io/role',
  /** The Kubernetes auth mount. @default "kubernetes" */
  authPath: 'coffer.io/auth-path',
  /** The audience of the service-account token projected for the agent; the role binds it. @default "coffer" */
  audience: 'coffer.io/auth-audience',
  /** `"true"`: the init container only, no sidecar (secrets rendered once, at start; Jobs). @default "false" */
  prePopulateOnly: 'coffer.io/agent-pre-populate-only',
  /** `"false"`: no init container, the sidecar only (the app may start before its files exist). @default "true" */
  prePopulate: 'coffer.io/agent-pre-populate',
  /** `"false"`: the init container runs after the pod's own init containers. @default "true" */
  initFirst: 'coffer.io/agent-init-first',
  /** How often the sidecar checks the secrets' versions (`"30s"`, `"5m"`). @default the agent's, 30s */
  pollInterval: 'coffer.io/agent-poll-interval',
  /** The agent's image. @default the injector's `--agent-image` */
  image: 'coffer.io/agent-image',
  /** Comma-separated containers that mount the secrets volume. @default every container of the pod */
  containers: 'coffer.io/agent-inject-containers',
  limitsCpu: 'coffer.io/agent-limits-cpu',
  limitsMem: 'coffer.io/agent-limits-mem',
  requestsCpu: 'coffer.io/agent-requests-cpu',
  requestsMem: 'coffer.io/agent-requests-mem',
  /** The agent containers' user and group. @default 65532 and 65532 (the image's `nonroot`) */
  runAsUser: 'coffer.io/agent-run-as-user',
  runAsGroup: 'coffer.io/agent-run-as-group',
} as const;

/** The per-file annotations: `coffer.io/agent-inject-<kind>-<file>`. */
const FILE_ANNOTATION = /^coffer\.io\/agent-inject-(secret|template|file|perms)-(.+)$/;

/** Where the rendered files are, in every container that mounts the volume. */
export const SECRETS_DIR = '/coffer/secrets';

export const AGENT_DEFAULTS = {
  authPath: 'kubernetes',
  audience: 'coffer',
  runAsUser: 65532,
  runAsGroup: 65532,
  /**
   * The app container usually runs as another user than the agent, and an emptyDir shares no owner: the files are
   * readable by the pod's containers (the volume is mounted in this pod only). `agent-inject-perms-<file>` narrows it.
   */
  perms: '0644',
  requests: { cpu: '50m', memory: '64Mi' },
  // Node needs more headroom than Vault's Go agent (128Mi): the heap and the runtime take about 50Mi idle.
  limits: { cpu: '500m', memory: '256Mi' },
} as const;

/** An annotation the injector cannot act on: the pod is refused with this message (an admission denial, not a 500). */
export class AnnotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnnotationError';
  }
}

/** One file the agent renders into the shared volume. */
export interface InjectedFile {
  /** The `<file>` of the annotations, naming the file. */
  readonly key: string;
  /** The path under SECRETS_DIR (`agent-inject-file-<file>`, else `<file>`). */
  readonly path: string;
  /** The agent template: the annotation's, or one reading the secret of `agent-inject-secret-<file>`. */
  readonly template: string;
  readonly perms: string;
}

/** What the annotations ask for, checked. */
export interface InjectionRequest {
  readonly role: string;
  readonly authPath: string;
  readonly audience: string;
  readonly files: readonly InjectedFile[];
  readonly initContainer: boolean;
  readonly sidecar: boolean;
  readonly initFirst: boolean;
  readonly image: string | undefined;
  readonly pollInterval: string | undefined;
  /** Undefined: every container of the pod. */
  readonly containers: readonly string[] | undefined;
  readonly resources: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
  };
  readonly runAsUser: number;
  readonly runAsGroup: number;
}

/** As the Kubernetes auth method names roles (`RoleNameSchema`), so a role it could never have is refused here. */
const ROLE = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
/** An auth mount: one path segment, as the agent's config takes it. */
const MOUNT = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** A name the annotation key allows, kept to characters that are safe as a file name. */
const FILE_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A relative path of plain segments: no `..`, no absolute path, nothing outside the volume. */
const FILE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A Kubernetes quantity (`100m`, `1`, `128Mi`, `1G`). */
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** An OCI image reference: registry/repository[:tag][@digest], no whitespace. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/;

const TRUE_OR_FALSE = z.enum(['true', 'false']);

/**
 * True when the annotations ask for injection and the pod was not injected already.
 * @throws AnnotationError for an `agent-inject` that is neither "true" nor "false": a pod that meant "yes" would
 *   otherwise start without the secrets it asked for, and without a word why.
 */
export function wantsInjection(annotations: Readonly<Record<string, string>>): boolean {
  const inject = annotations[ANNOTATIONS.inject];
  if (inject === undefined || annotations[ANNOTATIONS.status] === 'injected') return false;
  if (!TRUE_OR_FALSE.safeParse(inject).success) {
    throw new AnnotationError(`${ANNOTATIONS.inject} must be "true" or "false", got ${JSON.stringify(inject)}`);
  }
  return inject === 'true';
}

/**
 * Reads and checks the annotations of a pod that asks for injection.
 * @throws AnnotationError naming the annotation and what is wrong with it.
 * @example parseInjectionRequest({ 'coffer.io/agent-inject': 'true', 'coffer.io/role': 'web',
 *   'coffer.io/agent-inject-secret-db.txt': 'shop/db#password' })
 */
export function parseInjectionRequest(annotations: Readonly<Record<string, string>>): InjectionRequest {
  const get = (key: string): string | undefined => annotations[key];
  const flag = (key: string, fallback: boolean): boolean => {
    const value = get(key);
    if (value === undefined) return fallback;
    const parsed = TRUE_OR_FALSE.safeParse(value);
    if (!parsed.success) throw new AnnotationError(`${key} must be "true" or "false", got ${JSON.stringify(value)}`);
    return parsed.data === 'true';
  };
  const matching = (key: string, pattern: RegExp, what: string, fallback: string): string => {
    const value = get(key) ?? fallback;
    if (!pattern.test(value)) throw new AnnotationError(`${key} must be ${what}, got ${JSON.stringify(value)}`);
    return value;
  };
  const id = (key: string, fallback: number): number => {
    const value = get(key);
    if (value === undefined) return fallback;
    const parsed = /^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : Number.NaN;
    if (!(parsed <= 2_147_483_647)) {
      throw new AnnotationError(`${key} must be a user or group id from 1 (never root), got ${JSON.stringify(value)}`);
    }
    return parsed;
  };

  const role = get(ANNOTATIONS.role);
  if (role === undefined)
    throw new AnnotationError(`${ANNOTATIONS.role} is required: the Kubernetes auth role to log in with`);
  if (!ROLE.test(role)) {
    throw new AnnotationError(`${ANNOTATIONS.role} must be a role name (a-z, 0-9, _ . -), got ${JSON.stringify(role)}`);
  }
  const authPath = matching(
    ANNOTATIONS.authPath,
    MOUNT,
    'one mount path segment (a-z, 0-9, _ -)',
    AGENT_DEFAULTS.authPath,
  );
  const audience = matching(ANNOTATIONS.audience, /^[\x21-\x7e]{1,256}$/, 'a token audience', AGENT_DEFAULTS.audience);
  const prePopulateOnly = flag(ANNOTATIONS.prePopulateOnly, false);
  const prePopulate = flag(ANNOTATIONS.prePopulate, true);
  if (prePopulateOnly && !prePopulate) {
    throw new AnnotationError(
      `${ANNOTATIONS.prePopulateOnly} "true" and ${ANNOTATIONS.prePopulate} "false" leave no agent to inject`,
    );
  }
  const image = get(ANNOTATIONS.image);
  if (image !== undefined && !IMAGE.test(image)) {
    throw new AnnotationError(`${ANNOTATIONS.image} must be an image reference, got ${JSON.stringify(image)}`);
  }
  const pollInterval = get(ANNOTATIONS.pollInterval);
  // Not under a second: every agent of every replica polls the server at this pace.
  if (pollInterval !== undefined && !/^([1-9][0-9]*(s|m|h)|[1-9][0-9]*)$/.test(pollInterval)) {
    throw new AnnotationError(
      `${ANNOTATIONS.pollInterval} must be a duration of whole seconds, minutes or hours ("30s", "5m"), got ${JSON.stringify(pollInterval)}`,
    );
  }
  const containersText = get(ANNOTATIONS.containers);
  const containers = containersText?.split(',').map((name) => name.trim());
  for (const name of containers ?? []) {
    if (!DNS_LABEL.test(name)) {
      throw new AnnotationError(`${ANNOTATIONS.containers} must list container names, got ${JSON.stringify(name)}`);
    }
  }
  const quantity = (key: string, fallback: string) => matching(key, QUANTITY, 'a Kubernetes quantity', fallback);
  return {
    role,
    authPath,
    audience,
    files: parseFiles(annotations),
    initContainer: prePopulate,
    sidecar: !prePopulateOnly,
    initFirst: flag(ANNOTATIONS.initFirst, true),
    image,
    pollInterval,
    containers,
    resources: {
      requests: {
        cpu: quantity(ANNOTATIONS.requestsCpu, AGENT_DEFAULTS.requests.cpu),
        memory: quantity(ANNOTATIONS.requestsMem, AGENT_DEFAULTS.requests.memory),
      },
      limits: {
        cpu: quantity(ANNOTATIONS.limitsCpu, AGENT_DEFAULTS.limits.cpu),
        memory: quantity(ANNOTATIONS.limitsMem, AGENT_DEFAULTS.limits.memory),
      },
    },
    runAsUser: id(ANNOTATIONS.runAsUser, AGENT_DEFAULTS.runAsUser),
    runAsGroup: id(ANNOTATIONS.runAsGroup, AGENT_DEFAULTS.runAsGroup),
  };
}

/** The files of `agent-inject-secret-<file>` and `agent-inject-template-<file>`, with their file and perms options. */
function parseFiles(annotations: Readonly<Record<string, string>>): InjectedFile[] {
  const byKey = new Map<string, Partial<Record<'secret' | 'template' | 'file' | 'perms', string>>>();
  for (const [key, value] of Object.entries(annotations)) {
    const match = FILE_ANNOTATION.exec(key);
    if (match === null) continue;
    const [, kind, name] = match as unknown as [string, 'secret' | 'template' | 'file' | 'perms', string];
    if (!FILE_KEY.test(name) || name === '.' || name === '..') {
      throw new AnnotationError(`${key}: "${name}" is not a file name (letters, digits, _ . -; not . or ..)`);
    }
    byKey.set(name, { ...byKey.get(name), [kind]: value });
  }
  const files: InjectedFile[] = [];
  const paths = new Map<string, string>();
  for (const [key, parts] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (parts.secret === undefined && parts.template === undefined) {
      throw new AnnotationError(
        `coffer.io/agent-inject-${parts.file === undefined ? 'perms' : 'file'}-${key} names no file: add ` +
          `coffer.io/agent-inject-secret-${key} or coffer.io/agent-inject-template-${key}`,
      );
    }
    const file = parts.file ?? key;
    const segments = file.split('/');
    if (segments.some((segment) => !FILE_SEGMENT.test(segment) || segment === '..' || segment === '.')) {
      throw new AnnotationError(
        `coffer.io/agent-inject-file-${key} must be a relative path inside ${SECRETS_DIR} (no "..", no leading "/"), ` +
          `got ${JSON.stringify(file)}`,
      );
    }
    const clash = paths.get(file);
    if (clash !== undefined) throw new AnnotationError(`files ${clash} and ${key} both render ${SECRETS_DIR}/${file}`);
    paths.set(file, key);
    const perms = parts.perms ?? AGENT_DEFAULTS.perms;
    if (!/^0?[0-7]{3}$/.test(perms)) {
      throw new AnnotationError(
        `coffer.io/agent-inject-perms-${key} must be an octal mode such as "0640", got ${JSON.stringify(perms)}`,
      );
    }
    const template = parts.template ?? secretTemplate(key, parts.secret ?? '');
    checkTemplate(key, template);
    files.push({ key, path: file, template, perms });
  }
  if (files.length === 0) {
    throw new AnnotationError(
      'nothing to render: add coffer.io/agent-inject-secret-<file> (a secret reference) or ' +
        'coffer.io/agent-inject-template-<file> (a template)',
    );
  }
  return files;
}

/**
 * The template of a file that names a secret only: the reference's value as it is, as `coffer run` injects it.
 * The reference is `secret[#field][@stage]`, as everywhere in the CLI and the agent.
 */
function secretTemplate(key: string, text: string): string {
  let ref: SecretRef;
  try {
    ref = parseSecretRef(text.trim());
  } catch (err) {
    throw new AnnotationError(
      `coffer.io/agent-inject-secret-${key}: ${err instanceof Error ? err.message : 'invalid'}`,
    );
  }
  const field = ref.field === undefined ? '' : ` ${JSON.stringify(ref.field)}`;
  const stage = ref.stage === DEFAULT_STAGE ? '' : ` stage=${JSON.stringify(ref.stage)}`;
  return `{{ secret ${JSON.stringify(ref.name)}${field}${stage} }}`;
}

/** A template the agent would refuse is refused at admission, where the pod's author sees why. */
function checkTemplate(key: string, template: string): void {
  try {
    compileTemplate(template, `coffer.io/agent-inject-template-${key}`);
  } catch (err) {
    throw new AnnotationError(err instanceof Error ? err.message : `coffer.io/agent-inject-template-${key} is invalid`);
  }
}
