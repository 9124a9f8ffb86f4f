/**
 * What the rotation service keeps in the store. Records hold names, version ids, timings and non-secret handles;
 * never a secret value.
 */
import type {
  RevocationHandle,
  RotationGrant,
  RotationRules,
  RotationStep,
  RotationTrigger,
  RotationType,
} from './rotation-types.ts';

/** pk of rotation configs, sk = secret name. */
export const ROTATION_CONFIG_PK = 'rotation-config';
/** pk of rotation locks, sk = secret name: present while a rotation of that secret runs. */
export const ROTATION_LOCK_PK = 'rotation-lock';
/** pk of rotations (history and in-flight state), sk = rotation id. */
export const ROTATION_PK = 'rotation';
/** pk of rotation groups, sk = group name. */
export const ROTATION_GROUP_PK = 'rotation-group';
/** pk of the revocation queue, sk = `<zero-padded due time>/<id>` so "everything due by now" is a range. */
export const REVOCATION_PK = 'rotation-revocation';

export type RotationConfigRecord = {
  name: string;
  type: RotationType;
  /** Validated by the type's rotator; names other secrets, never holds a value. */
  settings: Record<string, unknown>;
  rules?: RotationRules | undefined;
  enabled: boolean;
  group?: string | undefined;
  createdAt: number;
  updatedAt: number;
  lastRotatedAt?: number | undefined;
  lastRotationId?: string | undefined;
  lastStatus?: 'succeeded' | 'failed' | undefined;
  lastError?: string | undefined;
  /** When the next scheduled rotation is due (epoch ms); absent without a schedule. */
  nextRotationAt?: number | undefined;
  /** After a failed scheduled rotation, the scheduler waits until then before trying again (due time unchanged). */
  retryAfter?: number | undefined;
  /** A breach was reported while a rotation ran: that rotation revokes at once when it finishes. */
  breachRequestedAt?: number | undefined;
  /** The authority the rotation acts with (absent on configs written before grants were recorded: no references). */
  grant?: RotationGrant | undefined;
};

export type RotationLockRecord = { name: string; rotationId: string; acquiredAt: number };

export type RotationStatus = 'running' | 'rolling-back' | 'succeeded' | 'failed';

/** Labels of one member before the rotation began: what a rollback restores. */
export type MemberBefore = { current?: string | undefined; previous?: string | undefined };

export type RotationRecord = {
  rotationId: string;
  token: string;
  secrets: string[];
  trigger: RotationTrigger;
  status: RotationStatus;
  /** The step last started: on failure, the step that failed. */
  step?: RotationStep | undefined;
  before: Record<string, MemberBefore>;
  startedAt: number;
  finishedAt?: number | undefined;
  error?: string | undefined;
  message?: string | undefined;
};

export type RotationGroupRecord = { name: string; members: string[]; createdAt: number };

export type RevocationRecord = {
  id: string;
  secretName: string;
  type: RotationType;
  settings: Record<string, unknown>;
  handle: RevocationHandle;
  dueAt: number;
  attempts: number;
  lastError?: string | undefined;
  rotationId: string;
  /** The config's grant when the credential was retired: the revocation reads only what it allows. */
  grant?: RotationGrant | undefined;
};

export function revocationKey(dueAt: number, id: string): string {
  return `${String(Math.max(0, Math.floor(dueAt))).padStart(15, '0')}/${id}`;
}
