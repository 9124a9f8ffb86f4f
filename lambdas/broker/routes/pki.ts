import * as z from 'zod';
import * as api from '../../api/index.ts';
import { CA_KEY_TYPES } from '../../core/ports/ca-key-store.ts';
import { DurationSchema, PkiRoleSchema } from '../../engines/pki/pki-role.ts';
import type { PkiService } from '../../engines/pki/pki-service.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { ListOrCommaSeparated } from './wire.ts';

/** Policy paths of the PKI engine: `pki/root`, `pki/intermediate`, `pki/roles/<name>`, `pki/issue/<role>`, ... */
export const pkiPath = (...segments: string[]): string => ['pki', ...segments].join('/');

function pki(deps: BrokerDeps): PkiService {
  return requireService(deps, 'pki');
}

const CommonName = z.string().min(1).max(64).describe('Subject CN (a DNS name for leaf certificates)');
const Pem = z.string().min(1).max(65_536);
const NameList = ListOrCommaSeparated(z.string().min(1).max(253), { max: 100 });
const RoleParam = z.object({ role: z.string().min(1).max(128) });
const NameParam = z.object({ name: z.string().min(1).max(128) });
const SerialParam = z.object({ serial: z.string().min(1).max(64) });

const RootBody = z
  .object({
    common_name: CommonName,
    key_type: z.enum(CA_KEY_TYPES).default('ec-p256'),
    ttl: DurationSchema.default(10 * 365 * 86_400),
  })
  .strict();

const IntermediateBody = z
  .object({
    common_name: CommonName,
    key_type: z.enum(CA_KEY_TYPES).default('ec-p256'),
    sign_with_root: z.boolean().default(false).describe('Have our root sign it now; else export the CSR'),
    ttl: DurationSchema.default(5 * 365 * 86_400),
  })
  .strict();

const SignIntermediateBody = z
  .object({ csr: Pem, ttl: DurationSchema.default(5 * 365 * 86_400), common_name: CommonName.optional() })
  .strict();

const SetSignedBody = z
  .object({
    certificate: Pem,
    chain: z.array(Pem).max(10).optional().describe('Issuer certificates, nearest first; default: our root'),
  })
  .strict();

const IssueBody = z
  .object({
    common_name: CommonName,
    alt_names: NameList.optional(),
    ip_sans: NameList.optional(),
    ttl: DurationSchema.optional(),
  })
  .strict();

const SignBody = z
  .object({
    csr: Pem,
    common_name: CommonName.optional(),
    alt_names: NameList.optional(),
    ip_sans: NameList.optional(),
    ttl: DurationSchema.optional(),
  })
  .strict();

const RevokeBody = z.object({ serial_number: z.string().min(1).max(64) }).strict();
const TidyBody = z.object({ safety_buffer: DurationSchema.optional() }).strict();

export const pkiRoutes: RouteDef[] = [
  defineRoute({
    operation: 'pki.root.generate',
    method: 'POST',
    path: '/v1/pki/root/generate',
    summary: 'Generate the root CA: a new key (local keyring or KMS) and a self-signed certificate',
    mutating: true,
    response: api.PkiRootGenerated,
    statuses: [201],
    body: RootBody,
    access: () => ({ path: pkiPath('root'), capability: 'create' }),
    async handle({ body }, { deps }) {
      return { status: 201, body: await pki(deps).generateRoot(body) };
    },
  }),
  defineRoute({
    operation: 'pki.root.sign-intermediate',
    method: 'POST',
    path: '/v1/pki/root/sign-intermediate',
    summary: 'Sign an intermediate CA CSR with the root (path length 0)',
    mutating: true,
    response: api.PkiIntermediateSigned,
    body: SignIntermediateBody,
    access: () => ({ path: pkiPath('root'), capability: 'update' }),
    async handle({ body }, { deps }) {
      return { body: await pki(deps).signIntermediate(body) };
    },
  }),
  defineRoute({
    operation: 'pki.intermediate.generate',
    method: 'POST',
    path: '/v1/pki/intermediate/generate',
    summary: "Generate the intermediate CA's key and CSR; optionally have the root sign it at once",
    mutating: true,
    response: api.PkiIntermediateGenerated,
    statuses: [201],
    body: IntermediateBody,
    access: () => ({ path: pkiPath('intermediate'), capability: 'create' }),
    async handle({ body }, { deps }) {
      return { status: 201, body: await pki(deps).generateIntermediate(body) };
    },
  }),
  defineRoute({
    operation: 'pki.intermediate.set-signed',
    method: 'POST',
    path: '/v1/pki/intermediate/set-signed',
    summary: "Import the intermediate's certificate signed by an external CA (must match its key)",
    mutating: true,
    response: api.PkiIntermediateSet,
    body: SetSignedBody,
    access: () => ({ path: pkiPath('intermediate'), capability: 'update' }),
    async handle({ body }, { deps }) {
      return { body: await pki(deps).setIntermediateCertificate(body) };
    },
  }),
  defineRoute({
    operation: 'pki.ca',
    method: 'GET',
    path: '/v1/pki/ca',
    summary: 'The issuing CA certificate and its chain (PEM); no authentication',
    auth: 'none',
    mutating: false,
    response: api.PkiCaChain,
    resource: () => pkiPath('ca'),
    async handle(_input, { deps }) {
      return { body: await pki(deps).caChain() };
    },
  }),
  defineRoute({
    operation: 'pki.crl',
    method: 'GET',
    path: '/v1/pki/crl',
    summary:
      'The CRL distribution point named in issued certificates: the current CRL, DER (application/pkix-crl); no authentication',
    auth: 'none',
    mutating: false,
    auditResponse: 'omit',
    response: api.PkiCrlDer,
    resource: () => pkiPath('crl'),
    async handle(_input, { deps }) {
      const { crl } = await pki(deps).crl();
      return { body: undefined, raw: { contentType: 'application/pkix-crl', bytes: pemToDer(crl) } };
    },
  }),
  defineRoute({
    operation: 'pki.crl.info',
    method: 'GET',
    path: '/v1/pki/crl/info',
    summary: 'The current CRL as PEM, with its number and validity window; no authentication',
    auth: 'none',
    mutating: false,
    auditResponse: 'omit',
    response: api.PkiCrl,
    resource: () => pkiPath('crl'),
    async handle(_input, { deps }) {
      return { body: await pki(deps).crl() };
    },
  }),
  defineRoute({
    operation: 'pki.role.put',
    method: 'PUT',
    path: '/v1/pki/roles/{name}',
    summary: 'Create or replace a PKI role',
    mutating: true,
    response: api.PkiRole,
    params: NameParam,
    body: PkiRoleSchema,
    access: ({ params }) => ({ path: pkiPath('roles', params.name), capability: 'update' }),
    async handle({ params, body }, { deps }) {
      return { body: { name: params.name, ...(await pki(deps).putRole(params.name, body)) } };
    },
  }),
  defineRoute({
    operation: 'pki.role.get',
    method: 'GET',
    path: '/v1/pki/roles/{name}',
    summary: 'Read a PKI role',
    mutating: false,
    response: api.PkiRole,
    params: NameParam,
    access: ({ params }) => ({ path: pkiPath('roles', params.name), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...(await pki(deps).getRole(params.name)) } };
    },
  }),
  defineRoute({
    operation: 'pki.role.delete',
    method: 'DELETE',
    path: '/v1/pki/roles/{name}',
    summary: 'Delete a PKI role',
    mutating: true,
    response: api.PkiRoleDeleted,
    params: NameParam,
    access: ({ params }) => ({ path: pkiPath('roles', params.name), capability: 'delete' }),
    async handle({ params }, { deps }) {
      await pki(deps).deleteRole(params.name);
      return { body: { name: params.name, deleted: true } };
    },
  }),
  defineRoute({
    operation: 'pki.role.list',
    method: 'GET',
    path: '/v1/pki/roles',
    summary: 'List PKI roles',
    mutating: false,
    response: api.PkiRoleList,
    access: () => ({ path: pkiPath('roles'), capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { roles: await pki(deps).listRoles() } };
    },
  }),
  defineRoute({
    operation: 'pki.issue',
    method: 'POST',
    path: '/v1/pki/issue/{role}',
    summary: 'Generate a key and a certificate under a role; the private key is returned once',
    wrappable: true,
    mutating: true,
    response: api.PkiKeyIssued,
    params: RoleParam,
    body: IssueBody,
    sensitive: ['private_key'],
    access: ({ params }) => ({ path: pkiPath('issue', params.role), capability: 'update' }),
    async handle({ params, body }, { deps }) {
      return { body: await pki(deps).issue(params.role, body) };
    },
  }),
  defineRoute({
    operation: 'pki.sign',
    method: 'POST',
    path: '/v1/pki/sign/{role}',
    summary: 'Sign a CSR under a role after checking its proof of possession',
    mutating: true,
    response: api.PkiCertificateIssued,
    params: RoleParam,
    body: SignBody,
    access: ({ params }) => ({ path: pkiPath('sign', params.role), capability: 'update' }),
    async handle({ params, body }, { deps }) {
      return { body: await pki(deps).sign(params.role, body) };
    },
  }),
  defineRoute({
    operation: 'pki.revoke',
    method: 'POST',
    path: '/v1/pki/revoke',
    summary: 'Revoke a certificate by serial number and publish a new CRL',
    mutating: true,
    response: api.PkiRevoked,
    body: RevokeBody,
    access: () => ({ path: pkiPath('revoke'), capability: 'update' }),
    async handle({ body }, { deps }) {
      return { body: await pki(deps).revoke(body.serial_number) };
    },
  }),
  defineRoute({
    operation: 'pki.tidy',
    method: 'POST',
    path: '/v1/pki/tidy',
    summary: 'Remove certificates expired longer than safety_buffer (default 72h) from the index and the CRL',
    mutating: true,
    response: api.PkiTidied,
    body: TidyBody,
    access: () => ({ path: pkiPath('tidy'), capability: 'update' }),
    async handle({ body }, { deps }) {
      return { body: await pki(deps).tidy(body.safety_buffer) };
    },
  }),
  defineRoute({
    operation: 'pki.cert.list',
    method: 'GET',
    path: '/v1/pki/certs',
    summary: 'List tracked certificates: serial, status, expiry',
    mutating: false,
    response: api.PkiCertificateList,
    access: () => ({ path: pkiPath('certs'), capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { certificates: await pki(deps).listCertificates() } };
    },
  }),
  defineRoute({
    operation: 'pki.cert.read',
    method: 'GET',
    path: '/v1/pki/certs/{serial}',
    summary: "A certificate's PEM and status (valid or revoked)",
    mutating: false,
    response: api.PkiCertificate,
    params: SerialParam,
    access: ({ params }) => ({ path: pkiPath('certs', params.serial), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: await pki(deps).certificate(params.serial) };
    },
  }),
  defineRoute({
    operation: 'pki.cert.private-key',
    method: 'GET',
    path: '/v1/pki/certs/{serial}/private-key',
    summary: 'The private key a store_private_key role kept (sealed at rest)',
    mutating: false,
    response: api.PkiStoredKey,
    params: SerialParam,
    sensitive: ['private_key'],
    access: ({ params }) => ({ path: pkiPath('certs', params.serial, 'private-key'), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: await pki(deps).storedPrivateKey(params.serial) };
    },
  }),
];

/** The DER bytes of a single-object PEM document. */
function pemToDer(pem: string): Buffer {
  const base64 = pem.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(base64, 'base64');
}
