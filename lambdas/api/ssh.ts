import * as z from 'zod';
import { Instant } from './common.ts';

/** The SSH engine speaks Vault's field names (snake case) in its settings, as the PKI engine does. */
export const SshCa = z.object({
  public_key: z.string().describe("The CA's public key, one OpenSSH line: sshd's TrustedUserCAKeys"),
  key_type: z.string(),
  key_store: z.string().describe('engine (Ed25519, sealed under the envelope key), local or kms'),
  created_at: Instant,
});

/** Text bodies (`text/plain`): the CA's public key, the revoked-keys list. No JSON body. */
export const SshText = z.undefined().describe('text/plain');

const OptionMap = z.record(z.string(), z.string());

export const SshRole = z.object({
  name: z.string(),
  key_type: z.enum(['ca', 'otp']),
  allowed_users: z.array(z.string()),
  default_user: z.string().optional(),
  allowed_extensions: z.array(z.string()).optional(),
  default_extensions: OptionMap.optional(),
  allowed_critical_options: z.array(z.string()).optional(),
  default_critical_options: OptionMap.optional(),
  allowed_user_key_lengths: z.record(z.string(), z.number()).optional(),
  cidr_list: z.array(z.string()).optional(),
  ttl: z.number(),
  max_ttl: z.number(),
  max_leases: z.number().optional(),
});

export const SshRoleList = z.object({ roles: z.array(z.string()) });

const LeaseFields = {
  leaseId: z.string(),
  kind: z.literal('ssh'),
  state: z.string(),
  issuedAt: Instant,
  expiresAt: Instant,
  maxExpiresAt: Instant,
  attempts: z.number(),
  leaseDuration: z.number(),
  renewable: z.boolean(),
};

/** A signed certificate under its lease: revoking the lease puts the key on the revoked-keys list. */
export const SshSignedCertificate = z.object({
  ...LeaseFields,
  signed_key: z.string().describe('The OpenSSH certificate line (save it as id_<type>-cert.pub)'),
  serial_number: z.string().describe('Decimal, as ssh-keygen -L shows it'),
});

/** A one-time password under its lease: one verification consumes it. */
export const SshOtpCredential = z.object({
  ...LeaseFields,
  key: z.string(),
  username: z.string(),
  ip: z.string(),
});

/** What a verified password was issued for; the helper checks user and host itself. */
export const SshOtpVerified = z.object({ username: z.string(), ip: z.string(), role_name: z.string() });
