/**
 * The SSH roles, as Vault's `ssh/roles/<name>` defines them: a `ca` role signs users' public keys into OpenSSH
 * certificates, an `otp` role hands out one-time passwords that a host's helper verifies.
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { DurationSchema } from '../../core/duration.ts';

/** The user key types a role may accept, as OpenSSH names their families. */
export const SSH_USER_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
export type SshUserKeyType = (typeof SSH_USER_KEY_TYPES)[number];

/** A principal (a login name): what sshd compares with the target user or its AuthorizedPrincipalsFile. */
const Principal = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\s,]+$/, 'a principal has no spaces or commas');
/** A principal glob (`*` is any run of characters), as Vault's `allowed_users`. */
const PrincipalGlob = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\s,]+$/, 'a principal has no spaces or commas');
const OptionName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9@._-]+$/, 'an option name is letters, digits, "@", ".", "_" or "-"');
const OptionMap = z.record(OptionName, z.string().max(4096));

const Cidr = z
  .string()
  .max(64)
  .refine((value) => {
    const [address, bits, ...rest] = value.split('/');
    if (rest.length > 0 || address === undefined || isIP(address) === 0) return false;
    if (bits === undefined) return true;
    const max = isIP(address) === 4 ? 32 : 128;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
  }, 'must be an IP address or a CIDR block');

const Limits = {
  ttl: DurationSchema.default(1800).describe('Default validity of what the role issues'),
  max_ttl: DurationSchema.default(86_400).describe('Longest validity a caller may ask for, and a lease may reach'),
  max_leases: z.number().int().min(1).max(1_000_000).optional(),
};

export const SshCaRoleSchema = z
  .object({
    key_type: z.literal('ca'),
    /** Globs of the principals a caller may ask for; empty: only `default_user`. */
    allowed_users: z.array(PrincipalGlob).max(256).default([]),
    /** The principal a certificate gets when the caller names none. */
    default_user: Principal.optional(),
    /** Extension names a caller may ask for (`*`: any); `permit-pty`, `permit-port-forwarding`, … */
    allowed_extensions: z.array(OptionName).max(64).default([]),
    /** Extensions a certificate gets when the caller asks for none. */
    default_extensions: OptionMap.default({ 'permit-pty': '' }),
    /** Critical option names a caller may set (`*`: any). */
    allowed_critical_options: z.array(OptionName).max(64).default([]),
    /** Critical options (`force-command`, `source-address`) a certificate gets unless the caller may set them. */
    default_critical_options: OptionMap.default({}),
    /** Minimum size in bits per accepted user key type; a type left out is refused. @default every type, any size */
    allowed_user_key_lengths: z
      .partialRecord(z.enum(SSH_USER_KEY_TYPES), z.number().int().min(0).max(16_384))
      .default({ ed25519: 0, ecdsa: 256, rsa: 2048 }),
    ...Limits,
  })
  .strict();

export const SshOtpRoleSchema = z
  .object({
    key_type: z.literal('otp'),
    /** The user an OTP is for when the caller names none. */
    default_user: Principal,
    /** Globs of other users a caller may ask an OTP for. */
    allowed_users: z.array(PrincipalGlob).max(256).default([]),
    /** The hosts (addresses, CIDR blocks) an OTP may be issued for. */
    cidr_list: z.array(Cidr).min(1).max(256),
    ...Limits,
  })
  .strict();

export const SshRoleSchema = z
  .discriminatedUnion('key_type', [SshCaRoleSchema, SshOtpRoleSchema])
  .refine((role) => role.ttl > 0 && role.ttl <= role.max_ttl, { message: 'ttl must be positive and at most max_ttl' });

export type SshRoleInput = z.input<typeof SshRoleSchema>;
export type SshRole = z.output<typeof SshRoleSchema>;
export type SshCaRole = z.output<typeof SshCaRoleSchema>;
export type SshOtpRole = z.output<typeof SshOtpRoleSchema>;

/** What a caller may ask of a `ca` role when signing. */
export const SignRequestSchema = z
  .object({
    public_key: z.string().min(1).max(16_384).describe('The OpenSSH public key to certify (one line)'),
    valid_principals: z.array(Principal).min(1).max(256).optional(),
    extensions: OptionMap.optional(),
    critical_options: OptionMap.optional(),
    /** Set by the broker from the authenticated caller: the certificate's key id names who asked. */
    key_id: z.string().min(1).max(512),
  })
  .strict();
export type SignRequest = z.infer<typeof SignRequestSchema>;

/** What a caller may ask of an `otp` role. */
export const OtpRequestSchema = z
  .object({
    ip: z.string().refine((value) => isIP(value) !== 0, 'must be an IP address'),
    username: Principal.optional(),
  })
  .strict();
export type OtpRequest = z.infer<typeof OtpRequestSchema>;
