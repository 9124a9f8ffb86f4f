import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import type { RouteDef } from '../../../../lambdas/broker/route.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import type { Principal } from '../../../../lambdas/core/principal.ts';
import { createApiGatewayHandler, toBrokerRequest } from '../../../../lambdas/entrypoints/lambda/api-gateway.ts';
import { memoryNode } from '../../../support/memory-node.ts';
import { makeCa } from '../../core/auth/cert/cert-test-ca.ts';

const APP_ROLE = 'arn:aws:iam::123456789012:role/app';
const ROOT_PRINCIPAL: Principal = {
  type: 'iam',
  id: APP_ROLE,
  displayName: APP_ROLE,
  policies: ['root'],
  metadata: {},
};

/** A memory node whose broker maps `APP_ROLE` to root, as the IAM mappings would on AWS. */
async function iamNode() {
  const node = await memoryNode();
  const broker = new Broker(
    { ...node.deps, resolveIamPrincipal: async (arn) => (arn === APP_ROLE ? ROOT_PRINCIPAL : undefined) },
    nativeRoutes(),
    () => {},
  );
  return { ...node, broker };
}

/** A request path that `route` matches: each parameter filled with a plain segment. */
function samplePath(route: RouteDef): string {
  return route.path.replace(/\{[^}]+\+\}/g, 'a/b').replace(/\{[^}]+\}/g, 'x');
}

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

  it('serves the same broker as the local server, to the IAM caller API Gateway vouched for', async () => {
    const handler = createApiGatewayHandler((await iamNode()).broker);
    const identity = { sourceIp: '10.0.0.7', userArn: APP_ROLE };
    const put = await handler(
      event({
        httpMethod: 'PUT',
        path: '/v1/secret/data/app/key',
        headers: { 'content-type': 'application/json' },
        body: '{"value":"from-lambda"}',
        requestContext: { identity },
      }),
    );
    expect(put.statusCode).toBe(200);
    const get = await handler(event({ path: '/v1/secret/data/app/key', requestContext: { identity } }));
    expect(JSON.parse(get.body).value).toBe('from-lambda');
  });

  it('refuses a Coffer token without an IAM identity with 401 (API Gateway left open by mistake)', async () => {
    const { broker, rootToken, sink } = await iamNode();
    const handler = createApiGatewayHandler(broker);
    const got = await handler(event({ path: '/v1/secret/data/app/key', headers: { 'x-coffer-token': rootToken } }));
    expect(got.statusCode).toBe(401);
    expect(JSON.parse(got.body).error.message).toMatch(/only callers API Gateway authenticated by IAM/);
    const records = sink.records().filter((r) => r.requestId === got.headers['x-request-id']);
    expect(records.map((r) => r.outcome)).toContain('denied');
    // The same token is good on the local server's transport: only the API Gateway entry refuses it.
    const sameRequest = toBrokerRequest(
      event({ path: '/v1/secret/data/app/key', headers: { 'x-coffer-token': rootToken } }),
    );
    expect((await broker.handle({ ...sameRequest, iamOnly: false })).status).toBe(404);
  });

  it('serves Coffer-token callers under /token, where no IAM identity counts and the token alone decides', async () => {
    const { broker, rootToken, sink } = await iamNode();
    const handler = createApiGatewayHandler(broker);
    const stage = (path: string) => ({ stage: 'prod', path: `/prod${path}` });
    const put = await handler(
      event({
        httpMethod: 'PUT',
        path: '/token/v1/secret/data/app/key',
        headers: { 'content-type': 'application/json', 'x-coffer-token': rootToken },
        body: '{"value":"by-token"}',
        requestContext: { ...stage('/token/v1/secret/data/app/key'), identity: { sourceIp: '10.0.0.7' } },
      }),
    );
    expect(put.statusCode).toBe(200);
    const records = sink.records().filter((r) => r.requestId === put.headers['x-request-id']);
    expect(records[0]).toMatchObject({ path: 'secrets/app/key', principal: { type: 'token' } });

    // An IAM identity on that path (there can be none: the methods are open) is never taken: without a token, 401.
    const noToken = await handler(
      event({
        path: '/token/v1/secret/data/app/key',
        requestContext: {
          ...stage('/token/v1/secret/data/app/key'),
          identity: { sourceIp: '10.0.0.7', userArn: APP_ROLE },
        },
      }),
    );
    expect(noToken.statusCode).toBe(401);

    // The Secrets Manager protocol too, at `<api>/token/`.
    const sm = toBrokerRequest(
      event({
        httpMethod: 'POST',
        path: '/token',
        requestContext: { ...stage('/token'), identity: { sourceIp: '10.0.0.7' } },
      }),
    );
    expect(sm).toMatchObject({ rawPath: '/', iamOnly: false, iamArn: undefined });
    // A path that merely starts with the same letters is not under the base path.
    expect(toBrokerRequest(event({ path: '/tokens/v1/x' }))).toMatchObject({ rawPath: '/tokens/v1/x', iamOnly: true });
  });

  it('lets a request without an IAM identity reach exactly the routes that need no authentication', async () => {
    const routes = nativeRoutes();
    const reached: string[] = [];
    // Every route of the real table, its schemas and checks dropped so that any input reaches authentication, and its
    // handler replaced by a recorder: what a caller without IAM identity gets to run, whatever it sends.
    const recorded = routes.map(
      (route): RouteDef => ({
        ...route,
        params: undefined,
        query: undefined,
        body: undefined,
        access: undefined,
        resource: undefined,
        references: undefined,
        feature: undefined,
        response: undefined,
        handle: async () => {
          reached.push(route.operation);
          return { body: {} };
        },
      }),
    );
    const { deps, rootToken } = await iamNode();
    const handler = createApiGatewayHandler(new Broker(deps, recorded, () => {}));
    const refused: string[] = [];
    for (const route of routes) {
      const headers: Record<string, string> = { 'x-coffer-token': rootToken, authorization: `Bearer ${rootToken}` };
      if (route.target !== undefined) headers['x-amz-target'] = route.target;
      const res = await handler(event({ httpMethod: route.method, path: samplePath(route), headers }));
      const unauthenticated = route.protocol === 'aws-json' ? 403 : 401;
      if (res.statusCode === unauthenticated) refused.push(route.operation);
    }
    const open = routes.filter((route) => route.auth === 'none').map((route) => route.operation);
    expect(reached.sort()).toEqual([...open].sort());
    expect(refused.sort()).toEqual(
      routes
        .filter((route) => route.auth !== 'none')
        .map((route) => route.operation)
        .sort(),
    );
    expect(open).toContain('auth.login');
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

  it("lets the web console's origin, and only it, read every answer when one is configured", async () => {
    const { broker } = await memoryNode();
    const refusedEvent = event({
      path: '/v1/secret/data/app/key',
      requestContext: { identity: { sourceIp: '10.0.0.7', userArn: 'arn:aws:iam::123456789012:role/unknown' } },
    });
    const origin = 'https://d1234abcd.cloudfront.net';
    const withConsole = await createApiGatewayHandler(broker, { consoleOrigin: origin })(refusedEvent);
    expect(withConsole.statusCode).toBe(401);
    expect(withConsole.headers).toMatchObject({ 'access-control-allow-origin': origin, vary: 'Origin' });
    const health = await createApiGatewayHandler(broker, { consoleOrigin: origin })(
      event({ path: '/v1/sys/health', requestContext: { identity: { sourceIp: '10.0.0.7' } } }),
    );
    expect(health.statusCode).toBe(200);
    expect(health.headers['access-control-allow-origin']).toBe(origin);
    const without = await createApiGatewayHandler(broker)(refusedEvent);
    expect(without.headers['access-control-allow-origin']).toBeUndefined();
  });
});
