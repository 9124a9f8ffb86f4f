import { z } from 'zod';
import type { RouteDef } from './route.ts';

/**
 * Builds the OpenAPI 3.1 document from the same zod schemas that validate requests, so the document cannot drift
 * from the behaviour. `docs/openapi.json` is this output, committed; a test fails when they differ.
 */
export function buildOpenApi(routes: readonly RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    // The AWS-compatible operations are documented by AWS; OpenAPI cannot express X-Amz-Target dispatch anyway.
    if (route.target !== undefined) continue;
    const path = route.path.replace(/\{([a-zA-Z]+)\+\}/g, '{$1}');
    const operation: Record<string, unknown> = {
      operationId: route.operation,
      summary: route.summary,
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      responses: {
        '200': { description: 'Success' },
        '4XX': {
          description: 'Client error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        '5XX': {
          description: 'Server error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (route.auth === 'none') operation.security = [];
    if (route.body !== undefined) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } };
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Coffer native API', version },
    servers: [{ url: 'http://127.0.0.1:8270' }],
    security: [{ token: [] }],
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Coffer-Token' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'requestId'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
            },
          },
        },
      },
    },
    paths,
  };
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const json = jsonSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}
