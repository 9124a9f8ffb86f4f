/**
 * The Kubernetes TokenReview API (`POST /apis/authentication.k8s.io/v1/tokenreviews`) as the Kubernetes auth method
 * needs it: the cluster says whether a service-account token is valid now (not deleted, its pod still running) and
 * whose it is. The local server implements it with `@kubernetes/client-node` through the egress guard; the Lambda
 * runtime has none (use the method's JWKS mode there).
 */

/** One review: where the API server is, how to trust it and authenticate to it, and the token to review. */
export interface TokenReviewRequest {
  /** `https://host[:port][/prefix]` of the API server. */
  readonly host: string;
  /** PEM of the CA(s) that signed the API server's certificate; absent = the system's trust store. */
  readonly caCert?: string | undefined;
  /** The bearer token Coffer presents (a service account allowed `create` on `tokenreviews`). */
  readonly reviewerJwt: string;
  /** The token under review. */
  readonly token: string;
  /** Audiences the token must be meant for (`spec.audiences`); absent = the API server's own. */
  readonly audiences?: readonly string[] | undefined;
}

/** The review's `status`, as the API server answered it. */
export interface TokenReviewResult {
  readonly authenticated: boolean;
  /** `system:serviceaccount:<namespace>:<name>` for a service-account token. */
  readonly username?: string | undefined;
  readonly uid?: string | undefined;
  /** `authentication.kubernetes.io/pod-name`, `…/pod-uid`, … */
  readonly extra?: Readonly<Record<string, readonly string[]>> | undefined;
  /** The audiences the token was found valid for. */
  readonly audiences?: readonly string[] | undefined;
  /** Why the token is not authenticated, in the API server's words. */
  readonly error?: string | undefined;
}

export interface KubernetesTokenReviewer {
  /**
   * @throws InternalError when the review could not be made (egress refused, TLS failure, the API server refused the
   *   reviewer): a server-side fault, never the caller's token
   */
  review(request: TokenReviewRequest): Promise<TokenReviewResult>;
}
