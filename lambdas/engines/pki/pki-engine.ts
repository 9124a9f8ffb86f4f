/**
 * The PKI engine, wired: the parts `PkiService` (`pki-service.ts`, the entry point everyone else uses) loads at its
 * first call, each in its own module: the CAs (`ca-service.ts`), roles (`role-service.ts`), issuing (`issuer.ts`),
 * revocation and the CRL (`crl.ts`), stored private keys (`stored-keys.ts`), over the records of `pki-records.ts`.
 */
import { randomBytes } from 'node:crypto';
import type { CaKeyStore, CaKeyType } from '../../core/ports/ca-key-store.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import type { Store } from '../../core/ports/store.ts';
import { CaService } from './ca-service.ts';
import { CrlService } from './crl.ts';
import {
  CertificateIssuer,
  type IssuedCertificate,
  type IssuedWithKey,
  type IssueRequest,
  type SignRequest,
} from './issuer.ts';
import { newSerial } from './pki-records.ts';
import type { PkiRole, PkiRoleInput } from './pki-role.ts';
import { RoleService } from './role-service.ts';
import { StoredKeys } from './stored-keys.ts';

/** What `PkiService` is built from (the engine is built from the same at its first call). */
export interface PkiServiceOptions {
  readonly store: Store;
  /** Seals private keys that a role asks to store. */
  readonly keyProvider: KeyProvider;
  readonly caKeys: CaKeyStore;
  readonly clock: Clock;
  /** Base URL the CRL is served under; issued certificates carry `<publicUrl>/v1/pki/crl` as CRL distribution point. */
  readonly publicUrl: string;
  /** How long a CRL is valid (nextUpdate − thisUpdate); it is re-signed once half of it has passed. @default 259_200 (72 h) */
  readonly crlLifetimeSeconds?: number;
  /** Source of the 16 serial-number bytes; injectable so tests can force a collision. @default crypto random */
  readonly randomSerial?: () => Buffer;
}

/** What a {@link PkiEngine} is built from: the service's options, its CRL URL already derived. */
export interface PkiEngineOptions extends PkiServiceOptions {
  readonly crlUrl: string;
}

/**
 * The CAs, roles, issuing, revocation and stored keys, over one store; each method is `PkiService`'s of the same name.
 */
export class PkiEngine {
  readonly #cas: CaService;
  readonly #roles: RoleService;
  readonly #issuer: CertificateIssuer;
  readonly #crl: CrlService;
  readonly #storedKeys: StoredKeys;

  constructor(options: PkiEngineOptions) {
    const { store, clock } = options;
    const randomSerial = options.randomSerial ?? (() => randomBytes(16));
    const serials = () => newSerial(randomSerial);
    this.#cas = new CaService({ store, caKeys: options.caKeys, clock, newSerial: serials });
    this.#roles = new RoleService(store);
    this.#storedKeys = new StoredKeys({ store, keyProvider: options.keyProvider });
    this.#issuer = new CertificateIssuer({
      store,
      cas: this.#cas,
      roles: this.#roles,
      storedKeys: this.#storedKeys,
      clock,
      crlUrl: options.crlUrl,
      newSerial: serials,
    });
    this.#crl = new CrlService({
      store,
      cas: this.#cas,
      clock,
      crlLifetimeMs: (options.crlLifetimeSeconds ?? 259_200) * 1000,
    });
  }

  // ---- CAs -------------------------------------------------------------------------------------------------

  /** Generates the root CA: a new key in the CaKeyStore and a self-signed certificate. Create-only. */
  generateRoot(input: { common_name: string; key_type: CaKeyType; ttl: number }) {
    return this.#cas.generateRoot(input);
  }

  /**
   * Generates the intermediate's key and CSR. With `sign_with_root`, our root signs it at once and it becomes the
   * issuing CA; otherwise the CSR goes to an external CA and comes back through `setIntermediateCertificate`.
   */
  generateIntermediate(input: { common_name: string; key_type: CaKeyType; sign_with_root: boolean; ttl: number }) {
    return this.#cas.generateIntermediate(input);
  }

  /** The root signs a CA certificate for a CSR (ours or another intermediate's), path length 0. */
  signIntermediate(input: { csr: string; ttl: number; common_name?: string }) {
    return this.#cas.signIntermediate(input);
  }

  /**
   * Imports the intermediate's signed certificate. It must hold the intermediate's own public key, be a CA
   * certificate, and verify against the first certificate of `chain` (default: our root).
   */
  setIntermediateCertificate(input: { certificate: string; chain?: readonly string[] }) {
    return this.#cas.setIntermediateCertificate(input);
  }

  /** The issuing CA's certificate and chain (issuing CA first, root last). */
  caChain() {
    return this.#cas.caChain();
  }

  // ---- roles -----------------------------------------------------------------------------------------------

  putRole(name: string, input: PkiRoleInput): Promise<PkiRole> {
    return this.#roles.put(name, input);
  }

  getRole(name: string): Promise<PkiRole> {
    return this.#roles.get(name);
  }

  deleteRole(name: string): Promise<void> {
    return this.#roles.delete(name);
  }

  listRoles(): Promise<string[]> {
    return this.#roles.list();
  }

  // ---- issue and sign --------------------------------------------------------------------------------------

  /** Generates a key pair on the server and a certificate for it. The private key is returned here, once. */
  issue(roleName: string, request: IssueRequest): Promise<IssuedWithKey> {
    return this.#issuer.issue(roleName, request);
  }

  /** Signs a CSR after checking its proof of possession, its key against the role, and every name. */
  sign(roleName: string, request: SignRequest): Promise<IssuedCertificate> {
    return this.#issuer.sign(roleName, request);
  }

  /** A certificate's status and PEM (never its private key). */
  certificate(serial: string) {
    return this.#issuer.certificate(serial);
  }

  listCertificates() {
    return this.#issuer.listCertificates();
  }

  /** The private key a `store_private_key` role kept, unsealed. */
  storedPrivateKey(serial: string) {
    return this.#storedKeys.open(serial);
  }

  /** Re-wraps the data keys of stored private keys under the current root key (after a keyring rotation). */
  rewrapAll() {
    return this.#storedKeys.rewrapAll();
  }

  // ---- revocation, CRL, tidy -------------------------------------------------------------------------------

  /** Revokes a certificate by serial and publishes a new CRL. Revoking twice is a no-op. */
  revoke(serial: string) {
    return this.#crl.revoke(serial);
  }

  /** Whether one of the engine's CAs issued `certificate` (DER) and revoked it: the `CertificateRevocation` port. */
  revocationStatus(certificate: Uint8Array) {
    return this.#crl.revocationStatus(certificate);
  }

  /** The current CRL of the issuing CA (PEM), re-signed first when it is missing, stale or from another CA. */
  crl() {
    return this.#crl.crl();
  }

  /**
   * Removes certificates that expired more than `safetyBufferSeconds` ago from the index, and their entries from
   * the CRL (an expired certificate is rejected on its dates alone), then re-signs the CRL if it changed.
   */
  tidy(safetyBufferSeconds?: number) {
    return this.#crl.tidy(safetyBufferSeconds);
  }
}
