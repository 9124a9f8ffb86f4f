import type { TokenReviewResult } from '../../ports/kubernetes-token-review.ts';
import { globMatch } from '../methods/globs.ts';
import type { KubernetesRole } from './kubernetes-config.ts';
import { KubernetesLoginError } from './kubernetes-errors.ts';

/** Who a service-account token speaks for. */
export interface ServiceAccount {
  readonly namespace: string;
  readonly name: string;
  /** Absent only in a TokenReview answer without `user.uid` (old API servers). */
  readonly uid?: string | undefined;
  /** Legacy (secret-based) tokens name their secret. */
  readonly secretName?: string | undefined;
  /** Projected tokens bound to a pod name it. */
  readonly podName?: string | undefined;
  readonly podUid?: string | undefined;
}

const USERNAME_PREFIX = 'system:serviceaccount:';
const LEGACY = 'kubernetes.io/serviceaccount/';
/** Longest value kept: Kubernetes names are at most 253 characters; anything longer is not one. */
const MAX_VALUE = 253;

/**
 * The service account a token's claims name, in either shape Kubernetes issues:
 * - projected (bound) tokens: `kubernetes.io: { namespace, serviceaccount: { name, uid }, pod: { name, uid } }`;
 * - legacy secret-based tokens: `kubernetes.io/serviceaccount/namespace`, `…/service-account.name`,
 *   `…/service-account.uid`, `…/secret.name`.
 * A `sub` (`system:serviceaccount:<namespace>:<name>`) must agree with them.
 *
 * @throws KubernetesLoginError `token is not a Kubernetes service-account token` when neither shape is there
 */
export function serviceAccountFromClaims(claims: Readonly<Record<string, unknown>>): ServiceAccount {
  const account = projected(claims) ?? legacy(claims);
  if (account === undefined) {
    throw new KubernetesLoginError('claim', 'token is not a Kubernetes service-account token');
  }
  if (claims.sub !== undefined && claims.sub !== `${USERNAME_PREFIX}${account.namespace}:${account.name}`) {
    throw new KubernetesLoginError('claim', 'token subject does not name its service account');
  }
  return account;
}

function projected(claims: Readonly<Record<string, unknown>>): ServiceAccount | undefined {
  const k8s = objectAt(claims, 'kubernetes.io');
  if (k8s === undefined) return undefined;
  const sa = objectAt(k8s, 'serviceaccount');
  const pod = objectAt(k8s, 'pod');
  const namespace = text(k8s.namespace);
  const name = text(sa?.name);
  const uid = text(sa?.uid);
  if (namespace === undefined || name === undefined || uid === undefined) return undefined;
  return { namespace, name, uid, podName: text(pod?.name), podUid: text(pod?.uid) };
}

function legacy(claims: Readonly<Record<string, unknown>>): ServiceAccount | undefined {
  const at = (key: string) => (Object.hasOwn(claims, `${LEGACY}${key}`) ? text(claims[`${LEGACY}${key}`]) : undefined);
  const namespace = at('namespace');
  const name = at('service-account.name');
  const uid = at('service-account.uid');
  if (namespace === undefined || name === undefined || uid === undefined) return undefined;
  return { namespace, name, uid, secretName: at('secret.name') };
}

/**
 * The service account a TokenReview answer names: `status.user.username` is `system:serviceaccount:<ns>:<name>`,
 * `user.uid` its uid, and `user.extra` the pod the token is bound to.
 *
 * @throws KubernetesLoginError when the cluster did not authenticate the token, or it is not a service account's
 */
export function serviceAccountFromReview(review: TokenReviewResult): ServiceAccount {
  if (!review.authenticated) {
    throw new KubernetesLoginError(
      'token_review',
      'the cluster did not authenticate the token',
      undefined,
      review.error === undefined ? undefined : review.error.slice(0, 200),
    );
  }
  const username = review.username ?? '';
  const parts = username.startsWith(USERNAME_PREFIX) ? username.slice(USERNAME_PREFIX.length).split(':') : [];
  const namespace = text(parts[0]);
  const name = text(parts[1]);
  if (parts.length !== 2 || namespace === undefined || name === undefined) {
    throw new KubernetesLoginError('token_review', 'the token is not a service account’s');
  }
  const extra = (key: string) => text(review.extra?.[`authentication.kubernetes.io/${key}`]?.[0]);
  return { namespace, name, uid: text(review.uid), podName: extra('pod-name'), podUid: extra('pod-uid') };
}

/**
 * Checks a role's bindings: the service account's namespace must match one of `bound_service_account_namespaces` and
 * its name one of `bound_service_account_names` (each `*` a glob).
 *
 * @throws KubernetesLoginError `namespace not allowed by the role` or `service account not allowed by the role`
 */
export function checkBindings(role: KubernetesRole, account: ServiceAccount): void {
  if (!role.bound_service_account_namespaces.some((pattern) => globMatch(pattern, account.namespace))) {
    throw new KubernetesLoginError('namespace', 'namespace not allowed by the role');
  }
  if (!role.bound_service_account_names.some((pattern) => globMatch(pattern, account.name))) {
    throw new KubernetesLoginError('service_account', 'service account not allowed by the role');
  }
}

/** The login's metadata (Vault's names), seen by templated policies as `{{principal.metadata.<key>}}`. */
export function serviceAccountMetadata(account: ServiceAccount): Record<string, string> {
  return {
    service_account_name: account.name,
    service_account_namespace: account.namespace,
    ...(account.uid !== undefined && { service_account_uid: account.uid }),
    ...(account.secretName !== undefined && { service_account_secret_name: account.secretName }),
    ...(account.podName !== undefined && { service_account_pod_name: account.podName }),
    ...(account.podUid !== undefined && { service_account_pod_uid: account.podUid }),
  };
}

/**
 * Who logged in, by the role's `alias_name_source`: the service account's uid (survives a rename, not a re-creation)
 * or `<namespace>/<name>`. Without a uid the name is used.
 */
export function serviceAccountAlias(account: ServiceAccount, source: KubernetesRole['alias_name_source']): string {
  return source === 'serviceaccount_uid' && account.uid !== undefined
    ? account.uid
    : `${account.namespace}/${account.name}`;
}

function objectAt(value: Readonly<Record<string, unknown>>, key: string): Record<string, unknown> | undefined {
  if (!Object.hasOwn(value, key)) return undefined;
  const found = value[key];
  return typeof found === 'object' && found !== null && !Array.isArray(found)
    ? (found as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= MAX_VALUE ? value : undefined;
}
