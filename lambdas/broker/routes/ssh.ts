import * as z from 'zod';
import * as api from '../../api/index.ts';
import { parseDuration } from '../../core/duration.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import { ROLE_NAME } from '../../engines/shared/engine-roles.ts';
import { SSH_CA_KEY_TYPES } from '../../engines/ssh/ssh-records.ts';
import { type SshRole, SshRoleSchema } from '../../engines/ssh/ssh-role.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { describeLease, withinCallerToken } from './leases.ts';
import { iso, ListOrCommaSeparated } from './wire.ts';

/**
 * The SSH engine (Vault's `ssh` mount): policy paths `ssh/config/ca`, `ssh/roles/<name>`, `ssh/sign/<role>` (sign a
 * public key), `ssh/creds/<role>` (a one-time password), `ssh/verify` (a host's helper consumes one).
 */
const RoleName = z.string().regex(ROLE_NAME, 'a role name is 1–128 letters, digits, "_", "." or "-"');
const NameParam = z.object({ name: RoleName });
const RoleParam = z.object({ role: RoleName });
const Ttl = z
  .union([z.string().max(32), z.number().int().min(1)])
  .optional()
  .describe('e.g. "10m"; capped by the role\'s max_ttl and the calling token\'s expiry');
const PrincipalList = ListOrCommaSeparated(z.string().min(1).max(256), { nonEmpty: true, max: 256 });

const CaBody = z.object({ key_type: z.enum(SSH_CA_KEY_TYPES).default('ed25519') }).strict();

const SignBody = z
  .object({
    public_key: z.string().min(1).max(16_384),
    valid_principals: PrincipalList.optional(),
    ttl: Ttl,
    extensions: z.record(z.string().max(128), z.string().max(4096)).optional(),
    critical_options: z.record(z.string().max(128), z.string().max(4096)).optional(),
  })
  .strict();

const CredsBody = z
  .object({
    ip: z.string().min(1).max(64).describe('The host the password is for'),
    username: z.string().min(1).max(256).optional(),
    ttl: Ttl,
  })
  .strict();

const VerifyBody = z.object({ otp: z.string().min(1).max(128) }).strict();

function ssh(deps: BrokerDeps) {
  return requireService(deps, 'ssh');
}

/** The certificate's key id names who asked, so sshd's log ("ID …") ties a login to a Coffer identity. */
function keyIdOf(principal: Principal | undefined): string {
  return principal === undefined ? 'coffer:anonymous' : `coffer:${principal.displayName}:${principal.id}`;
}

async function roleOfType(deps: BrokerDeps, name: string, type: SshRole['key_type']): Promise<SshRole> {
  const role = await ssh(deps).getRole(name);
  if (role.key_type !== type) {
    throw new InvalidRequestError(
      type === 'ca'
        ? `role ${name} issues one-time passwords: use /v1/ssh/creds/${name}`
        : `role ${name} signs certificates: use /v1/ssh/sign/${name}`,
    );
  }
  return role;
}

/**
 * The TTL to issue for: the one asked for (else the role's), never past the caller's token's expiry. A certificate
 * cannot be called back once signed, so it must not outlive the credential that asked for it.
 */
async function ttlWithin(ctx: RouteContext, role: SshRole, asked: string | number | undefined): Promise<number> {
  return withinCallerToken(ctx, asked === undefined ? role.ttl : parseDuration(asked));
}

function leaseFields(lease: Parameters<typeof describeLease>[0], ctx: RouteContext) {
  return {
    ...describeLease(lease),
    kind: 'ssh' as const,
    leaseDuration: Math.round((lease.expiresAt - ctx.deps.clock.now()) / 1000),
  };
}

const text = (body: string) => ({
  body: undefined,
  raw: { contentType: 'text/plain; charset=utf-8', bytes: Buffer.from(body, 'utf8') },
});

export const sshRoutes: RouteDef[] = [
  defineRoute({
    operation: 'ssh.ca.create',
    method: 'POST',
    path: '/v1/ssh/config/ca',
    summary:
      "Generate the SSH CA's key (create-only): Ed25519 sealed under the envelope key, ECDSA/RSA in the CA key store",
    mutating: true,
    response: api.SshCa,
    body: CaBody,
    access: () => ({ path: 'ssh/config/ca', capability: 'update' }),
    async handle({ body }, { deps }) {
      const ca = await ssh(deps).createCa(body.key_type);
      return { body: describeCa(ca) };
    },
  }),
  defineRoute({
    operation: 'ssh.ca.read',
    method: 'GET',
    path: '/v1/ssh/config/ca',
    summary: "The SSH CA's public key, key type and key store",
    mutating: false,
    response: api.SshCa,
    access: () => ({ path: 'ssh/config/ca', capability: 'read' }),
    async handle(_input, { deps }) {
      return { body: describeCa(await ssh(deps).ca()) };
    },
  }),
  defineRoute({
    operation: 'ssh.ca.delete',
    method: 'DELETE',
    path: '/v1/ssh/config/ca',
    summary: 'Delete the SSH CA: nothing is signed until a new one is created',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    access: () => ({ path: 'ssh/config/ca', capability: 'delete' }),
    async handle(_input, { deps }) {
      await ssh(deps).deleteCa();
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'ssh.public_key',
    method: 'GET',
    path: '/v1/ssh/public_key',
    summary:
      "The SSH CA's public key as one OpenSSH line (text/plain), for sshd's TrustedUserCAKeys; no authentication",
    auth: 'none',
    mutating: false,
    auditResponse: 'omit',
    response: api.SshText,
    resource: () => 'ssh/public_key',
    async handle(_input, { deps }) {
      return text(`${(await ssh(deps).ca()).publicKey}\n`);
    },
  }),
  defineRoute({
    operation: 'ssh.revoked_keys',
    method: 'GET',
    path: '/v1/ssh/revoked_keys',
    summary:
      "Keys of certificates revoked before their expiry, one OpenSSH line each (text/plain), for sshd's RevokedKeys; no authentication",
    auth: 'none',
    mutating: false,
    auditResponse: 'omit',
    response: api.SshText,
    resource: () => 'ssh/revoked_keys',
    async handle(_input, { deps }) {
      return text(await ssh(deps).revokedKeys());
    },
  }),
  defineRoute({
    operation: 'ssh.role.list',
    method: 'GET',
    path: '/v1/ssh/roles',
    summary: 'List SSH roles (names only)',
    mutating: false,
    response: api.SshRoleList,
    access: () => ({ path: 'ssh/roles', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { roles: await ssh(deps).listRoles() } };
    },
  }),
  defineRoute({
    operation: 'ssh.role.write',
    method: 'PUT',
    path: '/v1/ssh/roles/{name}',
    summary: 'Create or replace an SSH role: key_type ca (principals, extensions, critical options) or otp (hosts)',
    mutating: true,
    response: api.SshRole,
    params: NameParam,
    body: SshRoleSchema,
    access: ({ params }) => ({ path: `ssh/roles/${params.name}`, capability: 'update' }),
    async handle({ params, body }, { deps }) {
      return { body: { name: params.name, ...(await ssh(deps).putRole(params.name, body)) } };
    },
  }),
  defineRoute({
    operation: 'ssh.role.read',
    method: 'GET',
    path: '/v1/ssh/roles/{name}',
    summary: 'Read an SSH role',
    mutating: false,
    response: api.SshRole,
    params: NameParam,
    access: ({ params }) => ({ path: `ssh/roles/${params.name}`, capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...(await ssh(deps).getRole(params.name)) } };
    },
  }),
  defineRoute({
    operation: 'ssh.role.delete',
    method: 'DELETE',
    path: '/v1/ssh/roles/{name}',
    summary: 'Delete an SSH role (its live leases stay listed and revocable)',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    params: NameParam,
    access: ({ params }) => ({ path: `ssh/roles/${params.name}`, capability: 'delete' }),
    async handle({ params }, { deps }) {
      await ssh(deps).deleteRole(params.name);
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'ssh.sign',
    method: 'POST',
    path: '/v1/ssh/sign/{role}',
    summary:
      "Sign a public key into an OpenSSH user certificate under a new lease, within the role's principals, options and TTL",
    mutating: true,
    feature: ['ssh', 'leases'],
    response: api.SshSignedCertificate,
    params: RoleParam,
    body: SignBody,
    access: ({ params }) => ({ path: `ssh/sign/${params.role}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { deps, principal } = ctx;
      const role = await roleOfType(deps, params.role, 'ca');
      const { lease, credential } = await requireService(deps, 'leases').issue({
        kind: 'ssh',
        action: 'sign',
        role: params.role,
        principalId: principal?.id ?? 'anonymous',
        ttlSeconds: await ttlWithin(ctx, role, body.ttl),
        request: {
          public_key: body.public_key,
          key_id: keyIdOf(principal),
          ...(body.valid_principals !== undefined && { valid_principals: body.valid_principals }),
          ...(body.extensions !== undefined && { extensions: body.extensions }),
          ...(body.critical_options !== undefined && { critical_options: body.critical_options }),
        },
      });
      if (credential.type !== 'certificate') throw new InvalidRequestError(`role ${params.role} is not a CA role`);
      return {
        body: {
          ...leaseFields(lease, ctx),
          // The validity is signed into the certificate.
          renewable: false,
          signed_key: credential.signedKey,
          serial_number: credential.serialNumber,
        },
      };
    },
  }),
  defineRoute({
    operation: 'ssh.creds',
    method: 'POST',
    path: '/v1/ssh/creds/{role}',
    summary: 'A one-time password for a user on a host, under a new lease (an otp role)',
    mutating: true,
    wrappable: true,
    feature: ['ssh', 'leases'],
    response: api.SshOtpCredential,
    params: RoleParam,
    body: CredsBody,
    sensitive: ['key'],
    access: ({ params }) => ({ path: `ssh/creds/${params.role}`, capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { deps, principal } = ctx;
      const role = await roleOfType(deps, params.role, 'otp');
      const { lease, credential } = await requireService(deps, 'leases').issue({
        kind: 'ssh',
        role: params.role,
        principalId: principal?.id ?? 'anonymous',
        ttlSeconds: await ttlWithin(ctx, role, body.ttl),
        request: { ip: body.ip, ...(body.username !== undefined && { username: body.username }) },
      });
      if (credential.type !== 'otp') throw new InvalidRequestError(`role ${params.role} is not an OTP role`);
      return {
        body: {
          ...leaseFields(lease, ctx),
          renewable: true,
          key: credential.key,
          username: credential.username,
          ip: credential.ip,
        },
      };
    },
  }),
  defineRoute({
    operation: 'ssh.verify',
    method: 'POST',
    path: '/v1/ssh/verify',
    summary: "Consume a one-time password (a host's helper credential): each verifies once, before its expiry",
    mutating: true,
    response: api.SshOtpVerified,
    body: VerifyBody,
    sensitive: ['otp'],
    access: () => ({ path: 'ssh/verify', capability: 'update' }),
    async handle({ body }, { deps }) {
      const verified = await ssh(deps).verifyOtp(body.otp);
      return { body: { username: verified.username, ip: verified.ip, role_name: verified.role } };
    },
  }),
];

function describeCa(ca: { publicKey: string; keyType: string; keyStore: string; createdAt: number }) {
  return { public_key: ca.publicKey, key_type: ca.keyType, key_store: ca.keyStore, created_at: iso(ca.createdAt) };
}
