import * as z from 'zod';
import { GrantedBy, Instant } from './common.ts';

/** Rotation configs, rotations, compliance figures, groups and the revocation queue. Never a secret value. */
export const RotationConfig = z.object({
  name: z.string(),
  type: z.string(),
  enabled: z.boolean(),
  settings: z.record(z.string(), z.unknown()).describe('Type-specific; names other secrets, no values'),
  grant: z
    .object({
      grantedBy: GrantedBy,
      requestId: z.string(),
      grantedAt: Instant,
      references: z.array(z.object({ path: z.string(), capability: z.string() })),
      target: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  rules: z
    .object({
      automaticallyAfterDays: z.number().optional(),
      scheduleExpression: z.string().optional(),
      duration: z.string().optional(),
    })
    .optional(),
  group: z.string().optional(),
  createdAt: Instant,
  updatedAt: Instant,
  lastRotatedAt: Instant.optional(),
  lastRotationId: z.string().optional(),
  lastStatus: z.enum(['succeeded', 'failed']).optional(),
  lastError: z.string().optional(),
  nextRotationAt: Instant.optional(),
  retryAfter: Instant.optional().describe('After a failed scheduled rotation: the scheduler tries again from then'),
});
export type RotationConfig = z.infer<typeof RotationConfig>;

/** With `rotateImmediately`, the id of the rotation it started. */
export const RotationConfigured = RotationConfig.extend({ rotationId: z.string().optional() });

export const RotationConfigList = z.object({ configs: z.array(RotationConfig) });

/** 202 when a rotation started; 200 when the request token named one that already existed. */
export const RotationStarted = z.object({ rotationId: z.string(), secrets: z.array(z.string()), started: z.boolean() });

export const Rotation = z.object({
  rotationId: z.string(),
  versionId: z.string().describe('The new version id (the rotation token)'),
  secrets: z.array(z.string()),
  trigger: z.enum(['schedule', 'on-demand', 'breach']),
  status: z.enum(['running', 'rolling-back', 'succeeded', 'failed']),
  step: z.enum(['createSecret', 'setSecret', 'testSecret', 'finishSecret']).optional(),
  startedAt: Instant,
  finishedAt: Instant.optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  message: z.string().optional(),
});
export type Rotation = z.infer<typeof Rotation>;

export const RotationHistory = z.object({ rotations: z.array(Rotation) });

export const RotationCompliance = z.object({
  secretsWithRotation: z.number(),
  onSchedule: z.number(),
  onScheduleShare: z.number(),
  overdue: z.array(z.object({ name: z.string(), dueAt: Instant, windowEnd: Instant, overdueByMs: z.number() })),
  rotations: z.object({
    total: z.number(),
    succeeded: z.number(),
    failed: z.number(),
    running: z.number(),
    successRate: z.number().nullable(),
  }),
  meanTimeToRotateMs: z.number().nullable(),
  p95TimeToRotateMs: z.number().nullable(),
});

export const RotationGroup = z.object({ name: z.string(), members: z.array(z.string()), createdAt: Instant });

export const RevocationQueue = z.object({
  revocations: z.array(
    z.object({
      id: z.string(),
      secretName: z.string(),
      type: z.string(),
      rotationId: z.string(),
      dueAt: Instant,
      attempts: z.number(),
      lastError: z.string().optional(),
    }),
  ),
});
