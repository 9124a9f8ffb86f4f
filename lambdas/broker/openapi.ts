import * as z from 'zod';
import { ErrorResponse } from '../api/common.ts';
import { REGION_NAME } from '../core/regions.ts';
import { ERROR_STATUSES } from './http-errors.ts';
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
      parameters: [
        ...parameters(route.params, 'path'),
        ...parameters(route.query, 'query'),
        { $ref: '#/components/parameters/Region' },
      ],
      responses: { ...successResponses(route), ...errorResponses(route) },
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
      schemas: { Error: jsonSchema(ErrorResponse, 'output') },
      parameters: { Region: REGION_PARAMETER },
      responses: errorComponents(),
    },
    paths,
  };
}

/** Secrets are regional: every request acts in one region (`broker.ts`, `requestRegion`). */
const REGION_PARAMETER = {
  name: 'X-Coffer-Region',
  in: 'header',
  required: false,
  description: "The region the request acts in (an AWS region name); default: the node's home region",
  schema: { type: 'string', pattern: REGION_NAME.source },
};

/** Requests are described as they are accepted (`input`), answers as they are sent (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };

function successResponses(route: RouteDef): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const status of route.statuses ?? [200]) {
    const description = STATUS_TEXT[status] ?? 'Success';
    if (route.response === undefined || route.response instanceof z.ZodUndefined) {
      // No JSON body: nothing (204), or bytes with a media type of their own (the DER CRL).
      const raw = route.response?.description;
      responses[String(status)] =
        raw === undefined ? { description } : { description: raw, content: { 'application/pkix-crl': {} } };
      continue;
    }
    responses[String(status)] = {
      description,
      content: { 'application/json': { schema: jsonSchema(route.response, 'output') } },
    };
  }
  return responses;
}

/** Every error status the broker may answer (`http-errors.ts`), each described once under `components.responses`. */
function errorResponses(route: RouteDef): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const status of ERROR_STATUSES.keys()) {
    if (route.auth === 'none' && status === 401) continue;
    responses[String(status)] = { $ref: `#/components/responses/Error${status}` };
  }
  return responses;
}

/** One body shape for every error; the description lists the codes answered with that status. */
function errorComponents(): Record<string, unknown> {
  return Object.fromEntries(
    [...ERROR_STATUSES].map(([status, codes]) => [
      `Error${status}`,
      {
        description: codes.join(', '),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );
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
