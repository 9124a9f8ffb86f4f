import { isIP } from 'node:net';
import * as z from 'zod';
import { DurationSchema } from '../../../core/duration.ts';
import { ValidationError } from '../../../core/errors.ts';
import { LEAF_KEY_TYPES, ROLE_NAME } from '../../pki/pki-role.ts';

/** Re-issue at two-thirds of a certificate's lifetime unless told otherwise. */
export const DEFAULT_RENEW_AT_FRACTION = 2 / 3;

/**
 * The rotation settings of a certificate secret: which PKI role issues it, for which names, and when to renew.
 * Names are checked against the role by the PKI engine at issue time; here only their syntax and sizes.
 */
export const CertificateSettingsSchema = z
  .object({
    /** The PKI role that issues the certificate (`pki role put`). */
    role: z.string().regex(ROLE_NAME, 'a PKI role name is 1–128 letters, digits, "_", "." or "-"'),
    /** The certificate's CN (the PKI engine limits it to 64 characters). */
    commonName: z.string().trim().min(1).max(64),
    /** Further DNS names (subject alternative names). @default [] */
    altNames: z.array(z.string().trim().min(1).max(253)).max(100).optional(),
    /** IP addresses (subject alternative names); the role must allow IP SANs. @default [] */
    ipSans: z
      .array(
        z
          .string()
          .trim()
          .refine((ip) => isIP(ip) !== 0, 'not an IP address'),
      )
      .max(100)
      .optional(),
    /** Lifetime, as the PKI engine's issue request: seconds, or e.g. `'72h'`. @default the role's ttl */
    ttl: DurationSchema.refine((seconds) => seconds > 0, 'ttl must be positive').optional(),
    /**
     * The key type of each new key pair. Unset: the role's `key_type` (the engine generates the key). Set: the key
     * is generated here and sent as a CSR, so the role's `key_type` must be this one or `any`.
     */
    keyType: z.enum(LEAF_KEY_TYPES).optional(),
    /** Where in the lifetime (notBefore → notAfter) the next rotation falls due, in (0, 1). @default 2/3 */
    renewAtFraction: z
      .number()
      .gt(0, 'renewAtFraction must be greater than 0')
      .lt(1, 'renewAtFraction must be less than 1')
      .default(DEFAULT_RENEW_AT_FRACTION),
  })
  .strict();

export type CertificateSettings = z.output<typeof CertificateSettingsSchema>;
export type CertificateSettingsInput = z.input<typeof CertificateSettingsSchema>;

/**
 * Validates and normalises certificate rotation settings.
 * @throws ValidationError naming the setting, e.g. `invalid certificate rotation settings: renewAtFraction: ...`
 * @example parseCertificateSettings({ role: 'web', commonName: 'api.example.com', ttl: '72h' })
 */
export function parseCertificateSettings(input: unknown): CertificateSettings {
  const result = CertificateSettingsSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '';
    const at = [...issue.path.map(String), ...(keys === '' ? [] : [keys])].join('.') || 'settings';
    throw new ValidationError(`invalid certificate rotation settings: ${at}: ${issue.message}`);
  }
  return result.data;
}

/** The moment a certificate falls due for renewal: `renewAtFraction` of the way through its lifetime. */
export function renewPoint(notBefore: number, notAfter: number, renewAtFraction: number): number {
  return Math.floor(notBefore + renewAtFraction * (notAfter - notBefore));
}
