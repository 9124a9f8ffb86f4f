import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../../lambdas/broker/openapi.ts';
import { API_VERSION, nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

const committed = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../docs/openapi.json'), 'utf8'));

describe('OpenAPI document', () => {
  it('matches the committed docs/openapi.json (run `npm run openapi` after changing a route)', () => {
    expect(buildOpenApi(nativeRoutes(), API_VERSION)).toEqual(committed);
  });

  it('describes every route, with request schemas from the validators', () => {
    const doc = buildOpenApi(nativeRoutes(), API_VERSION) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.values(doc.paths).flatMap((methods) =>
      Object.values(methods).map((op) => op.operationId),
    );
    // The AWS-compatible operations are documented by AWS (X-Amz-Target dispatch has no OpenAPI form).
    for (const route of nativeRoutes().filter((r) => r.target === undefined)) {
      expect(operations).toContain(route.operation);
    }
    expect(operations.some((op) => op.startsWith('secretsmanager.'))).toBe(false);
    expect(doc.paths['/v1/secret/data/{name}']?.put?.requestBody).toBeDefined();
  });

  it('declares a response schema for every native route, and documents it with the error responses', () => {
    const native = nativeRoutes().filter((r) => r.target === undefined);
    expect(native.filter((r) => r.response === undefined).map((r) => r.operation)).toEqual([]);
    const doc = buildOpenApi(nativeRoutes(), API_VERSION) as {
      paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>>;
      components: { responses: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    const read = doc.paths['/v1/secret/data/{name}']?.get?.responses;
    expect(read?.['200']).toMatchObject({
      content: { 'application/json': { schema: { properties: { value: { type: 'string' } } } } },
    });
    expect(read?.['404']).toEqual({ $ref: '#/components/responses/Error404' });
    expect(doc.components.responses.Error404).toMatchObject({ description: 'not_found' });
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error'] });
    // A route answering 201 or 204 documents that status, not 200.
    expect(Object.keys(doc.paths['/v1/secrets']?.post?.responses ?? {})).toContain('201');
    expect(doc.paths['/v1/sys/access-keys/{accessKeyId}']?.delete?.responses['204']).toEqual({
      description: 'No content',
    });
  });

  it('is served at /v1/openapi.json without a token', async () => {
    const { broker } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/openapi.json'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(committed);
  });
});
