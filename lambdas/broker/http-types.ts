/**
 * The broker's transport-neutral request and response. The local server and the Lambda entry both translate to and
 * from these, so routing and business logic exist exactly once.
 */
export interface BrokerRequest {
  readonly method: string;
  /** Path as received, still percent-encoded, without the query string. */
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  readonly sourceIp: string;
  /** The caller's IAM ARN, set only by the API Gateway entry (AWS_IAM authorisation already verified it). */
  readonly iamArn?: string | undefined;
}

export interface BrokerResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON text; empty when `bytes` is set. */
  readonly body: string;
  /** The body of a route with a raw media type (a DER CRL), sent as it is. */
  readonly bytes?: Buffer;
}
