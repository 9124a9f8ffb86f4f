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

  it('is served at /v1/openapi.json without a token', async () => {
    const { broker } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/openapi.json'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(committed);
  });
});
