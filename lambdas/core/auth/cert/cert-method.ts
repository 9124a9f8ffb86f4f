import { InternalError, ValidationError } from '../../errors.ts';
import { lazyImport } from '../../lazy-import.ts';
import type { CertificateRevocation } from '../../ports/certificate-revocation.ts';
import type {
  AuthMethod,
  AuthMethodDeps,
  AuthMethodFactory,
  AuthMountRef,
  LoginContext,
  LoginOutcome,
  PreparedRole,
  RoleReader,
  RoleWrite,
} from '../methods/auth-method.ts';
import { sourceAllowed } from '../methods/cidrs.ts';
import { LoginFailedError } from '../methods/login-error.ts';
import {
  CERTIFICATE_BUNDLE_ERROR,
  type CertLogin,
  CertLoginSchema,
  type CertMountConfig,
  CertMountConfigSchema,
  type CertRole,
  CertRoleSchema,
  CRL_ERROR,
} from './cert-config.ts';
import { CertLoginError } from './cert-errors.ts';
import type { X509Certificate } from './x509.ts';

/**
 * The certificate checks (and @peculiar/x509 with its ASN.1 stack under them) are loaded at the first role write or
 * login, not when the broker starts: most brokers never see a certificate login, and the library is about a tenth of
 * the broker Lambda's cold import. The Reflect polyfill first, on its own: in a split bundle esbuild does not keep
 * the evaluation order of imports across chunks, and tsyringe (under @peculiar/x509) refuses to load without it.
 */
type CertVerify = typeof import('./cert-verify.ts');
const loadCertVerify = lazyImport(() => import('reflect-metadata').then(() => import('./cert-verify.ts')));

/** The answer to a login without a client certificate: the fix is on the client's side, so say what it is. */
export const NO_CLIENT_CERTIFICATE = 'the login needs a TLS client certificate: connect over mTLS';

/**
 * The TLS certificate method: a workload logs in with the client certificate its TLS connection presented (verified
 * by the transport: the local listener's client CA, API Gateway's mTLS truststore) and gets a Coffer token with the
 * policies of the first role that accepts it. With `name`, only that role is tried; without, every role of the mount
 * in name order, so the same certificate always lands on the same role.
 *
 * Each role checks the certificate again on its own (dates, a signature from one of its CAs, client-auth usage,
 * names, extensions), since the transport's trust store is the union of every role's CAs; then Coffer's PKI engine
 * is asked whether it revoked the certificate, which refuses it even while the transport still accepts it.
 */
export class CertMethod implements AuthMethod<CertMountConfig, CertRole, CertLogin> {
  readonly type = 'cert' as const;
  readonly summary = 'TLS client certificates (mTLS, API Gateway truststore): CA, names, SPIFFE IDs, revocation';
  readonly configSchema = CertMountConfigSchema;
  readonly roleSchema = CertRoleSchema;
  readonly loginSchema = CertLoginSchema;
  readonly #revocation: CertificateRevocation | undefined;

  constructor(deps: Pick<AuthMethodDeps, 'certificateRevocation'>) {
    this.#revocation = deps.certificateRevocation;
  }

  rolePolicies(role: CertRole): readonly string[] {
    return role.token_policies;
  }

  /**
   * Parses the role's certificates and CRLs with the library logins use (the schema checked them with Node's parser
   * and their PEM labels only), and refuses a CRL that none of the role's certificates signed: it could only be a
   * mistake (another CA's list), and at login it would be ignored without a word.
   */
  async prepareRole(write: RoleWrite<CertMountConfig, CertRole>): Promise<PreparedRole<CertRole>> {
    const { crlSignedByOneOf, parseCertificateBundle, parseCrl } = await loadCertVerify();
    const anchors = parseCertificateBundle(write.role.certificate);
    if (anchors === undefined) throw new ValidationError(`invalid role: certificate: ${CERTIFICATE_BUNDLE_ERROR}`);
    for (const [index, pem] of write.role.crls.entries()) {
      const crl = parseCrl(pem);
      if (crl === undefined) throw new ValidationError(`invalid role: crls.${index}: ${CRL_ERROR}`);
      if (!(await crlSignedByOneOf(crl, anchors))) {
        throw new ValidationError(`invalid role: crls.${index}: not signed by any certificate of the role`);
      }
    }
    return { role: write.role, ops: [] };
  }

  async login(
    _mount: AuthMountRef<CertMountConfig>,
    body: CertLogin,
    roles: RoleReader<CertRole>,
    context: LoginContext,
  ): Promise<LoginOutcome> {
    if (context.clientCertificate === undefined || context.clientCertificate.length === 0) {
      throw new CertLoginError('no_certificate', NO_CLIENT_CERTIFICATE, body.name);
    }
    const verify = await loadCertVerify();
    const cert = verify.readClientCertificate(context.clientCertificate);
    if (body.name !== undefined) {
      const role = await roles.get(body.name);
      if (role === undefined) throw new CertLoginError('no_role', 'role not found', body.name);
      return this.#loginAs(verify, body.name, role, cert, context);
    }
    if (roles.list === undefined) throw new InternalError('certificate login without a name needs the role list');
    const names = [...(await roles.list())].sort();
    const refusals: string[] = [];
    for (const name of names) {
      const role = await roles.get(name);
      if (role === undefined) continue;
      try {
        return await this.#loginAs(verify, name, role, cert, context);
      } catch (err) {
        if (!(err instanceof CertLoginError)) throw err;
        refusals.push(`${name}: ${err.reason}`);
      }
    }
    const tried = refusals.length === 0 ? 'the mount has no roles' : refusals.slice(0, 8).join(', ');
    throw new LoginFailedError(
      'no role of this mount accepts the client certificate',
      `cert no_role: no role accepted the certificate (${tried})`,
    );
  }

  async #loginAs(
    verify: CertVerify,
    name: string,
    role: CertRole,
    cert: X509Certificate,
    context: LoginContext,
  ): Promise<LoginOutcome> {
    try {
      if (!sourceAllowed(role.bound_cidrs, context.sourceIp)) {
        throw new CertLoginError('source', 'source address not allowed by the role');
      }
      await verify.checkCertificate(cert, role, context.now);
      // Fails closed: a PKI engine that cannot answer refuses the login (as an internal error, not a denial).
      if ((await this.#revocation?.revocationStatus(context.clientCertificate!)) === 'revoked') {
        throw new CertLoginError('revoked', 'certificate revoked');
      }
    } catch (err) {
      throw err instanceof CertLoginError ? err.forRole(name) : err;
    }
    const facts = verify.factsOf(cert);
    return {
      role: name,
      policies: role.token_policies,
      ttlSeconds: role.token_ttl === 0 ? undefined : role.token_ttl,
      maxTtlSeconds: role.token_max_ttl === 0 ? undefined : role.token_max_ttl,
      numUses: role.token_num_uses,
      metadata: {
        cert_name: name,
        common_name: facts.commonName,
        serial_number: facts.serial,
        subject_key_id: facts.subjectKeyId,
        authority_key_id: facts.authorityKeyId,
      },
      alias: facts.commonName === '' ? facts.serial : facts.commonName,
      boundCidrs: role.token_bound_cidrs,
    };
  }
}

/** The registry's entry for `cert`. */
export const CERT_METHOD = {
  type: 'cert',
  create: (deps) => new CertMethod(deps),
} as const satisfies AuthMethodFactory<CertMountConfig, CertRole, CertLogin> & { readonly type: 'cert' };
