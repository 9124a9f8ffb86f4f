import { randomUUID } from 'node:crypto';
import type { ApiGatewayProxyEvent } from '../../lambdas/entrypoints/lambda/api-gateway.ts';

/**
 * The API Gateway (REST, v1) proxy event of a call to the broker Lambda by `userArn` (the caller API Gateway's IAM
 * authorisation saw; `null` for an unsigned call), as the `prod` stage delivers it.
 */
export function apiGatewayEvent(
  method: string,
  path: string,
  body: unknown,
  caller: { readonly userArn: string | null; readonly sourceIp?: string },
): ApiGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      stage: 'prod',
      path: `/prod${path}`,
      identity: { sourceIp: caller.sourceIp ?? '10.0.0.1', userArn: caller.userArn },
    },
  };
}
