import * as z from 'zod';

/** The PKI engine speaks Vault's field names (snake case), so existing tooling carries over. */
export const PkiRootGenerated = z.object({
  certificate: z.string(),
  serial_number: z.string(),
  expiration: z.string(),
  key_store: z.string(),
});

export const PkiIntermediateGenerated = z.object({
  csr: z.string(),
  certificate: z.string().optional(),
  serial_number: z.string().optional(),
  expiration: z.string().optional(),
});

export const PkiIntermediateSigned = z.object({
  certificate: z.string(),
  serial_number: z.string(),
  expiration: z.string(),
});

export const PkiIntermediateSet = z.object({ serial_number: z.string(), expiration: z.string() });

export const PkiCaChain = z.object({
  certificate: z.string(),
  ca_chain: z.array(z.string()).describe('Issuing CA first, root last'),
  pem: z.string(),
});

/** The DER CRL, sent as `application/pkix-crl`: no JSON body. */
export const PkiCrlDer = z.undefined().describe('DER (application/pkix-crl)');

export const PkiCrl = z.object({
  crl: z.string(),
  crl_number: z.number(),
  this_update: z.string(),
  next_update: z.string(),
});

export const PkiRole = z.object({
  name: z.string(),
  allowed_domains: z.array(z.string()),
  allow_bare_domains: z.boolean(),
  allow_subdomains: z.boolean(),
  allow_glob_domains: z.boolean(),
  allow_ip_sans: z.boolean(),
  ttl: z.number().describe('Seconds'),
  max_ttl: z.number().describe('Seconds'),
  key_type: z.string(),
  key_usage: z.array(z.string()),
  ext_key_usage: z.array(z.string()),
  store_private_key: z.boolean(),
});

export const PkiRoleDeleted = z.object({ name: z.string(), deleted: z.boolean() });

export const PkiRoleList = z.object({ roles: z.array(z.string()) });

export const PkiCertificateIssued = z.object({
  serial_number: z.string(),
  certificate: z.string(),
  issuing_ca: z.string(),
  ca_chain: z.array(z.string()),
  expiration: z.string(),
});

/** The private key is returned once (or kept sealed when the role says so). */
export const PkiKeyIssued = PkiCertificateIssued.extend({ private_key: z.string(), private_key_type: z.string() });

export const PkiRevoked = z.object({ serial_number: z.string(), revocation_time: z.string(), crl_number: z.number() });

export const PkiTidied = z.object({ removed: z.number(), removed_from_crl: z.number() });

export const PkiCertificateList = z.object({
  certificates: z.array(z.object({ serial_number: z.string(), status: z.string(), expiration: z.string() })),
});

export const PkiCertificate = z.object({
  serial_number: z.string(),
  certificate: z.string(),
  status: z.enum(['valid', 'revoked']),
  common_name: z.string(),
  role: z.string(),
  expiration: z.string(),
  revocation_time: z.string().optional(),
  private_key_stored: z.boolean(),
});

export const PkiStoredKey = z.object({ serial_number: z.string(), private_key: z.string() });
