import { createCipheriv, createDecipheriv, randomBytes, randomUUID, scrypt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { canonicalContext } from '../../../core/crypto/encryption-context.ts';
import {
  AlreadyExistsError,
  DecryptionFailureError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  SealedError,
  ValidationError,
} from '../../../core/errors.ts';
import type { EncryptionContext, GeneratedDataKey, KeyProvider } from '../../../core/ports/key-provider.ts';

const FORMAT = 'coffer-keyring/v1';
/** Version tag of the wrapped data-key string `ck1.<keyId>.<base64url(iv||ct||tag)>`. */
const WRAPPED_PREFIX = 'ck1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
const WRAPPED_BODY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
/** Key ids appear in wrapped strings, which are split on '.', so the id alphabet excludes it. */
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Version tag of a data key wrapped under a named key: `cn1.<namedKeyId>.<base64url(iv||ct||tag)>`. */
const NAMED_WRAPPED_PREFIX = 'cn1';
/** Named keys have UUIDs for ids, as KMS keys do, so their ARNs look like KMS key ARNs. */
const NAMED_KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** An alias name without `alias/` (validated by the core's `AliasNameSchema` before it gets here). */
const ALIAS = /^[A-Za-z0-9/_-]{1,250}$/;

/**
 * scrypt at N=2^15, r=8, p=1 costs about 32 MiB and tens of milliseconds: paid once per process start, and enough to
 * make guessing a passphrase from a stolen keyring file expensive.
 */
const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;

const SEALED_MISSING = 'keyring is sealed: set COFFER_PASSPHRASE to the passphrase it was initialised with';
const SEALED_WRONG = 'keyring is sealed: the passphrase does not unseal it (check COFFER_PASSPHRASE)';

const KdfSchema = z.object({
  name: z.literal('scrypt'),
  salt: z.string().min(1),
  // Bounded, so that a doctored file cannot make opening it exhaust memory or time.
  N: z
    .number()
    .int()
    .min(2 ** 14)
    .max(2 ** 20)
    .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  keyLen: z.literal(KEY_BYTES),
});

const KeyringFileSchema = z
  .object({
    format: z.literal(FORMAT),
    sealed: z.boolean(),
    kdf: KdfSchema.optional(),
    keys: z
      .array(z.object({ id: z.string().regex(KEY_ID), createdAt: z.string(), material: z.string().min(1) }))
      .min(1),
    primary: z.string(),
    /**
     * Named keys (`coffer keyring key create`), each sealed under the root key `rootKeyId`. Absent in keyrings from
     * before named keys, which open as they did.
     */
    namedKeys: z
      .array(
        z.object({
          id: z.string().regex(NAMED_KEY_ID),
          alias: z.string().regex(ALIAS),
          createdAt: z.string(),
          rootKeyId: z.string().regex(KEY_ID),
          material: z.string().min(1),
        }),
      )
      .optional(),
  })
  .refine((file) => file.sealed === (file.kdf !== undefined), 'kdf must be present exactly when sealed')
  .refine((file) => file.keys.some((key) => key.id === file.primary), 'primary must name one of the keys')
  .refine((file) => new Set(file.keys.map((key) => key.id)).size === file.keys.length, 'key ids must be unique')
  .refine((file) => {
    const named = file.namedKeys ?? [];
    return (
      new Set(named.map((k) => k.id)).size === named.length && new Set(named.map((k) => k.alias)).size === named.length
    );
  }, 'named key ids and aliases must be unique');

type KeyringFile = z.infer<typeof KeyringFileSchema>;
type KdfParams = z.infer<typeof KdfSchema>;

export interface FileKeyringOptions {
  /** The keyring file, e.g. `<dataDir>/keyring.json`. */
  readonly path: string;
  /**
   * Seals the root keys under a key derived from it with scrypt. Unset: the file holds the root keys in the clear and
   * is protected by its permissions only.
   * @default undefined
   */
  readonly passphrase?: string;
}

interface RootKey {
  readonly id: string;
  readonly createdAt: string;
  readonly key: Buffer;
}

/** A named key: 32 bytes that wrap the data keys of the secrets naming it (`KmsKeyId`). */
export interface NamedKey {
  readonly id: string;
  readonly alias: string;
  readonly createdAt: string;
  readonly key: Buffer;
}

/** Present when the keyring is sealed. The derived key is held, never the passphrase. */
interface Seal {
  readonly kdf: KdfParams;
  readonly kek: Buffer;
}

/**
 * The local root-key keyring: a JSON file holding one or more AES-256 root keys, one of them primary. Data keys are
 * wrapped under the primary key with AES-256-GCM; the encryption context and the root key id are the associated data,
 * so a wrapped key only unwraps for the secret and version it was made for.
 *
 * Rotation adds a new primary key and keeps the old ones, so existing wrapped keys still unwrap until they are
 * re-wrapped and the old key is retired. Every change is written to a temporary file and renamed over the keyring, so
 * a crash leaves either the old or the new keyring, never a torn one.
 *
 * @example
 * ```ts
 * await FileKeyring.init({ path: '/var/lib/coffer/keyring.json', passphrase: process.env.COFFER_PASSPHRASE });
 * const keyring = await FileKeyring.open({ path: '/var/lib/coffer/keyring.json', passphrase });
 * const { plaintext, wrapped } = await keyring.generateDataKey({ secretId, versionId });
 * ```
 */
export class FileKeyring implements KeyProvider {
  readonly path: string;
  #keys: ReadonlyMap<string, RootKey>;
  #primary: string;
  /** By id. Sealed under the primary root key whenever the file is written, so rotation re-seals them. */
  #named: ReadonlyMap<string, NamedKey>;
  readonly #seal: Seal | undefined;
  /** Serialises rotate and retire, so two changes never race on the file. */
  #changes: Promise<unknown> = Promise.resolve();

  private constructor(
    file: string,
    keys: readonly RootKey[],
    primary: string,
    seal: Seal | undefined,
    named: readonly NamedKey[] = [],
  ) {
    this.path = file;
    this.#keys = new Map(keys.map((key) => [key.id, key]));
    this.#primary = primary;
    this.#seal = seal;
    this.#named = new Map(named.map((key) => [key.id, key]));
  }

  /** True if a keyring file exists at `file` (which is what marks a local node as initialised). */
  static exists(file: string): boolean {
    return existsSync(file);
  }

  /**
   * Creates a keyring with one fresh root key. The file is created mode 0600 (its directory 0700 if created here) and
   * never overwrites an existing one.
   *
   * @throws AlreadyExistsError when a file already exists at the path
   * @throws ValidationError when the passphrase is empty
   */
  static async init(options: FileKeyringOptions): Promise<FileKeyring> {
    if (options.passphrase !== undefined && options.passphrase.length === 0) {
      throw new ValidationError('the keyring passphrase must not be empty');
    }
    let seal: Seal | undefined;
    if (options.passphrase !== undefined) {
      const kdf: KdfParams = {
        name: 'scrypt',
        salt: randomBytes(SALT_BYTES).toString('base64'),
        ...SCRYPT_DEFAULTS,
        keyLen: KEY_BYTES,
      };
      seal = { kdf, kek: await deriveKek(options.passphrase, kdf) };
    }
    const root: RootKey = { id: newKeyId(new Set()), createdAt: new Date().toISOString(), key: randomBytes(KEY_BYTES) };
    const keyring = new FileKeyring(options.path, [root], root.id, seal);

    const dir = path.dirname(options.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(options.path, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') {
        throw new AlreadyExistsError(`a keyring already exists at ${options.path}: refusing to overwrite it`, {
          cause: err,
        });
      }
      throw err;
    });
    try {
      // The umask may have narrowed the mode, never widened it; chmod makes 0600 exact whatever the umask.
      await handle.chmod(0o600);
      await handle.writeFile(keyring.#serialise([root], root.id));
      await handle.sync();
      await handle.close();
    } catch (err) {
      // A half-written keyring would mark the node as initialised yet never open: remove it.
      await handle.close().catch(() => undefined);
      await rm(options.path, { force: true });
      throw err;
    }
    await chmod(options.path, 0o600);
    await syncDirectory(dir);
    return keyring;
  }

  /**
   * Opens an existing keyring, unsealing it with the passphrase if it is sealed.
   *
   * @throws NotFoundError when there is no keyring at the path
   * @throws SealedError when the keyring is sealed and the passphrase is missing or wrong
   * @throws ValidationError when a passphrase is given for a keyring that is not sealed
   * @throws InternalError when the file is not a keyring
   */
  static async open(options: FileKeyringOptions): Promise<FileKeyring> {
    const file = await readKeyringFile(options.path);
    if (!file.sealed) {
      if (options.passphrase !== undefined) {
        throw new ValidationError(
          `the keyring at ${options.path} is not sealed, but a passphrase was given: unset COFFER_PASSPHRASE`,
        );
      }
      const keys = file.keys.map((entry) => {
        const key = Buffer.from(entry.material, 'base64');
        if (key.length !== KEY_BYTES)
          throw new InternalError(`keyring ${options.path}: root key ${entry.id} is malformed`);
        return { id: entry.id, createdAt: entry.createdAt, key };
      });
      return new FileKeyring(options.path, keys, file.primary, undefined, openNamedKeys(options.path, file, keys));
    }

    if (options.passphrase === undefined) throw new SealedError(SEALED_MISSING);
    const kdf = file.kdf!;
    const seal: Seal = { kdf, kek: await deriveKek(options.passphrase, kdf) };
    const keys = file.keys.map((entry) => {
      try {
        const key = gcmDecrypt(seal.kek, Buffer.from(entry.material, 'base64'), rootKeyAad(entry.id));
        if (key.length !== KEY_BYTES) throw new RangeError('unsealed root key has the wrong length');
        return { id: entry.id, createdAt: entry.createdAt, key };
      } catch (cause) {
        // Wrong passphrase and a doctored file look the same from here, and saying which would help a guesser.
        throw new SealedError(SEALED_WRONG, { cause });
      }
    });
    return new FileKeyring(options.path, keys, file.primary, seal, openNamedKeys(options.path, file, keys));
  }

  describe(): { provider: string; keyId: string } {
    return { provider: 'local-file', keyId: this.#primary };
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const plaintext = randomBytes(KEY_BYTES);
    return { plaintext, wrapped: this.#wrap(plaintext, context) };
  }

  async unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    const parsed = parseWrapped(wrapped);
    if (parsed === undefined) throw new DecryptionFailureError('wrapped data key is malformed');
    const root = this.#keys.get(parsed.keyId);
    if (root === undefined) {
      throw new DecryptionFailureError(`wrapped data key names root key ${parsed.keyId}, which this keyring lacks`);
    }
    if (parsed.body.length !== WRAPPED_BODY_BYTES) throw new DecryptionFailureError('wrapped data key is malformed');
    try {
      return gcmDecrypt(root.key, parsed.body, dataKeyAad(root.id, context));
    } catch (cause) {
      throw new DecryptionFailureError(
        'wrapped data key failed authentication (wrong encryption context or tampered)',
        {
          cause,
        },
      );
    }
  }

  async rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string> {
    const plaintext = await this.unwrapDataKey(wrapped, context);
    try {
      return this.#wrap(plaintext, context);
    } finally {
      plaintext.fill(0);
    }
  }

  isCurrent(wrapped: string): boolean {
    return parseWrapped(wrapped)?.keyId === this.#primary;
  }

  /**
   * Adds a fresh root key and makes it primary. Older keys stay, so data keys wrapped under them still unwrap until
   * re-wrapped; the keyring stays sealed (under the same passphrase) or unsealed as it was.
   *
   * @returns the new primary key id
   */
  rotate(): Promise<string> {
    return this.#exclusive(async () => {
      const root: RootKey = {
        id: newKeyId(new Set(this.#keys.keys())),
        createdAt: new Date().toISOString(),
        key: randomBytes(KEY_BYTES),
      };
      const keys = [...this.#keys.values(), root];
      await this.#persist(keys, root.id);
      this.#keys = new Map(keys.map((key) => [key.id, key]));
      this.#primary = root.id;
      return root.id;
    });
  }

  /**
   * Removes a non-primary root key. The caller guarantees that no stored data key is still wrapped under it (re-wrap
   * first): those would no longer unwrap.
   *
   * @throws InvalidRequestError when `keyId` is the primary key
   * @throws NotFoundError when the keyring has no such key
   */
  retire(keyId: string): Promise<void> {
    return this.#exclusive(async () => {
      if (keyId === this.#primary) throw new InvalidRequestError(`root key ${keyId} is primary and cannot be retired`);
      const retired = this.#keys.get(keyId);
      if (retired === undefined) throw new NotFoundError(`the keyring has no root key ${keyId}`);
      const keys = [...this.#keys.values()].filter((key) => key.id !== keyId);
      await this.#persist(keys, this.#primary);
      this.#keys = new Map(keys.map((key) => [key.id, key]));
      retired.key.fill(0);
    });
  }

  /**
   * Creates a named key under `alias` (a valid alias name, without `alias/`), sealed under the primary root key and
   * written atomically like every change.
   *
   * @throws AlreadyExistsError when a named key has this alias
   */
  createNamedKey(alias: string): Promise<Omit<NamedKey, 'key'>> {
    return this.#exclusive(async () => {
      if (!ALIAS.test(alias)) throw new ValidationError(`invalid alias name ${JSON.stringify(alias)}`);
      if ([...this.#named.values()].some((key) => key.alias === alias)) {
        throw new AlreadyExistsError(`a key with alias alias/${alias} already exists`);
      }
      const key: NamedKey = {
        id: randomUUID(),
        alias,
        createdAt: new Date().toISOString(),
        key: randomBytes(KEY_BYTES),
      };
      const named = [...this.#named.values(), key];
      await this.#persist([...this.#keys.values()], this.#primary, named);
      this.#named = new Map(named.map((k) => [k.id, k]));
      return { id: key.id, alias: key.alias, createdAt: key.createdAt };
    });
  }

  /** The named keys, oldest first; never their material. */
  namedKeys(): Omit<NamedKey, 'key'>[] {
    return [...this.#named.values()].map(({ id, alias, createdAt }) => ({ id, alias, createdAt }));
  }

  /**
   * The provider wrapping data keys under the named key `id`. Its wrapped form names the key, and unwrapping refuses
   * a data key wrapped under any other: a version cannot be moved from one key to another.
   *
   * @throws NotFoundError when there is no such named key
   */
  namedKeyProvider(id: string): KeyProvider {
    const named = this.#named.get(id);
    if (named === undefined) throw new NotFoundError(`the keyring has no named key ${id}`);
    return new NamedKeyProvider(named);
  }

  #wrap(plaintext: Buffer, context: EncryptionContext): string {
    const root = this.#keys.get(this.#primary)!;
    const body = gcmEncrypt(root.key, plaintext, dataKeyAad(root.id, context));
    return `${WRAPPED_PREFIX}.${root.id}.${body.toString('base64url')}`;
  }

  #serialise(keys: readonly RootKey[], primary: string, named: readonly NamedKey[] = []): string {
    const seal = this.#seal;
    const root = keys.find((key) => key.id === primary)!;
    const file: KeyringFile = {
      format: FORMAT,
      sealed: seal !== undefined,
      ...(seal === undefined ? {} : { kdf: seal.kdf }),
      keys: keys.map((root) => ({
        id: root.id,
        createdAt: root.createdAt,
        material: (seal === undefined ? root.key : gcmEncrypt(seal.kek, root.key, rootKeyAad(root.id))).toString(
          'base64',
        ),
      })),
      primary,
      ...(named.length === 0
        ? {}
        : {
            namedKeys: named.map((key) => ({
              id: key.id,
              alias: key.alias,
              createdAt: key.createdAt,
              rootKeyId: root.id,
              material: gcmEncrypt(root.key, key.key, namedKeyAad(key.id, key.alias)).toString('base64'),
            })),
          }),
    };
    return `${JSON.stringify(file, null, 2)}\n`;
  }

  /** Replaces the file atomically: a temporary file in the same directory, fsynced, renamed over it, dir fsynced. */
  async #persist(
    keys: readonly RootKey[],
    primary: string,
    named: readonly NamedKey[] = [...this.#named.values()],
  ): Promise<void> {
    const dir = path.dirname(this.path);
    const temp = path.join(dir, `.${path.basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.chmod(0o600);
        await handle.writeFile(this.#serialise(keys, primary, named));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await syncDirectory(dir);
  }

  #exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#changes.then(change, change);
    this.#changes = run.catch(() => undefined);
    return run;
  }
}

async function readKeyringFile(file: string): Promise<KeyringFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`no keyring at ${file}: initialise the node first`, { cause: err });
    }
    throw new InternalError(`cannot read the keyring at ${file}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InternalError(`the keyring at ${file} is not valid JSON`, { cause: err });
  }
  const parsed = KeyringFileSchema.safeParse(json);
  if (!parsed.success) {
    // Issue paths and messages only: never echo the file's values, which include key material.
    const issue = parsed.error.issues[0]!;
    throw new InternalError(
      `the keyring at ${file} is malformed: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return parsed.data;
}

/**
 * Unseals the named keys of a keyring file with its (already opened) root keys.
 *
 * @throws InternalError when a named key names a root key the keyring lacks, or fails authentication
 */
function openNamedKeys(file: string, data: KeyringFile, roots: readonly RootKey[]): NamedKey[] {
  const byId = new Map(roots.map((root) => [root.id, root]));
  return (data.namedKeys ?? []).map((entry) => {
    const root = byId.get(entry.rootKeyId);
    if (root === undefined) {
      throw new InternalError(`keyring ${file}: named key ${entry.id} is sealed under a root key the keyring lacks`);
    }
    try {
      const key = gcmDecrypt(root.key, Buffer.from(entry.material, 'base64'), namedKeyAad(entry.id, entry.alias));
      if (key.length !== KEY_BYTES) throw new RangeError('named key has the wrong length');
      return { id: entry.id, alias: entry.alias, createdAt: entry.createdAt, key };
    } catch (cause) {
      throw new InternalError(`keyring ${file}: named key ${entry.id} is malformed or tampered with`, { cause });
    }
  });
}

/**
 * Data keys wrapped under one named key. Named keys are not rotated, so every data key wrapped under this one is
 * current; root-key rotation re-seals the named key itself, not the data keys under it.
 */
class NamedKeyProvider implements KeyProvider {
  readonly #named: NamedKey;

  constructor(named: NamedKey) {
    this.#named = named;
  }

  describe(): { provider: string; keyId: string } {
    return { provider: 'local-named-key', keyId: this.#named.id };
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const plaintext = randomBytes(KEY_BYTES);
    const body = gcmEncrypt(this.#named.key, plaintext, namedDataKeyAad(this.#named.id, context));
    return { plaintext, wrapped: `${NAMED_WRAPPED_PREFIX}.${this.#named.id}.${body.toString('base64url')}` };
  }

  async unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    const parts = wrapped.split('.');
    if (parts.length !== 3 || parts[0] !== NAMED_WRAPPED_PREFIX || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) {
      throw new DecryptionFailureError('wrapped data key is malformed');
    }
    if (parts[1] !== this.#named.id) {
      throw new DecryptionFailureError(`wrapped data key names key ${parts[1]}, not ${this.#named.id}`);
    }
    const body = Buffer.from(parts[2]!, 'base64url');
    if (body.length !== WRAPPED_BODY_BYTES) throw new DecryptionFailureError('wrapped data key is malformed');
    try {
      return gcmDecrypt(this.#named.key, body, namedDataKeyAad(this.#named.id, context));
    } catch (cause) {
      throw new DecryptionFailureError(
        'wrapped data key failed authentication (wrong encryption context or tampered)',
        {
          cause,
        },
      );
    }
  }

  async rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string> {
    // Already under its one key: checking it is all a re-wrap can do.
    (await this.unwrapDataKey(wrapped, context)).fill(0);
    return wrapped;
  }

  isCurrent(wrapped: string): boolean {
    return wrapped.startsWith(`${NAMED_WRAPPED_PREFIX}.${this.#named.id}.`);
  }
}

function deriveKek(passphrase: string, kdf: KdfParams): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  // Node refuses scrypt above `maxmem` (32 MiB by default), which N=2^15, r=8 needs almost exactly.
  const maxmem = 256 * kdf.N * kdf.r;
  return new Promise((resolve, reject) => {
    // NFC, so that the same passphrase typed on systems that compose accents differently derives the same key.
    scrypt(passphrase.normalize('NFC'), salt, kdf.keyLen, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem }, (err, key) =>
      err === null ? resolve(key) : reject(new InternalError('cannot derive the keyring key', { cause: err })),
    );
  });
}

/** iv || ciphertext || tag. */
function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Throws if `sealed` fails authentication. */
function gcmDecrypt(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new RangeError('sealed data is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}

/** Binds a wrapped data key to its root key and encryption context; a JSON array cannot be re-split ambiguously. */
function dataKeyAad(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify([WRAPPED_PREFIX, keyId, canonicalContext(context)]), 'utf8');
}

/** Binds a data key wrapped under a named key to that key and the encryption context. */
function namedDataKeyAad(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify([NAMED_WRAPPED_PREFIX, keyId, canonicalContext(context)]), 'utf8');
}

/** Binds sealed named-key material to its id and alias, so two named keys cannot be swapped in the file. */
function namedKeyAad(keyId: string, alias: string): Buffer {
  return Buffer.from(JSON.stringify([FORMAT, 'named-key', keyId, alias]), 'utf8');
}

/** Binds sealed root-key material to its id, so two sealed keys cannot be swapped in the file. */
function rootKeyAad(keyId: string): Buffer {
  return Buffer.from(JSON.stringify([FORMAT, keyId]), 'utf8');
}

function parseWrapped(wrapped: string): { keyId: string; body: Buffer } | undefined {
  const parts = wrapped.split('.');
  if (parts.length !== 3 || parts[0] !== WRAPPED_PREFIX) return undefined;
  const [, keyId, body] = parts as [string, string, string];
  if (!KEY_ID.test(keyId) || !/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  return { keyId, body: Buffer.from(body, 'base64url') };
}

function newKeyId(taken: ReadonlySet<string>): string {
  for (;;) {
    const id = `rk-${randomBytes(4).toString('hex')}`;
    if (!taken.has(id)) return id;
  }
}

/** Makes a rename or a create in `dir` durable: without it a crash may forget the new directory entry. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
