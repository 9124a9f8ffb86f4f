import * as z from 'zod';
import * as api from '../../api/index.ts';
import { NotFoundError, PermissionDeniedError } from '../../core/errors.ts';
import type { RevocationRecord, RotationRecord } from '../../core/rotation/rotation-records.ts';
import type { RotationConfigView, RotationService } from '../../core/rotation/rotation-service.ts';
import { ROTATION_TYPES } from '../../core/rotation/rotation-types.ts';
import { SecretNameSchema } from '../../core/secrets/secret-schema.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { secretPath } from './secrets.ts';
import { grantOf, iso, SecretNameParam } from './wire.ts';

/**
 * Rotation: configs per secret, on-demand and breach rotations, history, compliance figures, groups and the
 * revocation queue. A secret's own operations are authorised on `secrets/<name>` (`rotate` to change or trigger,
 * `read` to look); global views on `sys/rotation/...`. Nothing here ever returns a secret value.
 */

export function rotationService(deps: BrokerDeps): RotationService {
  return requireService(deps, 'rotation');
}

/**
 * A rotation of `secretId` rotates every member of its group, so the caller needs `rotate` on each. The secret
 * itself is checked first, so a caller who may not rotate it learns nothing about its group.
 */
export async function authorizeRotation(ctx: RouteContext, service: RotationService, secretId: string) {
  await ctx.authorize({ path: secretPath(secretId), capability: 'rotate' });
  for (const member of await service.groupMembers(secretId)) {
    await ctx.authorize({ path: secretPath(member), capability: 'rotate' });
  }
}

export function describeConfig(config: RotationConfigView) {
  return {
    name: config.name,
    type: config.type,
    enabled: config.enabled,
    settings: config.settings,
    ...(config.grant === undefined
      ? {}
      : {
          grant: {
            grantedBy: config.grant.grantedBy,
            requestId: config.grant.requestId,
            grantedAt: iso(config.grant.grantedAt),
            references: config.grant.references,
            ...(config.grant.target === undefined ? {} : { target: config.grant.target }),
          },
        }),
    ...(config.rules === undefined ? {} : { rules: config.rules }),
    ...(config.group === undefined ? {} : { group: config.group }),
    createdAt: iso(config.createdAt),
    updatedAt: iso(config.updatedAt),
    lastRotatedAt: iso(config.lastRotatedAt),
    lastRotationId: config.lastRotationId,
    lastStatus: config.lastStatus,
    lastError: config.lastError,
    nextRotationAt: iso(config.nextRotationAt),
    /** After a failed scheduled rotation: the scheduler tries again from then. */
    retryAfter: iso(config.retryAfter),
  };
}

export function describeRotation(rotation: RotationRecord) {
  return {
    rotationId: rotation.rotationId,
    versionId: rotation.token,
    secrets: rotation.secrets,
    trigger: rotation.trigger,
    status: rotation.status,
    step: rotation.step,
    startedAt: iso(rotation.startedAt),
    finishedAt: iso(rotation.finishedAt),
    durationMs: rotation.finishedAt === undefined ? undefined : rotation.finishedAt - rotation.startedAt,
    error: rotation.error,
    message: rotation.message,
  };
}

function describeRevocation(revocation: Omit<RevocationRecord, 'settings' | 'handle'>) {
  return {
    id: revocation.id,
    secretName: revocation.secretName,
    type: revocation.type,
    rotationId: revocation.rotationId,
    dueAt: iso(revocation.dueAt),
    attempts: revocation.attempts,
    lastError: revocation.lastError,
  };
}

async function mayReadAll(ctx: RouteContext, secrets: readonly string[]): Promise<boolean> {
  for (const name of secrets) {
    if (!(await ctx.isAllowed({ path: secretPath(name), capability: 'read' }))) return false;
  }
  return true;
}

const Token = z.string().min(32).max(64).describe('32–64 letters, digits, "-" or "_"; becomes the new version id');

const RulesBody = z
  .object({
    automaticallyAfterDays: z.number().int().min(1).max(1000).optional(),
    scheduleExpression: z.string().min(1).max(256).optional().describe('rate(N days|hours) or cron(0 h dom m dow *)'),
    duration: z.string().min(2).max(3).optional().describe('The rotation window, 1h–24h'),
  })
  .strict();

const ConfigureBody = z
  .object({
    type: z.enum(ROTATION_TYPES),
    settings: z.record(z.string(), z.unknown()).optional().describe('Type-specific; names other secrets, no values'),
    rules: RulesBody.optional(),
    rotateImmediately: z.boolean().default(false),
  })
  .strict();

const RotateBody = z.object({ secretId: SecretNameSchema, clientRequestToken: Token.optional() }).strict();
const CompromisedBody = z.object({ secretId: SecretNameSchema, reason: z.string().max(512).optional() }).strict();
const RotationIdParam = z.object({ id: z.string().min(1).max(64) });
const HistoryQuery = z
  .object({ secretId: SecretNameSchema.optional(), limit: z.coerce.number().int().min(1).max(1000).optional() })
  .strict();
const GroupParam = z.object({ group: z.string().min(1).max(128) });
const GroupBody = z.object({ members: z.array(SecretNameSchema).min(2).max(20) }).strict();

export const rotationRoutes: RouteDef[] = [
  defineRoute({
    operation: 'rotation.configure',
    method: 'PUT',
    path: '/v1/rotation/configs/{name+}',
    summary: 'Turn rotation on for a secret, or change its type, settings or schedule; optionally rotate now',
    mutating: true,
    response: api.RotationConfigured,
    params: SecretNameParam,
    body: ConfigureBody,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'rotate' }),
    // The rotation will later read other secrets and issue from PKI roles named in its settings: the caller must be
    // able to do each of those itself, now.
    references: async ({ body }, ctx) => rotationService(ctx.deps).references(body.type, body.settings),
    async handle({ params, body }, ctx) {
      const service = rotationService(ctx.deps);
      // A group rotation changes every member: refuse before changing anything.
      if (body.rotateImmediately) await authorizeRotation(ctx, service, params.name);
      const config = await service.configure({
        secretId: params.name,
        type: body.type,
        settings: body.settings,
        rules: body.rules,
        grant: grantOf(ctx),
      });
      if (!body.rotateImmediately) return { body: describeConfig(config) };
      const started = await service.rotate({ secretId: config.name, trigger: 'on-demand' });
      return { body: { ...describeConfig(config), rotationId: started.rotationId } };
    },
  }),
  defineRoute({
    operation: 'rotation.config',
    method: 'GET',
    path: '/v1/rotation/configs/{name+}',
    summary: "A secret's rotation config: type, settings, schedule, last and next rotation",
    mutating: false,
    response: api.RotationConfig,
    params: SecretNameParam,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: describeConfig(await rotationService(deps).config(params.name)) };
    },
  }),
  defineRoute({
    operation: 'rotation.disable',
    method: 'DELETE',
    path: '/v1/rotation/configs/{name+}',
    summary: 'Turn rotation off for a secret: its schedule goes; a rotation already running finishes',
    mutating: true,
    response: api.RotationConfig,
    params: SecretNameParam,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'rotate' }),
    async handle({ params }, { deps }) {
      const config = await rotationService(deps).disable(params.name);
      if (config === undefined) throw new NotFoundError(`no rotation is configured for secret ${params.name}`);
      return { body: describeConfig(config) };
    },
  }),
  defineRoute({
    operation: 'rotation.configs',
    method: 'GET',
    path: '/v1/rotation/configs',
    summary: 'Every rotation config of a secret the caller may read',
    mutating: false,
    response: api.RotationConfigList,
    access: () => ({ path: 'sys/rotation/configs', capability: 'list' }),
    async handle(_input, ctx) {
      const configs = [];
      for (const config of await rotationService(ctx.deps).listConfigs()) {
        if (await ctx.isAllowed({ path: secretPath(config.name), capability: 'read' })) {
          configs.push(describeConfig(config));
        }
      }
      return { body: { configs } };
    },
  }),
  defineRoute({
    operation: 'rotation.rotate',
    method: 'POST',
    path: '/v1/rotation/rotate',
    summary: 'Rotate a secret now (and the rest of its group); idempotent by clientRequestToken; 202 when started',
    mutating: true,
    response: api.RotationStarted,
    statuses: [200, 202],
    body: RotateBody,
    resource: ({ body }) => secretPath(body.secretId),
    async handle({ body }, ctx) {
      const service = rotationService(ctx.deps);
      await authorizeRotation(ctx, service, body.secretId);
      const started = await service.rotate({
        secretId: body.secretId,
        clientRequestToken: body.clientRequestToken,
        trigger: 'on-demand',
      });
      return { status: started.started ? 202 : 200, body: started };
    },
  }),
  defineRoute({
    operation: 'rotation.compromised',
    method: 'POST',
    path: '/v1/rotation/compromised',
    summary: 'Report a secret compromised: rotate at once and revoke the old credential with no grace period',
    mutating: true,
    response: api.RotationStarted,
    statuses: [200, 202],
    body: CompromisedBody,
    resource: ({ body }) => secretPath(body.secretId),
    async handle({ body }, ctx) {
      const service = rotationService(ctx.deps);
      await authorizeRotation(ctx, service, body.secretId);
      const started = await service.compromised({ secretId: body.secretId, reason: body.reason });
      return { status: started.started ? 202 : 200, body: started };
    },
  }),
  defineRoute({
    operation: 'rotation.get',
    method: 'GET',
    path: '/v1/rotation/rotations/{id}',
    summary: 'One rotation: its secrets, trigger, status, failed step and timings (never values)',
    mutating: false,
    response: api.Rotation,
    params: RotationIdParam,
    resource: ({ params }) => `sys/rotation/rotations/${params.id}`,
    async handle({ params }, ctx) {
      const rotation = await rotationService(ctx.deps)
        .rotation(params.id)
        .catch((error: unknown) => {
          if (error instanceof NotFoundError) return undefined;
          throw error;
        });
      if (rotation !== undefined && (await mayReadAll(ctx, rotation.secrets)))
        return { body: describeRotation(rotation) };
      // A missing rotation and one the caller may not see answer alike, naming no secret: only a caller who may list
      // every rotation learns that an id does not exist.
      if (rotation === undefined && (await ctx.isAllowed({ path: 'sys/rotation/rotations', capability: 'list' }))) {
        throw new NotFoundError(`no rotation ${params.id}`);
      }
      throw new PermissionDeniedError(`permission denied: read on the secrets of rotation ${params.id}`);
    },
  }),
  defineRoute({
    operation: 'rotation.history',
    method: 'GET',
    path: '/v1/rotation/rotations',
    summary: 'Rotations, newest first: of one secret (read on it), or every one whose secrets the caller may read',
    mutating: false,
    response: api.RotationHistory,
    query: HistoryQuery,
    access: ({ query }) =>
      query.secretId === undefined
        ? { path: 'sys/rotation/rotations', capability: 'list' }
        : { path: secretPath(query.secretId), capability: 'read' },
    async handle({ query }, ctx) {
      const service = rotationService(ctx.deps);
      const limit = query.limit ?? 100;
      if (query.secretId !== undefined) {
        const rotations = await service.history({ secretId: query.secretId, limit });
        return { body: { rotations: rotations.map(describeRotation) } };
      }
      const rotations = [];
      for (const rotation of await service.history({ limit: Number.MAX_SAFE_INTEGER })) {
        if (rotations.length >= limit) break;
        if (await mayReadAll(ctx, rotation.secrets)) rotations.push(describeRotation(rotation));
      }
      return { body: { rotations } };
    },
  }),
  defineRoute({
    operation: 'rotation.status',
    method: 'GET',
    path: '/v1/rotation/status',
    summary: 'Rotation compliance: share rotated on schedule, overdue secrets, success rate, time to rotate',
    mutating: false,
    response: api.RotationCompliance,
    access: () => ({ path: 'sys/rotation/status', capability: 'read' }),
    async handle(_input, { deps }) {
      const figures = await rotationService(deps).status();
      return {
        body: {
          secretsWithRotation: figures.secretsWithRotation,
          onSchedule: figures.onSchedule,
          onScheduleShare: figures.onScheduleShare,
          overdue: figures.overdue.map((o) => ({
            name: o.name,
            dueAt: iso(o.dueAt),
            windowEnd: iso(o.windowEnd),
            overdueByMs: o.overdueByMs,
          })),
          rotations: { ...figures.rotations, successRate: figures.rotations.successRate ?? null },
          meanTimeToRotateMs: figures.meanTimeToRotateMs ?? null,
          p95TimeToRotateMs: figures.p95TimeToRotateMs ?? null,
        },
      };
    },
  }),
  defineRoute({
    operation: 'rotation.group',
    method: 'PUT',
    path: '/v1/rotation/groups/{group}',
    summary: 'Define a coordinated rotation group: rotating any member rotates all; all finish or all roll back',
    mutating: true,
    response: api.RotationGroup,
    params: GroupParam,
    body: GroupBody,
    access: ({ params }) => ({ path: `sys/rotation/groups/${params.group}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      for (const member of body.members) await ctx.authorize({ path: secretPath(member), capability: 'rotate' });
      const group = await rotationService(ctx.deps).putGroup(params.group, body.members);
      return { body: { name: group.name, members: group.members, createdAt: iso(group.createdAt) } };
    },
  }),
  defineRoute({
    operation: 'rotation.revocations',
    method: 'GET',
    path: '/v1/rotation/revocations',
    summary: 'Retired credentials queued for revocation (overlap running, or revocation failing), soonest first',
    mutating: false,
    response: api.RevocationQueue,
    access: () => ({ path: 'sys/rotation/revocations', capability: 'read' }),
    async handle(_input, { deps }) {
      const queued = await rotationService(deps).pendingRevocations();
      return { body: { revocations: queued.map(describeRevocation) } };
    },
  }),
];
