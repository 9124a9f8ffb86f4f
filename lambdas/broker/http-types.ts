/**
 * The broker's transport-neutral request and response. The local server and the Lambda entry both translate to and
 * from these, so routing and business logic exist exactly once.
 */
export interface BrokerRequest {
  readonly method: string;
  /** Path as received, still percent-encoded, without the query string. */
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string>>;
  /**
   * The query string as received (still percent-encoded, without `?`), when the transport has it. `query` is decoded
   * leniently (bytes that are not UTF-8 become U+FFFD), so the broker checks this form and refuses such a query.
   */
  readonly rawQuery?: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  /**
   * The transport cut the body off at its size limit (`body` is then undefined): the broker answers 413 and audits
   * the refusal like any other.
   */
  readonly bodyTooLarge?: boolean;
  readonly sourceIp: string;
  /** The caller's IAM ARN, set only by the API Gateway entry (AWS_IAM authorisation already verified it). */
  readonly iamArn?: string | undefined;
  /**
   * The transport vouches for callers by their IAM identity alone (API Gateway's AWS_IAM authorisation): a request
   * without `iamArn` is anonymous and reaches only the `auth: 'none'` routes (health, logins), whatever token or
   * signature it carries. So a gateway method left open by mistake exposes nothing that is not public anyway.
   */
  readonly iamOnly?: boolean;
  /**
   * The client certificate (DER) the local TLS listener verified against its client CA (`COFFER_TLS_CLIENT_CA`), for
   * certificate login. Unset without mTLS; never set from anything a client merely sent.
   */
  readonly clientCertificate?: Buffer | undefined;
}

export interface BrokerResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON text; empty when `bytes` is set. */
  readonly body: string;
  /** The body of a route with a raw media type (a DER CRL), sent as it is. */
  readonly bytes?: Buffer;
}
