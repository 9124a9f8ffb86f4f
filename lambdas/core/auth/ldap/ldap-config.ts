import * as z from 'zod';
import { DurationSchema } from '../../duration.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import { CidrListSchema } from '../methods/cidrs.ts';
import { pemCertificatesSchema } from '../methods/pem-certificates.ts';
import { type FilterField, filterTemplateProblem, hasControlCharacters } from './ldap-syntax.ts';

/** Bounds that keep a mount's configuration, its entries and a login's work small. */
export const LDAP_LIMITS = {
  urls: 8,
  stringLength: 1024,
  pemLength: 65_536,
  policies: 64,
  /** Groups a user entry may add. */
  userGroups: 64,
  /** Group names a login considers; a directory answering more is cut here. */
  groups: 256,
  /** The `groups` metadata value is cut to this length (with a marker), so token labels stay small. */
  groupsMetadata: 1024,
  usernameLength: 256,
  passwordLength: 1024,
  entryNameLength: 256,
  timeoutSeconds: 300,
} as const;

export const DEFAULT_USERFILTER = '({{.UserAttr}}={{.Username}})';
export const DEFAULT_GROUPFILTER = '(|(memberUid={{.Username}})(member={{.UserDN}})(uniqueMember={{.UserDN}}))';

/** An attribute description: a name (or OID), no options; it goes into filters unescaped, so it must be this plain. */
const AttributeSchema = z
  .string()
  .regex(/^([A-Za-z][A-Za-z0-9-]{0,127}|[0-9]+(\.[0-9]+){1,63})$/, { error: 'must be an LDAP attribute name' });

const DnSchema = z
  .string()
  .max(LDAP_LIMITS.stringLength)
  .refine((dn) => !/[\0\r\n]/.test(dn), { error: 'must not contain control characters' });

const LdapUrlSchema = z
  .string()
  .trim()
  .refine(
    (text) => {
      if (!URL.canParse(text)) return false;
      const url = new URL(text);
      return (
        (url.protocol === 'ldap:' || url.protocol === 'ldaps:') &&
        url.hostname !== '' &&
        url.username === '' &&
        url.password === '' &&
        (url.pathname === '' || url.pathname === '/') &&
        url.search === ''
      );
    },
    { error: 'must be ldap://host[:port] or ldaps://host[:port], without credentials or a path' },
  );

function template(fields: readonly FilterField[]) {
  return z
    .string()
    .max(LDAP_LIMITS.stringLength)
    .superRefine((text, ctx) => {
      const problem = filterTemplateProblem(text, fields);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    });
}

const PemCertificatesSchema = pemCertificatesSchema(
  LDAP_LIMITS.pemLength,
  'must be PEM certificates (BEGIN CERTIFICATE): the CA(s) the server certificate chains to',
);

/**
 * An LDAP mount's configuration (`coffer auth enable ldap --config-file …`), named as Vault's `auth/ldap/config`.
 * Passwords never travel in clear: an `ldap://` URL needs `starttls`, or `insecure_plaintext: true` said out loud.
 */
export const LdapMountConfigSchema = z
  .strictObject({
    /** One URL or several, comma-separated, tried in order. */
    url: z
      .string()
      .min(1)
      .max(LDAP_LIMITS.stringLength)
      .transform((text) =>
        text
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean),
      )
      .pipe(z.array(LdapUrlSchema).min(1).max(LDAP_LIMITS.urls))
      .transform((urls) => urls.join(',')),
    starttls: z.boolean().default(false),
    certificate: PemCertificatesSchema.optional(),
    insecure_tls: z.boolean().default(false),
    /** Allows `ldap://` without StartTLS: passwords then cross the network in clear. */
    insecure_plaintext: z.boolean().default(false),
    binddn: DnSchema.min(1).optional(),
    bindpass: z.string().min(1).max(LDAP_LIMITS.passwordLength).optional(),
    userdn: DnSchema.default(''),
    userattr: AttributeSchema.default('cn'),
    userfilter: template(['UserAttr', 'Username']).default(DEFAULT_USERFILTER),
    upndomain: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, { error: 'must be a domain name' })
      .optional(),
    discoverdn: z.boolean().default(false),
    groupdn: DnSchema.default(''),
    groupattr: AttributeSchema.default('cn'),
    groupfilter: template(['Username', 'UserDN']).default(DEFAULT_GROUPFILTER),
    username_as_alias: z.boolean().default(false),
    request_timeout: DurationSchema.refine((s) => s > 0 && s <= LDAP_LIMITS.timeoutSeconds, {
      error: `must be between 1 second and ${LDAP_LIMITS.timeoutSeconds} seconds`,
    }).default(10),
    deny_null_bind: z.boolean().default(true),
    case_sensitive_names: z.boolean().default(false),
    /** 0: the token service's default. */
    token_ttl: DurationSchema.default(0),
    /** 0: the token service's maximum. */
    token_max_ttl: DurationSchema.default(0),
    token_num_uses: z.number().int().min(0).max(1_000_000).default(0),
    token_bound_cidrs: CidrListSchema.default([]),
  })
  .superRefine((config, ctx) => {
    // Runs after a failed field too (zod checks the object anyway): only look at what parsed.
    const urls = typeof config.url === 'string' ? config.url.split(',') : [];
    const plain = urls.filter((u) => u.startsWith('ldap://'));
    if (plain.length > 0 && !config.starttls && !config.insecure_plaintext) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message:
          `${plain[0]} would send passwords in clear: use ldaps://, set starttls: true, ` +
          'or set insecure_plaintext: true to accept that',
      });
    }
    if ((config.binddn === undefined) !== (config.bindpass === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['bindpass'], message: 'binddn and bindpass go together' });
    }
    if (config.token_max_ttl !== 0 && config.token_ttl > config.token_max_ttl) {
      ctx.addIssue({ code: 'custom', path: ['token_ttl'], message: 'token_ttl must not exceed token_max_ttl' });
    }
  });
export type LdapMountConfigInput = z.input<typeof LdapMountConfigSchema>;
export type LdapMountConfig = z.output<typeof LdapMountConfigSchema>;

/** Vault takes policy lists as arrays or comma-separated strings. */
const PolicyListSchema = z
  .union([
    z.string().transform((text) =>
      text
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    ),
    z.array(z.string()),
  ])
  .pipe(z.array(PolicyNameSchema).max(LDAP_LIMITS.policies));

/** A group or user name as the directory spells it: any text but control characters and `/`. */
export const LdapEntryNameSchema = z
  .string()
  .min(1)
  .max(LDAP_LIMITS.entryNameLength)
  .refine((name) => !hasControlCharacters(name) && !name.includes('/'), {
    error: 'must not contain control characters or /',
  });

/**
 * What the framework stores as this method's "roles": LDAP groups (`groups/<name>`: the policies of its members) and
 * users (`users/<name>`: policies and extra groups of one user), as Vault's `auth/ldap/groups|users`.
 */
export const LdapEntrySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('group'), policies: PolicyListSchema.default([]) }),
  z.strictObject({
    kind: z.literal('user'),
    policies: PolicyListSchema.default([]),
    groups: z
      .union([
        z.string().transform((text) =>
          text
            .split(',')
            .map((g) => g.trim())
            .filter(Boolean),
        ),
        z.array(z.string()),
      ])
      .pipe(z.array(LdapEntryNameSchema).max(LDAP_LIMITS.userGroups))
      .default([]),
  }),
]);
export type LdapEntry = z.output<typeof LdapEntrySchema>;
export type LdapEntryKind = LdapEntry['kind'];

/**
 * The body of `POST /v1/auth/<mount>/login` (`{username, password}`; the Vault-style `login/<username>` route puts
 * the username in). No format rule on the password beyond its length: its messages must never echo it.
 */
export const LdapLoginSchema = z.strictObject({
  username: z
    .string()
    .min(1)
    .max(LDAP_LIMITS.usernameLength)
    .refine((name) => !hasControlCharacters(name)),
  password: z.string().max(LDAP_LIMITS.passwordLength),
});
export type LdapLogin = z.infer<typeof LdapLoginSchema>;
