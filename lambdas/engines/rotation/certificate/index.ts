/**
 * Certificate rotation: re-issue from the PKI engine ahead of expiry, with a new key pair and the full chain.
 * @example
 * import { certificateRotator } from './engines/rotation/certificate/index.ts';
 * const rotators = { certificate: certificateRotator({ pki, clock }), ... } satisfies RotatorRegistry;
 */
export {
  type CertificatePki,
  type CertificateRotator,
  type CertificateRotatorOptions,
  certificateRotator,
} from './certificate-rotator.ts';
export {
  type CertificateSettings,
  type CertificateSettingsInput,
  CertificateSettingsSchema,
  DEFAULT_RENEW_AT_FRACTION,
  parseCertificateSettings,
  renewPoint,
} from './certificate-settings.ts';
export type { CertificateValue } from './certificate-value.ts';
