import type { RotationEventPublisher } from '../../ports/rotation.ts';
import { type ExpiryReason, parseExpiryEvent } from './expiration-policy.ts';

/**
 * The detail types of expiry events. They go through the events port (EventBridge on AWS, the local events file),
 * with source `coffer.rotation` like every event Coffer publishes. Details carry names, ARNs, serials and times, never
 * a value.
 */
export const EXPIRY_EVENTS = {
  secretExpiring: 'SecretExpiring',
  secretExpired: 'SecretExpired',
  secretReadDuringGrace: 'SecretReadDuringGrace',
  certificateExpiring: 'CertificateExpiring',
  certificateExpired: 'CertificateExpired',
} as const;

/** Where expiry events go: the same port rotation publishes through. */
export type ExpiryEventPublisher = RotationEventPublisher;

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * The event an index entry of a secret stands for. `eventId` is the same for every publication of one entry, so a
 * consumer can drop the duplicate a crash between publishing and recording may cause.
 */
export function secretExpiryEvent(input: {
  name: string;
  arn: string;
  region: string;
  event: string;
  due: number;
  expiresAt?: number | undefined;
  graceMs: number;
}): { detailType: string; detail: Record<string, unknown> } | undefined {
  const parsed = parseExpiryEvent(input.event);
  if (parsed === undefined) return undefined;
  const common = {
    eventId: `${input.arn}#${input.event}#${input.due}`,
    secretName: input.name,
    secretArn: input.arn,
    region: input.region,
  };
  if (parsed.kind === 'expiring') {
    return {
      detailType: EXPIRY_EVENTS.secretExpiring,
      detail: {
        ...common,
        leadTimeSeconds: Math.round(parsed.leadMs / 1000),
        expiresAt: iso(input.expiresAt),
        graceEndsAt: iso(input.expiresAt === undefined ? undefined : input.expiresAt + input.graceMs),
      },
    };
  }
  const expiredAt = parsed.reason === 'time' ? (input.expiresAt ?? input.due) : input.due;
  return {
    detailType: EXPIRY_EVENTS.secretExpired,
    detail: {
      ...common,
      reason: parsed.reason satisfies ExpiryReason,
      expiredAt: iso(expiredAt),
      // A spent read budget has no grace.
      graceEndsAt: iso(parsed.reason === 'reads' ? expiredAt : expiredAt + input.graceMs),
    },
  };
}

/** A certificate's event: `CertificateExpiring` (with its lead time) or `CertificateExpired`, by serial. */
export function certificateExpiryEvent(input: {
  serial: string;
  commonName: string;
  role: string;
  /** The certificate secret it was issued for (certificate rotation). */
  secretName?: string | undefined;
  notAfter: number;
  event: string;
  due: number;
}): { detailType: string; detail: Record<string, unknown> } | undefined {
  const parsed = parseExpiryEvent(input.event);
  if (parsed === undefined) return undefined;
  const common = {
    eventId: `pki#${input.serial}#${input.event}#${input.due}`,
    serialNumber: input.serial,
    commonName: input.commonName,
    role: input.role,
    ...(input.secretName === undefined ? {} : { secretName: input.secretName }),
    notAfter: iso(input.notAfter),
  };
  if (parsed.kind === 'expiring') {
    return {
      detailType: EXPIRY_EVENTS.certificateExpiring,
      detail: { ...common, leadTimeSeconds: Math.round(parsed.leadMs / 1000) },
    };
  }
  return { detailType: EXPIRY_EVENTS.certificateExpired, detail: common };
}
