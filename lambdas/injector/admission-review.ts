import type { V1Pod, V1Status } from '@kubernetes/client-node';
// A CommonJS package: Node sees its exports on the default import only.
import jsonPatch from 'fast-json-patch';
import * as z from 'zod';
import { type InjectorSettings, injectAgent } from './agent-pod.ts';
import { AnnotationError, parseInjectionRequest, wantsInjection } from './annotations.ts';

/**
 * `admission.k8s.io/v1` AdmissionReview, the part the injector reads. `@kubernetes/client-node` has no types for
 * the admission API (the API server sends it, no client calls it), so the schema is here; the pod is its `V1Pod`.
 */
const GroupVersionKind = z.object({ group: z.string(), version: z.string(), kind: z.string() });

const PodShape = z.looseObject({
  metadata: z.looseObject({ annotations: z.record(z.string(), z.string()).optional() }).optional(),
  spec: z.looseObject({
    containers: z.array(z.looseObject({ name: z.string().min(1) })).min(1),
    initContainers: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
    volumes: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
  }),
});

export const AdmissionReviewRequestSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1).max(128),
    kind: GroupVersionKind,
    operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
    namespace: z.string().optional(),
    name: z.string().optional(),
    dryRun: z.boolean().optional(),
    object: z.unknown(),
  }),
});

export type AdmissionReviewRequest = z.input<typeof AdmissionReviewRequestSchema>;

/** The AdmissionReview the injector answers with: `response.uid` echoes the request's. */
export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    patchType?: 'JSONPatch';
    /** Base64 of the JSON Patch (RFC 6902) that turns the pod sent into the injected pod. */
    patch?: string;
    status?: Pick<V1Status, 'code' | 'message' | 'reason'>;
  };
}

/**
 * Answers one admission review: pods that ask for the agent get it as a JSON Patch, pods that do not (or were
 * injected already) are allowed unchanged, and pods whose annotations cannot be acted on are refused with a message
 * naming the annotation (`kubectl apply` shows it), since a pod without the secrets it asked for would fail later
 * and more obscurely.
 * @throws ZodError when the body is not an AdmissionReview v1 (the server answers 400).
 */
export function reviewAdmission(body: unknown, settings: InjectorSettings): AdmissionReviewResponse {
  const { request } = AdmissionReviewRequestSchema.parse(body);
  const answer = (response: Omit<AdmissionReviewResponse['response'], 'uid'>): AdmissionReviewResponse => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid, ...response },
  });
  // Only pods being created are injected (a running pod's containers cannot change); anything else passes.
  const isPod = request.kind.group === '' && request.kind.version === 'v1' && request.kind.kind === 'Pod';
  if (!isPod || request.operation !== 'CREATE') return answer({ allowed: true });
  const shape = PodShape.safeParse(request.object);
  if (!shape.success) {
    return answer({
      allowed: false,
      status: { code: 400, reason: 'BadRequest', message: 'coffer injector: the request holds no pod with containers' },
    });
  }
  const pod = shape.data as V1Pod;
  const annotations = pod.metadata?.annotations ?? {};
  try {
    if (!wantsInjection(annotations)) return answer({ allowed: true });
    const injected = injectAgent(pod, parseInjectionRequest(annotations), settings);
    const patch = jsonPatch.compare(pod, injected);
    return answer({
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    });
  } catch (err) {
    if (!(err instanceof AnnotationError)) throw err;
    return answer({
      allowed: false,
      status: { code: 400, reason: 'BadRequest', message: `coffer injector: ${err.message}` },
    });
  }
}
