/**
 * The PKI engine's one entry point for the broker, the rotation engines and the composition roots. The engine itself
 * (`pki-engine.ts`: the CAs, roles, issuing, the CRL, stored keys) is loaded at the first call, not when a broker
 * starts: it brings @peculiar/x509 and its ASN.1 stack, about a tenth of the broker Lambda's cold import, and most
 * requests (a GET of a secret) never touch PKI (docs/BENCHMARKS.md, issue 15).
 */
import type { CaKeyType } from '../../core/ports/ca-key-store.ts';
import type { IssuedCertificate, IssuedWithKey, IssueRequest, SignRequest } from './issuer.ts';
import type { PkiEngine, PkiServiceOptions } from './pki-engine.ts';
import type { PkiRole, PkiRoleInput } from './pki-role.ts';

export type { IssuedCertificate, IssuedWithKey, IssueRequest, SignRequest } from './issuer.ts';
export type { PkiServiceOptions } from './pki-engine.ts';
export { type CaSlot, normaliseSerial } from './pki-records.ts';

type Result<K extends keyof PkiEngine> = PkiEngine[K] extends (...args: never[]) => infer R ? R : never;

/**
 * The PKI engine: a root CA, an optional intermediate (signed by the root or by an external CA), roles, issue and
 * sign, revocation with a CRL, and tidy. CA keys stay behind a `CaKeyStore`; issued private keys are returned once
 * and stored (sealed) only when the role asks.
 */
export class PkiService {
  readonly #options: PkiServiceOptions;
  readonly #crlUrl: string;
  #engine: Promise<PkiEngine> | undefined;

  constructor(options: PkiServiceOptions) {
    this.#options = options;
    this.#crlUrl = `${options.publicUrl.replace(/\/+$/, '')}/v1/pki/crl`;
  }

  get crlUrl(): string {
    return this.#crlUrl;
  }

  /** The engine, loaded and built once; a failed load is not kept, so the next call tries again. */
  #loaded(): Promise<PkiEngine> {
    // The Reflect polyfill first, on its own: in a split bundle esbuild does not keep the evaluation order of imports
    // across chunks, and tsyringe (under @peculiar/x509) refuses to load without it (see x509.ts).
    this.#engine ??= import('reflect-metadata')
      .then(() => import('./pki-engine.ts'))
      .then(
        ({ PkiEngine }) => new PkiEngine({ ...this.#options, crlUrl: this.#crlUrl }),
        (err: unknown) => {
          this.#engine = undefined;
          throw err;
        },
      );
    return this.#engine;
  }

  // ---- CAs -------------------------------------------------------------------------------------------------

  /** Generates the root CA: a new key in the CaKeyStore and a self-signed certificate. Create-only. */
  async generateRoot(input: { common_name: string; key_type: CaKeyType; ttl: number }): Result<'generateRoot'> {
    return (await this.#loaded()).generateRoot(input);
  }

  /**
   * Generates the intermediate's key and CSR. With `sign_with_root`, our root signs it at once and it becomes the
   * issuing CA; otherwise the CSR goes to an external CA and comes back through `setIntermediateCertificate`.
   */
  async generateIntermediate(input: {
    common_name: string;
    key_type: CaKeyType;
    sign_with_root: boolean;
    ttl: number;
  }): Result<'generateIntermediate'> {
    return (await this.#loaded()).generateIntermediate(input);
  }

  /** The root signs a CA certificate for a CSR (ours or another intermediate's), path length 0. */
  async signIntermediate(input: { csr: string; ttl: number; common_name?: string }): Result<'signIntermediate'> {
    return (await this.#loaded()).signIntermediate(input);
  }

  /**
   * Imports the intermediate's signed certificate. It must hold the intermediate's own public key, be a CA
   * certificate, and verify against the first certificate of `chain` (default: our root).
   */
  async setIntermediateCertificate(input: {
    certificate: string;
    chain?: readonly string[];
  }): Result<'setIntermediateCertificate'> {
    return (await this.#loaded()).setIntermediateCertificate(input);
  }

  /** The issuing CA's certificate and chain (issuing CA first, root last). */
  async caChain(): Result<'caChain'> {
    return (await this.#loaded()).caChain();
  }

  // ---- roles -----------------------------------------------------------------------------------------------

  async putRole(name: string, input: PkiRoleInput): Promise<PkiRole> {
    return (await this.#loaded()).putRole(name, input);
  }

  async getRole(name: string): Promise<PkiRole> {
    return (await this.#loaded()).getRole(name);
  }

  async deleteRole(name: string): Promise<void> {
    return (await this.#loaded()).deleteRole(name);
  }

  async listRoles(): Promise<string[]> {
    return (await this.#loaded()).listRoles();
  }

  // ---- issue and sign --------------------------------------------------------------------------------------

  /** Generates a key pair on the server and a certificate for it. The private key is returned here, once. */
  async issue(roleName: string, request: IssueRequest): Promise<IssuedWithKey> {
    return (await this.#loaded()).issue(roleName, request);
  }

  /** Signs a CSR after checking its proof of possession, its key against the role, and every name. */
  async sign(roleName: string, request: SignRequest): Promise<IssuedCertificate> {
    return (await this.#loaded()).sign(roleName, request);
  }

  /** A certificate's status and PEM (never its private key). */
  async certificate(serial: string): Result<'certificate'> {
    return (await this.#loaded()).certificate(serial);
  }

  async listCertificates(): Result<'listCertificates'> {
    return (await this.#loaded()).listCertificates();
  }

  /** The private key a `store_private_key` role kept, unsealed. */
  async storedPrivateKey(serial: string): Result<'storedPrivateKey'> {
    return (await this.#loaded()).storedPrivateKey(serial);
  }

  /** Re-wraps the data keys of stored private keys under the current root key (after a keyring rotation). */
  async rewrapAll(): Result<'rewrapAll'> {
    return (await this.#loaded()).rewrapAll();
  }

  // ---- revocation, CRL, tidy -------------------------------------------------------------------------------

  /** Revokes a certificate by serial and publishes a new CRL. Revoking twice is a no-op. */
  async revoke(serial: string): Result<'revoke'> {
    return (await this.#loaded()).revoke(serial);
  }

  /** Whether one of the engine's CAs issued `certificate` (DER) and revoked it: the `CertificateRevocation` port. */
  async revocationStatus(certificate: Uint8Array): Result<'revocationStatus'> {
    return (await this.#loaded()).revocationStatus(certificate);
  }

  /** The current CRL of the issuing CA (PEM), re-signed first when it is missing, stale or from another CA. */
  async crl(): Result<'crl'> {
    return (await this.#loaded()).crl();
  }

  /**
   * Removes certificates that expired more than `safetyBufferSeconds` ago from the index, and their entries from
   * the CRL (an expired certificate is rejected on its dates alone), then re-signs the CRL if it changed.
   */
  async tidy(safetyBufferSeconds?: number): Result<'tidy'> {
    return (await this.#loaded()).tidy(safetyBufferSeconds);
  }
}
