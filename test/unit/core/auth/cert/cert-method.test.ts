import { beforeAll, describe, expect, it } from 'vitest';
import { type CertRole, CertRoleSchema } from '../../../../../lambdas/core/auth/cert/cert-config.ts';
import type { CertLoginError } from '../../../../../lambdas/core/auth/cert/cert-errors.ts';
import { CERT_METHOD, NO_CLIENT_CERTIFICATE } from '../../../../../lambdas/core/auth/cert/cert-method.ts';
import type { AuthMountRef, LoginContext } from '../../../../../lambdas/core/auth/methods/auth-method.ts';
import { LoginFailedError } from '../../../../../lambdas/core/auth/methods/login-error.ts';
import type { RevocationStatus } from '../../../../../lambdas/core/ports/certificate-revocation.ts';
import { makeCa, type TestCa, type TestClient } from './cert-test-ca.ts';

const NOW = Date.UTC(2026, 11, 7, 8, 0, 0);
const mount: AuthMountRef<Record<string, never>> = { path: 'cert', id: 'cert.m1', config: {} };

let ca: TestCa;
let otherCa: TestCa;
let client: TestClient;

beforeAll(async () => {
  ca = await makeCa(NOW);
  // The same subject name as `ca`: only the signature tells them apart.
  otherCa = await makeCa(NOW);
  client = await ca.issue({
    subject: 'CN=payments.internal, OU=payments',
    dns: ['payments.internal'],
    emails: ['payments@example.org'],
    uris: ['spiffe://example.org/ns/prod/sa/payments'],
  });
});

const context = (cert: TestClient | undefined, extra: Partial<LoginContext> = {}): LoginContext => ({
  sourceIp: '10.0.0.5',
  now: NOW,
  requestId: 'r-1',
  ...(cert === undefined ? {} : { clientCertificate: cert.der }),
  ...extra,
});

function roles(entries: Record<string, Partial<CertRole>>) {
  const parsed = new Map(
    Object.entries(entries).map(([name, role]) => [name, CertRoleSchema.parse({ certificate: ca.pem, ...role })]),
  );
  const reads: string[] = [];
  return {
    reads,
    get: async (name: string) => {
      reads.push(name);
      return parsed.get(name);
    },
    list: async () => [...parsed.keys()],
  };
}

const method = (revoked: (der: Uint8Array) => RevocationStatus = () => 'good') =>
  CERT_METHOD.create({
    store: undefined as never,
    clock: { now: () => NOW },
    certificateRevocation: { revocationStatus: async (der) => revoked(der) },
  });

async function refusal(promise: Promise<unknown>): Promise<CertLoginError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoginFailedError);
  return err as CertLoginError;
}

describe('Class: CertMethod', () => {
  it('logs a client in with the named role: policies, TTLs, CIDRs and the certificate identifiers as metadata', async () => {
    const outcome = await method().login(
      mount,
      { name: 'payments' },
      roles({
        payments: {
          allowed_common_names: ['payments.*'],
          allowed_uri_sans: ['spiffe://example.org/ns/*/sa/payments'],
          token_policies: ['payments'],
          token_ttl: 600,
          token_max_ttl: 3600,
          token_num_uses: 3,
          token_bound_cidrs: ['10.0.0.0/8'],
        },
      }),
      context(client),
    );
    expect(outcome).toMatchObject({
      role: 'payments',
      policies: ['payments'],
      ttlSeconds: 600,
      maxTtlSeconds: 3600,
      numUses: 3,
      alias: 'payments.internal',
      boundCidrs: ['10.0.0.0/8'],
      metadata: { cert_name: 'payments', common_name: 'payments.internal', serial_number: client.serial },
    });
    expect(outcome.metadata.subject_key_id).toMatch(/^([0-9a-f]{2}:)+[0-9a-f]{2}$/);
    expect(outcome.metadata.authority_key_id).toMatch(/^([0-9a-f]{2}:)+[0-9a-f]{2}$/);
  });

  it('without a name tries every role in name order and takes the first that accepts the certificate', async () => {
    const reader = roles({
      zeta: { token_policies: ['zeta'] },
      beta: { allowed_common_names: ['billing.internal'], token_policies: ['beta'] },
      alpha: { allowed_dns_sans: ['payments.internal'], token_policies: ['alpha'] },
    });
    const outcome = await method().login(mount, {}, reader, context(client));
    expect(outcome.role).toBe('alpha');
    expect(reader.reads).toEqual(['alpha']);

    const second = await method().login(
      mount,
      {},
      roles({ zeta: {}, beta: { allowed_common_names: ['x'] } }),
      context(client),
    );
    expect(second.role).toBe('zeta');
  });

  it('refuses when no role accepts the certificate, naming each role and why in the audit reason only', async () => {
    const err = await refusal(
      method().login(
        mount,
        {},
        roles({ a: { allowed_common_names: ['billing.*'] }, b: { certificate: otherCa.pem } }),
        context(client),
      ),
    );
    expect(err.message).toBe('no role of this mount accepts the client certificate');
    expect(err.auditReason).toBe('cert no_role: no role accepted the certificate (a: name, b: untrusted)');
  });

  it('refuses a login without a client certificate with a message saying to use mTLS', async () => {
    const err = await refusal(method().login(mount, { name: 'payments' }, roles({ payments: {} }), context(undefined)));
    expect(err.message).toBe(NO_CLIENT_CERTIFICATE);
    expect(err.auditReason).toBe(`cert no_certificate: ${NO_CLIENT_CERTIFICATE}`);
  });

  it('refuses a certificate from another CA whose name is the same as the role CA', async () => {
    const stranger = await otherCa.issue();
    const err = await refusal(method().login(mount, { name: 'payments' }, roles({ payments: {} }), context(stranger)));
    expect(err).toMatchObject({
      reason: 'untrusted',
      role: 'payments',
      message: "certificate not issued by the role's CA",
    });
  });

  it('accepts a pinned client certificate as its own trust anchor', async () => {
    const pinned = await otherCa.issue({ subject: 'CN=pinned' });
    const ok = await method().login(mount, { name: 'p' }, roles({ p: { certificate: pinned.pem } }), context(pinned));
    expect(ok.metadata.common_name).toBe('pinned');
  });

  it('refuses expired, not yet valid and server-only certificates, and unknown roles', async () => {
    const expired = await ca.issue({ notBefore: new Date(NOW - 10 * 86_400_000), notAfter: new Date(NOW - 1000) });
    const future = await ca.issue({ notBefore: new Date(NOW + 60_000) });
    const serverOnly = await ca.issue({ usage: 'server' });
    const reader = roles({ payments: {} });
    expect(await refusal(method().login(mount, { name: 'payments' }, reader, context(expired)))).toMatchObject({
      reason: 'expired',
    });
    expect(await refusal(method().login(mount, { name: 'payments' }, reader, context(future)))).toMatchObject({
      reason: 'not_yet_valid',
    });
    expect(await refusal(method().login(mount, { name: 'payments' }, reader, context(serverOnly)))).toMatchObject({
      reason: 'usage',
    });
    expect(await refusal(method().login(mount, { name: 'nope' }, reader, context(client)))).toMatchObject({
      reason: 'no_role',
      message: 'role not found',
    });
  });

  it('binds common names, DNS, email and URI SANs (SPIFFE IDs) and OUs by glob; each unmatched one refuses', async () => {
    const login = (role: Partial<CertRole>) =>
      method().login(mount, { name: 'r' }, roles({ r: role }), context(client));
    await expect(login({ allowed_email_sans: ['*@example.org'] })).resolves.toMatchObject({ role: 'r' });
    await expect(login({ allowed_organizational_units: ['payments'] })).resolves.toMatchObject({ role: 'r' });
    await expect(login({ allowed_uri_sans: ['spiffe://example.org/ns/*/sa/*'] })).resolves.toMatchObject({ role: 'r' });
    for (const [role, message] of [
      [{ allowed_common_names: ['billing.internal'] }, 'common name not allowed by the role'],
      [{ allowed_dns_sans: ['*.example.org'] }, 'DNS SAN not allowed by the role'],
      [{ allowed_email_sans: ['root@example.org'] }, 'email SAN not allowed by the role'],
      [{ allowed_uri_sans: ['spiffe://example.org/ns/staging/*'] }, 'URI SAN not allowed by the role'],
      [{ allowed_organizational_units: ['billing'] }, 'organizational unit not allowed by the role'],
    ] as [Partial<CertRole>, string][]) {
      expect(await refusal(login(role))).toMatchObject({ reason: 'name', message });
    }
  });

  it('requires the extensions a role lists', async () => {
    const marked = await ca.issue({ extraExtensionOids: ['1.3.6.1.4.1.99999.1'] });
    const reader = roles({ r: { required_extensions: ['1.3.6.1.4.1.99999.1:*'] } });
    await expect(method().login(mount, { name: 'r' }, reader, context(marked))).resolves.toMatchObject({ role: 'r' });
    expect(await refusal(method().login(mount, { name: 'r' }, reader, context(client)))).toMatchObject({
      reason: 'extension',
      message: 'required extension 1.3.6.1.4.1.99999.1 missing',
    });
  });

  it('refuses a certificate the PKI engine revoked, asking about the very certificate presented', async () => {
    const asked: Uint8Array[] = [];
    const revoking = method((der) => {
      asked.push(der);
      return 'revoked';
    });
    const err = await refusal(revoking.login(mount, { name: 'r' }, roles({ r: {} }), context(client)));
    expect(err).toMatchObject({ reason: 'revoked', message: 'certificate revoked', role: 'r' });
    expect(asked).toEqual([client.der]);
    await expect(
      method(() => 'unknown').login(mount, { name: 'r' }, roles({ r: {} }), context(client)),
    ).resolves.toMatchObject({ role: 'r' });
  });

  it('fails closed when the PKI engine cannot answer: the error is no denial, and no role is tried after it', async () => {
    const broken = CERT_METHOD.create({
      store: undefined as never,
      clock: { now: () => NOW },
      certificateRevocation: {
        revocationStatus: async () => {
          throw new Error('store unavailable');
        },
      },
    });
    const reader = roles({ a: {}, b: {} });
    const err = await broken.login(mount, {}, reader, context(client)).catch((e: unknown) => e);
    expect(err).toEqual(new Error('store unavailable'));
    expect(err).not.toBeInstanceOf(LoginFailedError);
    expect(reader.reads).toEqual(['a']);
  });

  it("refuses a certificate listed by a role's CRL signed by the role's CA, and ignores a look-alike CA's CRL", async () => {
    const listed = CertRoleSchema.parse({ certificate: ca.pem, crls: [await ca.crl([client.serial])] });
    const reader = { get: async () => listed };
    expect(await refusal(method().login(mount, { name: 'r' }, reader, context(client)))).toMatchObject({
      reason: 'revoked',
      message: 'certificate revoked',
    });
    const other = await ca.issue();
    await expect(method().login(mount, { name: 'r' }, reader, context(other))).resolves.toMatchObject({ role: 'r' });
    // Same issuer name, another key: not the role CA's list, so it revokes nothing (and is refused on write).
    const forged = CertRoleSchema.parse({ certificate: ca.pem, crls: [await otherCa.crl([client.serial])] });
    await expect(
      method().login(mount, { name: 'r' }, { get: async () => forged }, context(client)),
    ).resolves.toMatchObject({ role: 'r' });
    const write = (role: CertRole) => ({ mount, name: 'r', role, previous: undefined });
    await expect(method().prepareRole(write(forged))).rejects.toThrow(
      'invalid role: crls.0: not signed by any certificate of the role',
    );
    await expect(method().prepareRole(write(listed))).resolves.toEqual({ role: listed, ops: [] });
    expect(CertRoleSchema.safeParse({ certificate: ca.pem, crls: [ca.pem] }).success).toBe(false);
  });

  it('refuses on write a CRL with a CRL label that does not parse (the schema checks only the label)', async () => {
    const unreadable = '-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n';
    const role = CertRoleSchema.parse({ certificate: ca.pem, crls: [unreadable] });
    await expect(method().prepareRole({ mount, name: 'r', role, previous: undefined })).rejects.toThrow(
      'invalid role: crls.0: must be a PEM CRL (BEGIN X509 CRL)',
    );
  });

  it('refuses in the schema a certificate block that does not parse, without loading the X.509 library', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n';
    expect(CertRoleSchema.safeParse({ certificate: broken }).success).toBe(false);
    expect(CertRoleSchema.safeParse({ certificate: `${ca.pem}${broken}` }).success).toBe(false);
  });

  it('refuses a source outside bound_cidrs and bytes that are not a certificate', async () => {
    const reader = roles({ r: { bound_cidrs: ['192.168.0.0/16'] } });
    expect(await refusal(method().login(mount, { name: 'r' }, reader, context(client)))).toMatchObject({
      reason: 'source',
    });
    const junk = { der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), pem: '', serial: '' };
    expect(await refusal(method().login(mount, { name: 'r' }, roles({ r: {} }), context(junk)))).toMatchObject({
      reason: 'malformed',
    });
  });
});

describe('Schema: CertRoleSchema', () => {
  it('requires PEM certificates and nothing else, and an OID for each required extension', () => {
    expect(CertRoleSchema.safeParse({}).success).toBe(false);
    expect(CertRoleSchema.safeParse({ certificate: 'not pem' }).success).toBe(false);
    const withKey = `${ca.pem}\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`;
    expect(CertRoleSchema.safeParse({ certificate: withKey }).success).toBe(false);
    expect(CertRoleSchema.safeParse({ certificate: `${ca.pem}\n${otherCa.pem}` }).success).toBe(true);
    expect(CertRoleSchema.safeParse({ certificate: ca.pem, required_extensions: ['1.2.3:value'] }).success).toBe(false);
    expect(CertRoleSchema.parse({ certificate: ca.pem, token_ttl: '1h' }).token_ttl).toBe(3600);
  });
});
