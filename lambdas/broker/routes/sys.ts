import * as z from 'zod';
import * as api from '../../api/index.ts';
import { AuditDevicePathSchema } from '../../core/audit/devices/audit-device-config.ts';
import { requireService, requireSystem } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';

/** Routes are passed in so the OpenAPI document can describe the very table the broker serves. */
export function sysRoutes(openapi: () => Record<string, unknown>): RouteDef[] {
  return [
    defineRoute({
      operation: 'sys.health',
      method: 'GET',
      path: '/v1/sys/health',
      summary: 'Liveness and version; no authentication',
      auth: 'none',
      mutating: false,
      response: api.Health,
      resource: () => 'sys/health',
      async handle(_input, { deps }) {
        // Counts only: which devices exist and where they send is for `sudo` (`sys/audit-devices`), not for anyone.
        const devices = deps.audit.devices.health();
        return {
          body: {
            status: 'ok',
            version: deps.system.version,
            runtime: deps.system.runtime,
            initialized: true,
            audit: { devices: devices.length, failing: devices.filter((d) => d.consecutiveFailures > 0).length },
          },
        };
      },
    }),
    defineRoute({
      operation: 'sys.metrics',
      method: 'GET',
      path: '/v1/sys/metrics',
      summary: 'Counters of this node since it started: logins by method and mount, succeeded and refused',
      feature: 'loginMetrics',
      mutating: false,
      response: api.Metrics,
      access: () => ({ path: 'sys/metrics', capability: 'read' }),
      async handle(_input, { deps }) {
        const { since, logins } = requireSystem(deps, 'loginMetrics')();
        return { body: { since: new Date(since).toISOString(), logins } };
      },
    }),
    defineRoute({
      operation: 'sys.openapi',
      method: 'GET',
      path: '/v1/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document; no authentication',
      auth: 'none',
      mutating: false,
      auditResponse: 'omit',
      response: api.OpenApiDocument,
      resource: () => 'sys/openapi',
      async handle() {
        return { body: openapi() };
      },
    }),
    defineRoute({
      operation: 'audit.hash',
      method: 'POST',
      path: '/v1/sys/audit/hash',
      summary:
        "HMAC a value with an audit device's key (the built-in device's, the install's audit salt, by default), to search its log for it",
      mutating: false,
      response: api.AuditHash,
      body: z
        .object({
          input: z.string().min(1).max(65_536),
          path: AuditDevicePathSchema.optional().describe('the device whose key to use (each device has its own)'),
        })
        .strict(),
      sensitive: ['input'],
      access: () => ({ path: 'sys/audit/hash', capability: 'update' }),
      // Another device's key is that device's: a caller who may not read its settings gets no oracle for its hashes.
      references: async ({ body }) =>
        body.path === undefined ? [] : [{ path: `sys/audit-devices/${body.path}`, capability: 'read' }],
      async handle({ body }, { deps }) {
        if (body.path === undefined) return { body: { hash: deps.audit.hmac(body.input) } };
        return { body: { hash: await requireService(deps, 'auditDevices').hmac(body.path, body.input) } };
      },
    }),
    defineRoute({
      operation: 'audit.verify',
      method: 'GET',
      path: '/v1/sys/audit/verify',
      summary: 'Verify the audit log hash chain; names the first bad record',
      mutating: false,
      response: api.AuditVerified,
      feature: 'auditVerify',
      access: () => ({ path: 'sys/audit/verify', capability: 'sudo' }),
      async handle(_input, { deps }) {
        return { body: await requireSystem(deps, 'auditVerify')() };
      },
    }),
    defineRoute({
      operation: 'audit.tail',
      method: 'GET',
      path: '/v1/sys/audit/tail',
      summary: 'The last audit records (already HMAC-redacted)',
      mutating: false,
      response: api.AuditTail,
      query: z.object({ lines: z.coerce.number().int().min(1).max(10_000).optional() }).strict(),
      feature: 'auditTail',
      access: () => ({ path: 'sys/audit/tail', capability: 'sudo' }),
      async handle({ query }, { deps }) {
        const lines = await requireSystem(deps, 'auditTail')(query.lines ?? 20);
        return { body: { records: lines.map((line) => JSON.parse(line) as unknown) } };
      },
    }),
    defineRoute({
      operation: 'keyring.rotate',
      method: 'POST',
      path: '/v1/sys/keyring/rotate',
      summary: 'Rotate the root key, re-wrap every data key, and retire the old root keys',
      mutating: true,
      response: api.RootKeyRotated,
      feature: 'rootKeyRotation',
      access: () => ({ path: 'sys/keyring/rotate', capability: 'sudo' }),
      async handle(_input, { deps }) {
        return { body: await requireSystem(deps, 'rootKeyRotation')() };
      },
    }),
  ];
}
