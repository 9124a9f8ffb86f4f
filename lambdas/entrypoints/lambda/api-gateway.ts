import { X509Certificate } from 'node:crypto';
import type { Broker } from '../../broker/broker.ts';
import type { BrokerRequest, BrokerResponse } from '../../broker/http-types.ts';
import { TOKEN_BASE_PATH } from './deployment-names.ts';

/** The parts of an API Gateway REST (v1) proxy event the broker uses. */
export interface ApiGatewayProxyEvent {
  httpMethod: string;
  path: string;
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext: {
    requestId?: string;
    stage?: string;
    path?: string;
    identity: {
      sourceIp: string;
      userArn?: string | null;
      caller?: string | null;
      /**
       * Set by API Gateway on a custom domain with mutual TLS, only once the client certificate verified against the
       * domain's truststore (a client cannot set it: it is not a header).
       */
      clientCert?: { clientCertPem?: string | null } | null;
    };
  };
}

export interface ApiGatewayProxyResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /** True for a raw binary body (a DER CRL); the API's binary media types let API Gateway send it as bytes. */
  isBase64Encoded: boolean;
}

export function toBrokerRequest(event: ApiGatewayProxyEvent): BrokerRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const body =
    event.body === undefined || event.body === null
      ? undefined
      : Buffer.from(event.body, event.isBase64Encoded === true ? 'base64' : 'utf8');
  // `requestContext.path` keeps the caller's percent-encoding (`path` may be decoded) but carries the stage prefix.
  const { stage, path: contextPath } = event.requestContext;
  const rawPath =
    contextPath === undefined
      ? event.path
      : stage !== undefined && contextPath.startsWith(`/${stage}/`)
        ? contextPath.slice(stage.length + 1)
        : contextPath;
  // Under the token base path API Gateway authorises nobody: the broker authenticates the Coffer token itself, and no
  // IAM identity counts there (nor could one: those methods carry no IAM authorisation).
  const tokenCaller = rawPath === TOKEN_BASE_PATH || rawPath.startsWith(`${TOKEN_BASE_PATH}/`);
  return {
    method: event.httpMethod,
    rawPath: tokenCaller ? rawPath.slice(TOKEN_BASE_PATH.length) || '/' : rawPath,
    query,
    headers,
    body,
    sourceIp: event.requestContext.identity.sourceIp,
    ...(tokenCaller
      ? { iamArn: undefined, iamOnly: false }
      : { iamArn: event.requestContext.identity.userArn ?? undefined, iamOnly: true }),
    ...clientCertificateOf(event.requestContext.identity.clientCert?.clientCertPem),
  };
}

/**
 * The mTLS client certificate API Gateway verified, as DER for certificate login. Only from `requestContext`, never
 * a header (a client could send any header, e.g. `x-amzn-mtls-clientcert`); one that does not parse is left out.
 */
function clientCertificateOf(pem: string | null | undefined): { clientCertificate?: Buffer } {
  if (pem === undefined || pem === null || pem === '') return {};
  try {
    return { clientCertificate: new X509Certificate(pem).raw };
  } catch {
    return {};
  }
}

export function toProxyResult(response: BrokerResponse): ApiGatewayProxyResult {
  if (response.bytes !== undefined) {
    return {
      statusCode: response.status,
      headers: response.headers,
      body: response.bytes.toString('base64'),
      isBase64Encoded: true,
    };
  }
  return { statusCode: response.status, headers: response.headers, body: response.body, isBase64Encoded: false };
}

/**
 * The CORS headers of every broker answer when a web console is deployed: its origin and nothing else (never `*`),
 * so only the console's page may read the answers; the browser still sends no cookie (the API uses none).
 */
export function consoleCorsHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

/**
 * The Lambda entry: the same broker as the local server, behind API Gateway's proxy integration.
 * @param options.consoleOrigin the web console's origin (`COFFER_CONSOLE_ORIGIN`), allowed to read every answer
 */
export function createApiGatewayHandler(
  broker: Pick<Broker, 'handle'>,
  options: { readonly consoleOrigin?: string | undefined } = {},
) {
  const cors = options.consoleOrigin === undefined ? undefined : consoleCorsHeaders(options.consoleOrigin);
  return async (event: ApiGatewayProxyEvent): Promise<ApiGatewayProxyResult> => {
    const result = toProxyResult(await broker.handle(toBrokerRequest(event)));
    return cors === undefined ? result : { ...result, headers: { ...result.headers, ...cors } };
  };
}
