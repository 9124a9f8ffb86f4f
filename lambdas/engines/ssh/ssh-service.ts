/**
 * The SSH engine (Vault's `ssh` secrets engine): a certificate authority that signs users' OpenSSH public keys under
 * a role's rules, and one-time passwords for hosts whose helper verifies them. Every certificate and every password
 * is a lease: revoking a certificate's lease puts its key on the revoked-keys list sshd reads (`RevokedKeys`);
 * revoking a password's deletes it. sshpk is loaded at the first signing (`ssh-certificates.ts`), not at start.
 */
import {
  createHash,
  createPrivateKey,
  generateKeyPair,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
} from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import { promisify } from 'node:util';
import { globMatch } from '../../core/auth/methods/globs.ts';
import { open as openSealed, seal } from '../../core/crypto/envelope.ts';
import {
  AlreadyExistsError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../core/errors.ts';
import { lazyImport } from '../../core/lazy-import.ts';
import type { DynamicProvider, HandleOf, RoleLimits } from '../../core/leases/lease-types.ts';
import type { CaKeyStore, CaKeyType } from '../../core/ports/ca-key-store.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import { ConditionFailedError, queryAll, type Store } from '../../core/ports/store.ts';
import { EngineRoles } from '../shared/engine-roles.ts';
import {
  CA_SK,
  SSH_CA_PK,
  SSH_CERT_PK,
  SSH_OTP_PK,
  SSH_REVOKED_PK,
  SSH_ROLE_PK,
  type SshCaKeyType,
  type SshCaRecord,
  type SshCertRecord,
  type SshOtpRecord,
  type SshRevokedRecord,
} from './ssh-records.ts';
import {
  type OtpRequest,
  OtpRequestSchema,
  type SignRequest,
  SignRequestSchema,
  type SshCaRole,
  type SshOtpRole,
  type SshRole,
  type SshRoleInput,
  SshRoleSchema,
} from './ssh-role.ts';

const loadCertificates = lazyImport(() => import('./ssh-certificates.ts'));
const generate = promisify(generateKeyPair);

/** Certificates start this long before they are signed, so a host whose clock runs behind accepts them (as Vault). */
const BACKDATE_MS = 30_000;

export interface SshServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** Where ECDSA and RSA CA keys live (sealed locally, KMS on AWS). Absent where nothing signs (the lease sweeper). */
  readonly caKeys?: CaKeyStore | undefined;
  /** Seals the Ed25519 CA key, which no `CaKeyStore` offers. Absent where nothing signs. */
  readonly keyProvider?: KeyProvider | undefined;
  /** 8 random bytes per serial. @default crypto.randomBytes */
  readonly randomSerial?: () => Buffer;
}

export type SshCredential = Awaited<ReturnType<SshService['issue']>>['credential'];

/**
 * @example
 * ```ts
 * const ssh = new SshService({ store, clock, caKeys, keyProvider });
 * await ssh.createCa('ed25519');
 * await ssh.putRole('dev', { key_type: 'ca', allowed_users: ['dev-*'], default_user: 'dev-alice' });
 * // then, under a lease: leases.issue({ kind: 'ssh', role: 'dev', principalId, request: { public_key, key_id } })
 * ```
 */
export class SshService implements DynamicProvider<'ssh'> {
  readonly kind = 'ssh' as const;
  readonly #options: SshServiceOptions;
  readonly #roles: EngineRoles<SshRole, SshRoleInput>;
  /** The unsealed Ed25519 CA key, by the CA's creation time (a new CA is a new key). */
  #edKey: { createdAt: number; key: ReturnType<typeof createPrivateKey> } | undefined;

  constructor(options: SshServiceOptions) {
    this.#options = options;
    this.#roles = new EngineRoles({ store: options.store, pk: SSH_ROLE_PK, schema: SshRoleSchema, noun: 'SSH role' });
  }

  // ---- the CA ------------------------------------------------------------------------------------------------

  /**
   * Generates the CA key. Create-only: a CA in use is replaced by deleting it first, as every host trusting the old
   * key must be told of the new one.
   *
   * @throws AlreadyExistsError when a CA exists
   */
  async createCa(keyType: SshCaKeyType): Promise<SshCaRecord> {
    if ((await this.#options.store.get(SSH_CA_PK, CA_SK)) !== undefined) {
      throw new AlreadyExistsError('an SSH CA exists already; delete it first to replace it');
    }
    const { openSshLine } = await loadCertificates();
    const now = this.#options.clock.now();
    let record: SshCaRecord;
    if (keyType === 'ed25519') {
      const keyProvider = this.#need(this.#options.keyProvider);
      const pair = await generate('ed25519');
      const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
      const { plaintext, wrapped } = await keyProvider.generateDataKey(caKeyContext(now));
      try {
        const sealed = seal(plaintext, pkcs8, caKeyBinding(now));
        const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
        record = {
          keyType,
          keyStore: 'engine',
          publicKey: openSshLine(spki),
          sealed: { wrapped, blob: sealed.blob },
          createdAt: now,
        };
      } finally {
        plaintext.fill(0);
        pkcs8.fill(0);
      }
    } else {
      const caKeys = this.#need(this.#options.caKeys);
      const signer = await caKeys.create(keyType, 'ssh-ca');
      record = {
        keyType,
        keyStore: caKeys.kind,
        keyRef: signer.keyRef,
        publicKey: openSshLine(signer.spki),
        createdAt: now,
      };
    }
    try {
      await this.#options.store.transact([
        { type: 'put', pk: SSH_CA_PK, sk: CA_SK, data: record, condition: { kind: 'absent' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new AlreadyExistsError('an SSH CA exists already');
      throw err;
    }
    return record;
  }

  /** @throws NotFoundError when no CA was created */
  async ca(): Promise<SshCaRecord> {
    const item = await this.#options.store.get<SshCaRecord>(SSH_CA_PK, CA_SK);
    if (item === undefined) throw new NotFoundError('no SSH CA: create one with `coffer ssh ca create`');
    return item.data;
  }

  /** Deletes the CA: nothing signs until a new one is created. Certificates it signed stay valid where it is trusted. */
  async deleteCa(): Promise<void> {
    try {
      await this.#options.store.transact([{ type: 'delete', pk: SSH_CA_PK, sk: CA_SK, condition: { kind: 'exists' } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError('no SSH CA');
      throw err;
    }
    this.#edKey = undefined;
  }

  /** Re-wraps the Ed25519 CA key's data key under the current root key (after a keyring rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    const keyProvider = this.#options.keyProvider;
    const item = await this.#options.store.get<SshCaRecord>(SSH_CA_PK, CA_SK);
    const sealed = item?.data.sealed;
    if (keyProvider === undefined || item === undefined || sealed === undefined) return { rewrapped: 0 };
    if (keyProvider.isCurrent(sealed.wrapped)) return { rewrapped: 0 };
    const wrapped = await keyProvider.rewrapDataKey(sealed.wrapped, caKeyContext(item.data.createdAt));
    await this.#options.store.transact([
      {
        type: 'put',
        pk: SSH_CA_PK,
        sk: CA_SK,
        data: { ...item.data, sealed: { ...sealed, wrapped } },
        condition: { kind: 'rev', rev: item.rev },
      },
    ]);
    return { rewrapped: 1 };
  }

  // ---- roles -------------------------------------------------------------------------------------------------

  putRole(name: string, input: SshRoleInput): Promise<SshRole> {
    return this.#roles.put(name, input);
  }

  getRole(name: string): Promise<SshRole> {
    return this.#roles.get(name);
  }

  /** Deletes a role. Its live leases stay listed and revocable; nothing new is issued for it. */
  deleteRole(name: string): Promise<void> {
    return this.#roles.delete(name);
  }

  listRoles(): Promise<string[]> {
    return this.#roles.list();
  }

  // ---- the lease provider ------------------------------------------------------------------------------------

  async roleLimits(role: string): Promise<RoleLimits> {
    const r = await this.getRole(role);
    return { defaultTtlSeconds: r.ttl, maxTtlSeconds: r.max_ttl, maxLeases: r.max_leases };
  }

  /**
   * Signs a certificate (a `ca` role, `request` a {@link SignRequest}) or creates a one-time password (an `otp` role,
   * `request` an {@link OtpRequest}), valid until `expiresAt`, the lease's expiry.
   */
  async issue(role: string, _ttlSeconds: number, expiresAt: number, request?: unknown) {
    const r = await this.getRole(role);
    if (r.key_type === 'ca') {
      const parsed = SignRequestSchema.safeParse(request);
      if (!parsed.success) throw new ValidationError(`invalid signing request: ${parsed.error.issues[0]!.message}`);
      return this.#sign(role, r, parsed.data, expiresAt);
    }
    const parsed = OtpRequestSchema.safeParse(request);
    if (!parsed.success) throw new ValidationError(`invalid OTP request: ${parsed.error.issues[0]!.message}`);
    return this.#createOtp(role, r, parsed.data, expiresAt);
  }

  /**
   * Puts a certificate's key on the revoked-keys list (until the certificate would have expired anyway), or deletes
   * a one-time password. Idempotent.
   */
  async revoke(handle: HandleOf<'ssh'>): Promise<void> {
    const { store, clock } = this.#options;
    if (handle.type === 'otp') {
      await store.transact([{ type: 'delete', pk: SSH_OTP_PK, sk: handle.otpHash }]);
      return;
    }
    // An expired certificate is refused on its dates; listing its key would only lengthen the list.
    if (handle.validUntil <= clock.now()) return;
    const record: SshRevokedRecord = {
      serial: handle.serial,
      publicKey: handle.publicKey,
      validUntil: handle.validUntil,
      revokedAt: clock.now(),
    };
    await store.transact([{ type: 'put', pk: SSH_REVOKED_PK, sk: handle.serial, data: record }]);
  }

  /**
   * A password's expiry moves with its lease. A certificate's validity is signed into it, so its lease cannot be
   * extended: sign a new one.
   */
  async renew(handle: HandleOf<'ssh'>, expiresAt: number): Promise<void> {
    if (handle.type === 'certificate') {
      throw new InvalidRequestError(
        "an SSH certificate's validity is signed into it and cannot be renewed; sign a new one",
      );
    }
    const { store } = this.#options;
    const item = await store.get<SshOtpRecord>(SSH_OTP_PK, handle.otpHash);
    if (item === undefined) throw new InvalidRequestError('the one-time password was used or revoked');
    await store.transact([
      {
        type: 'put',
        pk: SSH_OTP_PK,
        sk: handle.otpHash,
        data: { ...item.data, expiresAt },
        condition: { kind: 'rev', rev: item.rev },
      },
    ]);
  }

  // ---- revocation and verification ---------------------------------------------------------------------------

  /**
   * The public keys of certificates revoked before their expiry, one OpenSSH line each: the plain-key form of sshd's
   * `RevokedKeys` file (sshd refuses a certificate whose key is listed).
   */
  async revokedKeys(): Promise<string> {
    const now = this.#options.clock.now();
    const keys = new Set<string>();
    for (const item of await queryAll<SshRevokedRecord>(this.#options.store, SSH_REVOKED_PK)) {
      if (item.data.validUntil > now) keys.add(item.data.publicKey);
    }
    return [...keys].map((line) => `${line}\n`).join('');
  }

  /**
   * Consumes a one-time password: the verification side of Vault's `vault-ssh-helper`. Each password verifies once,
   * before its expiry.
   *
   * @throws InvalidRequestError for an unknown, used, revoked or expired password (one message: nothing to probe with)
   */
  async verifyOtp(otp: string): Promise<{ username: string; ip: string; role: string }> {
    const { store, clock } = this.#options;
    const hash = otpHash(otp);
    const item = await store.get<SshOtpRecord>(SSH_OTP_PK, hash);
    const refused = new InvalidRequestError('invalid or expired one-time password');
    if (item === undefined) throw refused;
    if (!timingSafeEqual(Buffer.from(item.data.hash, 'hex'), Buffer.from(hash, 'hex'))) throw refused;
    try {
      // Deleted at the revision read: of two concurrent verifications, one wins.
      await store.transact([{ type: 'delete', pk: SSH_OTP_PK, sk: hash, condition: { kind: 'rev', rev: item.rev } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw refused;
      throw err;
    }
    if (item.data.expiresAt <= clock.now()) throw refused;
    return { username: item.data.username, ip: item.data.ip, role: item.data.role };
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  async #sign(role: string, r: SshCaRole, request: SignRequest, expiresAt: number) {
    const { parseUserKey, signCertificate } = await loadCertificates();
    const key = parseUserKey(request.public_key);
    const minimum = r.allowed_user_key_lengths[key.type];
    if (minimum === undefined) throw new PermissionDeniedError(`role ${role} does not accept ${key.type} keys`);
    if (key.bits < minimum) {
      throw new PermissionDeniedError(
        `role ${role} needs ${key.type} keys of at least ${minimum} bits, not ${key.bits}`,
      );
    }
    const principals = principalsFor(role, r, request.valid_principals);
    const extensions = optionsFor('extension', r.allowed_extensions, r.default_extensions, request.extensions);
    const criticalOptions = optionsFor(
      'critical option',
      r.allowed_critical_options,
      r.default_critical_options,
      request.critical_options,
    );
    const ca = await this.ca();
    const now = this.#options.clock.now();
    const serial = await this.#reserveSerial({
      role,
      keyId: request.key_id,
      principals,
      validUntil: expiresAt,
      issuedAt: now,
    });
    const signedKey = await signCertificate(
      {
        subjectKey: key.line,
        caPublicKey: ca.publicKey,
        principals,
        keyId: request.key_id,
        serial: Buffer.from(serial.hex, 'hex'),
        validFrom: now - BACKDATE_MS,
        validUntil: expiresAt,
        criticalOptions,
        extensions,
      },
      (blob) => this.#signWithCa(ca, blob),
    );
    return {
      credential: { type: 'certificate' as const, signedKey, serialNumber: serial.decimal },
      revokeHandle: {
        type: 'certificate' as const,
        role,
        serial: serial.decimal,
        publicKey: key.line,
        validUntil: expiresAt,
      },
    };
  }

  /** A fresh 64-bit serial, recorded create-only so no two certificates share one. */
  async #reserveSerial(record: Omit<SshCertRecord, 'serial'>): Promise<{ hex: string; decimal: string }> {
    const random = this.#options.randomSerial ?? (() => randomBytes(8));
    for (let attempt = 0; attempt < 8; attempt++) {
      const bytes = random();
      if (bytes.length !== 8) throw new RangeError('an SSH serial needs 8 bytes');
      const decimal = bytes.readBigUInt64BE(0).toString();
      if (decimal === '0') continue;
      try {
        await this.#options.store.transact([
          {
            type: 'put',
            pk: SSH_CERT_PK,
            sk: decimal,
            data: { ...record, serial: decimal },
            condition: { kind: 'absent' },
          },
        ]);
        return { hex: bytes.toString('hex'), decimal };
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    throw new InvalidRequestError('could not draw an unused certificate serial; try again');
  }

  async #signWithCa(ca: SshCaRecord, blob: Buffer): Promise<Uint8Array> {
    if (ca.keyType !== 'ed25519') {
      const signer = await this.#need(this.#options.caKeys).open(ca.keyRef!, ca.keyType as CaKeyType);
      return signer.sign(blob);
    }
    if (this.#edKey?.createdAt !== ca.createdAt) {
      const keyProvider = this.#need(this.#options.keyProvider);
      const dataKey = await keyProvider.unwrapDataKey(ca.sealed!.wrapped, caKeyContext(ca.createdAt));
      const pkcs8 = openSealed(dataKey, { blob: ca.sealed!.blob }, caKeyBinding(ca.createdAt));
      try {
        this.#edKey = { createdAt: ca.createdAt, key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }) };
      } finally {
        pkcs8.fill(0);
      }
    }
    return sign(null, blob, this.#edKey.key);
  }

  async #createOtp(role: string, r: SshOtpRole, request: OtpRequest, expiresAt: number) {
    const username = request.username ?? r.default_user;
    if (username !== r.default_user && !r.allowed_users.some((glob) => globMatch(glob, username))) {
      throw new PermissionDeniedError(`role ${role} does not issue passwords for user ${username}`);
    }
    if (!inCidrs(r.cidr_list, request.ip)) {
      throw new PermissionDeniedError(`role ${role} does not issue passwords for host ${request.ip}`);
    }
    const otp = randomUUID();
    const hash = otpHash(otp);
    const record: SshOtpRecord = { hash, role, username, ip: request.ip, expiresAt };
    await this.#options.store.transact([
      { type: 'put', pk: SSH_OTP_PK, sk: hash, data: record, condition: { kind: 'absent' } },
    ]);
    return {
      credential: { type: 'otp' as const, key: otp, username, ip: request.ip },
      revokeHandle: { type: 'otp' as const, role, otpHash: hash },
    };
  }

  #need<T>(port: T | undefined): T {
    if (port === undefined) throw new InvalidRequestError('this process does not sign SSH certificates');
    return port;
  }
}

/** The principals a certificate gets: those asked for, each allowed by the role, else the role's default user. */
function principalsFor(role: string, r: SshCaRole, asked: readonly string[] | undefined): string[] {
  if (asked === undefined) {
    if (r.default_user === undefined) {
      throw new ValidationError(`role ${role} has no default_user: name the principals (valid_principals)`);
    }
    return [r.default_user];
  }
  const refused = asked.filter(
    (principal) => principal !== r.default_user && !r.allowed_users.some((glob) => globMatch(glob, principal)),
  );
  if (refused.length > 0) {
    throw new PermissionDeniedError(`role ${role} does not allow the principal(s) ${refused.join(', ')}`);
  }
  return [...new Set(asked)];
}

/**
 * The options a certificate carries: those asked for (each allowed by name, or `*`), with the role's defaults for
 * the ones not asked for. Extensions the caller names replace the defaults, as in Vault.
 */
function optionsFor(
  what: 'extension' | 'critical option',
  allowed: readonly string[],
  defaults: Readonly<Record<string, string>>,
  asked: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  if (asked === undefined) return { ...defaults };
  const refused = Object.keys(asked).filter((name) => !allowed.includes('*') && !allowed.includes(name));
  if (refused.length > 0)
    throw new PermissionDeniedError(`the role does not allow the ${what}(s) ${refused.join(', ')}`);
  return what === 'extension' ? { ...asked } : { ...defaults, ...asked };
}

function inCidrs(cidrs: readonly string[], ip: string): boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

function otpHash(otp: string): string {
  return createHash('sha256').update(otp, 'utf8').digest('hex');
}

function caKeyContext(createdAt: number) {
  return { engine: 'ssh', caKey: String(createdAt) };
}

function caKeyBinding(createdAt: number) {
  return { secretId: `ssh/ca-key/${createdAt}`, versionId: 'private-key' };
}
