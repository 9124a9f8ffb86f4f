import { describe, expect, it } from 'vitest';
import { createApiGatewayHandler, toBrokerRequest } from '../../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { memoryNode } from '../../../support/memory-node.ts';
import { makeCa } from '../../core/auth/cert/cert-test-ca.ts';

const event = (overrides: Record<string, unknown> = {}) => ({
  httpMethod: 'GET',
  path: '/v1/sys/health',
  headers: { Accept: 'application/json' },
  queryStringParameters: null,
  body: null,
  isBase64Encoded: false,
  requestContext: { identity: { sourceIp: '10.0.0.7', userArn: null } },
  ...overrides,
});

describe('API Gateway entry', () => {
  it('maps a proxy event onto the broker request, keeping the encoded path and the IAM caller', () => {
    const req = toBrokerRequest(
      event({
        httpMethod: 'PUT',
        path: '/v1/secret/data/a/b',
        headers: { 'X-Coffer-Token': 't', 'Content-Type': 'application/json' },
        queryStringParameters: { stage: 'AWSCURRENT' },
        body: Buffer.from('{"value":"x"}').toString('base64'),
        isBase64Encoded: true,
        requestContext: {
          stage: 'prod',
          path: '/prod/v1/secret/data/a%2Fb',
          identity: { sourceIp: '10.0.0.7', userArn: 'arn:aws:iam::123456789012:role/app' },
        },
      }),
    );
    expect(req.rawPath).toBe('/v1/secret/data/a%2Fb');
    expect(req.headers['x-coffer-token']).toBe('t');
    expect(req.query).toEqual({ stage: 'AWSCURRENT' });
    expect(req.body?.toString()).toBe('{"value":"x"}');
    expect(req.iamArn).toBe('arn:aws:iam::123456789012:role/app');
    expect(req.sourceIp).toBe('10.0.0.7');
  });

  it("hands certificate login the client certificate API Gateway's mTLS verified, and never one from a header", async () => {
    const ca = await makeCa(Date.now());
    const client = await ca.issue({ subject: 'CN=lambda-client' });
    const withCert = toBrokerRequest(
      event({
        headers: { 'x-amzn-mtls-clientcert': 'forged' },
        requestContext: {
          identity: { sourceIp: '10.0.0.7', userArn: null, clientCert: { clientCertPem: client.pem } },
        },
      }),
    );
    expect(withCert.clientCertificate).toEqual(Buffer.from(client.der));
    const headerOnly = toBrokerRequest(
      event({ headers: { 'x-amzn-mtls-clientcert': encodeURIComponent(client.pem) } }),
    );
    expect(headerOnly.clientCertificate).toBeUndefined();
    const garbled = toBrokerRequest(
      event({
        requestContext: { identity: { sourceIp: '10.0.0.7', clientCert: { clientCertPem: 'not a certificate' } } },
      }),
    );
    expect(garbled.clientCertificate).toBeUndefined();
  });

  it('serves the same broker as the local server', async () => {
    const { broker, rootToken } = await memoryNode();
    const handler = createApiGatewayHandler(broker);
    const put = await handler(
      event({
        httpMethod: 'PUT',
        path: '/v1/secret/data/app/key',
        headers: { 'x-coffer-token': rootToken, 'content-type': 'application/json' },
        body: '{"value":"from-lambda"}',
      }),
    );
    expect(put.statusCode).toBe(200);
    const get = await handler(event({ path: '/v1/secret/data/app/key', headers: { 'x-coffer-token': rootToken } }));
    expect(JSON.parse(get.body).value).toBe('from-lambda');
  });

  it('refuses an IAM caller no identity maps to, before any data access', async () => {
    const { broker } = await memoryNode();
    const res = await createApiGatewayHandler(broker)(
      event({
        path: '/v1/secret/data/app/key',
        requestContext: { identity: { sourceIp: '10.0.0.7', userArn: 'arn:aws:iam::123456789012:role/unknown' } },
      }),
    );
    expect(res.statusCode).toBe(401);
  });
});
