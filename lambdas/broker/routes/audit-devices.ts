import * as z from 'zod';
import * as api from '../../api/index.ts';
import { AuditDevicePathSchema, EnableAuditDeviceSchema } from '../../core/audit/devices/audit-device-config.ts';
import type { AuditDeviceView } from '../../core/audit/devices/audit-device-service.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso } from './wire.ts';

/**
 * Audit devices, as Vault operators know them (`vault audit enable|list|disable`), at `sys/audit-devices/<path>`
 * (Vault's `sys/audit/<path>` holds Coffer's hash, verify and tail). Every one needs `sudo`, as in Vault: a device
 * decides where the record of every request goes.
 */

const PathParam = z.object({ path: AuditDevicePathSchema });
const devicesOf = (ctx: RouteContext) => requireService(ctx.deps, 'auditDevices');

function describeDevice(device: AuditDeviceView): api.AuditDevice {
  const { createdAt, health, ...rest } = device;
  return {
    ...rest,
    ...(createdAt !== undefined && { createdAt: iso(createdAt) }),
    ...(health !== undefined && {
      health: {
        recorded: health.recorded,
        failures: health.failures,
        consecutiveFailures: health.consecutiveFailures,
        ...(health.lastSuccessAt !== undefined && { lastSuccessAt: iso(health.lastSuccessAt) }),
        ...(health.lastFailureAt !== undefined && { lastFailureAt: iso(health.lastFailureAt) }),
        ...(health.lastError !== undefined && { lastError: health.lastError }),
      },
    }),
  };
}

export const auditDeviceRoutes: RouteDef[] = [
  defineRoute({
    operation: 'audit.device.list',
    method: 'GET',
    path: '/v1/sys/audit-devices',
    summary:
      "The enabled audit devices, each with this node's view of its health (records, failures, last error class)",
    mutating: false,
    response: api.AuditDeviceList,
    access: () => ({ path: 'sys/audit-devices', capability: 'sudo' }),
    async handle(_input, ctx) {
      return { body: { devices: (await devicesOf(ctx).list()).map(describeDevice) } };
    },
  }),
  defineRoute({
    operation: 'audit.device.enable',
    method: 'PUT',
    path: '/v1/sys/audit-devices/{path}',
    summary:
      'Enable an audit device (file, syslog, socket; s3 on AWS is built in) at a path, with its own HMAC key, filters and format',
    mutating: true,
    response: api.AuditDevice,
    statuses: [201],
    params: PathParam,
    body: EnableAuditDeviceSchema,
    access: ({ params }) => ({ path: `sys/audit-devices/${params.path}`, capability: 'sudo' }),
    async handle({ params, body }, ctx) {
      return { status: 201, body: describeDevice(await devicesOf(ctx).enable(params.path, body)) };
    },
  }),
  defineRoute({
    operation: 'audit.device.disable',
    method: 'DELETE',
    path: '/v1/sys/audit-devices/{path}',
    summary: 'Disable an audit device; refused for the last enabled one (Coffer never runs unaudited)',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    params: PathParam,
    access: ({ params }) => ({ path: `sys/audit-devices/${params.path}`, capability: 'sudo' }),
    async handle({ params }, ctx) {
      await devicesOf(ctx).disable(params.path);
      return { status: 204, body: undefined };
    },
  }),
];
