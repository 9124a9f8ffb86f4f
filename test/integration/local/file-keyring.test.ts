import { createDecipheriv, scryptSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../../../lambdas/adapters/local/keyring/file-keyring.ts';
import { canonicalContext } from '../../../lambdas/core/crypto/encryption-context.ts';
import {
  AlreadyExistsError,
  DecryptionFailureError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  SealedError,
  ValidationError,
} from '../../../lambdas/core/errors.ts';
import type { EncryptionContext } from '../../../lambdas/core/ports/key-provider.ts';
import { describeKeyProviderContract } from '../../contract/key-provider.contract.ts';

const PASSPHRASE = 'correct horse battery staple';
const context: EncryptionContext = { secretId: 'secret-a', versionId: 'v1' };

interface KeyringJson {
  format: string;
  sealed: boolean;
  kdf?: { name: string; salt: string; N: number; r: number; p: number; keyLen: number };
  keys: { id: string; createdAt: string; material: string }[];
  primary: string;
}

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
}

function readJson(file: string): KeyringJson {
  return JSON.parse(readFileSync(file, 'utf8')) as KeyringJson;
}

/** Decrypts AES-256-GCM iv||ct||tag independently of the adapter, to check the documented file format. */
function gcmOpen(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

for (const sealed of [false, true]) {
  describeKeyProviderContract(sealed ? 'FileKeyring, sealed' : 'FileKeyring', async () => {
    const dir = tempDir();
    const provider = await FileKeyring.init({
      path: path.join(dir, 'keyring.json'),
      ...(sealed ? { passphrase: PASSPHRASE } : {}),
    });
    return { provider, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  });
}

describe('Class: FileKeyring', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, 'keyring.json');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('init', () => {
    it('creates the file mode 0600 in a new directory mode 0700', async () => {
      const nested = path.join(dir, 'data', 'keys', 'keyring.json');
      await FileKeyring.init({ path: nested });
      expect(statSync(nested).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(nested)).mode & 0o777).toBe(0o700);
      expect(FileKeyring.exists(nested)).toBe(true);
    });

    it('writes the documented unsealed format, one primary root key', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const json = readJson(file);
      expect(json.format).toBe('coffer-keyring/v1');
      expect(json.sealed).toBe(false);
      expect(json.kdf).toBeUndefined();
      expect(json.keys).toHaveLength(1);
      expect(json.keys[0]!.id).toMatch(/^rk-[0-9a-f]{8}$/);
      expect(Number.isNaN(Date.parse(json.keys[0]!.createdAt))).toBe(false);
      expect(Buffer.from(json.keys[0]!.material, 'base64')).toHaveLength(32);
      expect(json.primary).toBe(json.keys[0]!.id);
      expect(keyring.describe()).toEqual({ provider: 'local-file', keyId: json.primary });
    });

    it('refuses to overwrite an existing keyring', async () => {
      await FileKeyring.init({ path: file });
      const before = readFileSync(file, 'utf8');
      await expect(FileKeyring.init({ path: file })).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(FileKeyring.init({ path: file, passphrase: PASSPHRASE })).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(readFileSync(file, 'utf8')).toBe(before);
    });

    it('refuses an empty passphrase', async () => {
      await expect(FileKeyring.init({ path: file, passphrase: '' })).rejects.toBeInstanceOf(ValidationError);
      expect(FileKeyring.exists(file)).toBe(false);
    });
  });

  describe('open', () => {
    it('unwraps data keys wrapped before a restart', async () => {
      const first = await FileKeyring.init({ path: file });
      const { plaintext, wrapped } = await first.generateDataKey(context);

      const reopened = await FileKeyring.open({ path: file });

      expect((await reopened.unwrapDataKey(wrapped, context)).equals(plaintext)).toBe(true);
      expect(reopened.describe()).toEqual(first.describe());
    });

    it('fails with NotFoundError when there is no keyring', async () => {
      expect(FileKeyring.exists(file)).toBe(false);
      await expect(FileKeyring.open({ path: file })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('fails with InternalError on a file that is not a keyring, without echoing its contents', async () => {
      writeFileSync(file, 'not json');
      await expect(FileKeyring.open({ path: file })).rejects.toBeInstanceOf(InternalError);
      await FileKeyring.init({ path: path.join(dir, 'good.json') });
      const json = readJson(path.join(dir, 'good.json'));
      writeFileSync(file, JSON.stringify({ ...json, primary: 'rk-00000000' }));
      const err = await FileKeyring.open({ path: file }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InternalError);
      expect(String(err)).not.toContain(json.keys[0]!.material);
    });

    it('refuses a passphrase for a keyring that is not sealed', async () => {
      await FileKeyring.init({ path: file });
      await expect(FileKeyring.open({ path: file, passphrase: PASSPHRASE })).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('sealed', () => {
    it('opens only with the right passphrase', async () => {
      const first = await FileKeyring.init({ path: file, passphrase: PASSPHRASE });
      const { plaintext, wrapped } = await first.generateDataKey(context);

      const missing = await FileKeyring.open({ path: file }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(SealedError);
      expect((missing as Error).message).toContain('COFFER_PASSPHRASE');
      await expect(FileKeyring.open({ path: file, passphrase: 'wrong passphrase' })).rejects.toBeInstanceOf(
        SealedError,
      );
      await expect(FileKeyring.open({ path: file, passphrase: '' })).rejects.toBeInstanceOf(SealedError);

      const reopened = await FileKeyring.open({ path: file, passphrase: PASSPHRASE });
      expect((await reopened.unwrapDataKey(wrapped, context)).equals(plaintext)).toBe(true);
    });

    it('stores root keys encrypted under the scrypt-derived key, never in the clear', async () => {
      const keyring = await FileKeyring.init({ path: file, passphrase: PASSPHRASE });
      const { plaintext, wrapped } = await keyring.generateDataKey(context);
      const raw = readFileSync(file);
      const json = readJson(file);
      expect(json.sealed).toBe(true);
      expect(json.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 15, r: 8, p: 1, keyLen: 32 });
      const { salt, N, r, p } = json.kdf!;
      const kek = scryptSync(PASSPHRASE, Buffer.from(salt, 'base64'), 32, { N, r, p, maxmem: 256 * N * r });
      const entry = json.keys[0]!;
      const rootKey = gcmOpen(
        kek,
        Buffer.from(entry.material, 'base64'),
        Buffer.from(JSON.stringify(['coffer-keyring/v1', entry.id])),
      );

      // It is the real root key: it opens a wrapped data key by the documented format.
      const [, keyId, body] = wrapped.split('.') as [string, string, string];
      const aad = Buffer.from(JSON.stringify(['ck1', keyId, canonicalContext(context)]));
      expect(gcmOpen(rootKey, Buffer.from(body, 'base64url'), aad).equals(plaintext)).toBe(true);
      // And the file holds it in no common encoding.
      expect(raw.includes(rootKey)).toBe(false);
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        expect(raw.toString('utf8')).not.toContain(rootKey.toString(encoding));
      }
    });

    it('binds each sealed root key to its id, so swapped materials do not open', async () => {
      const keyring = await FileKeyring.init({ path: file, passphrase: PASSPHRASE });
      await keyring.rotate();
      const json = readJson(file);
      const [a, b] = json.keys as [KeyringJson['keys'][0], KeyringJson['keys'][0]];
      [a.material, b.material] = [b.material, a.material];
      writeFileSync(file, JSON.stringify(json));
      await expect(FileKeyring.open({ path: file, passphrase: PASSPHRASE })).rejects.toBeInstanceOf(SealedError);
    });

    it('stays sealed under the same passphrase after rotate and retire', async () => {
      const keyring = await FileKeyring.init({ path: file, passphrase: PASSPHRASE });
      const old = keyring.describe().keyId;
      const newId = await keyring.rotate();
      await keyring.retire(old);

      expect(readJson(file).sealed).toBe(true);
      await expect(FileKeyring.open({ path: file })).rejects.toBeInstanceOf(SealedError);
      const reopened = await FileKeyring.open({ path: file, passphrase: PASSPHRASE });
      expect(reopened.describe().keyId).toBe(newId);
    });
  });

  describe('rotate', () => {
    it('makes a new primary key while old wrapped keys still unwrap', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const old = keyring.describe().keyId;
      const before = await keyring.generateDataKey(context);

      const newId = await keyring.rotate();

      expect(newId).toMatch(/^rk-[0-9a-f]{8}$/);
      expect(newId).not.toBe(old);
      expect(keyring.describe().keyId).toBe(newId);
      expect((await keyring.unwrapDataKey(before.wrapped, context)).equals(before.plaintext)).toBe(true);
      const after = await keyring.generateDataKey(context);
      expect(after.wrapped.split('.')[1]).toBe(newId);
    });

    it('reports old wrapped keys as not current, and re-wrapping makes them current', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const { plaintext, wrapped } = await keyring.generateDataKey(context);
      await keyring.rotate();

      expect(keyring.isCurrent(wrapped)).toBe(false);
      const rewrapped = await keyring.rewrapDataKey(wrapped, context);
      expect(keyring.isCurrent(rewrapped)).toBe(true);
      expect((await keyring.unwrapDataKey(rewrapped, context)).equals(plaintext)).toBe(true);
    });

    it('persists the rotation across a reopen', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const old = await keyring.generateDataKey(context);
      const newId = await keyring.rotate();
      const current = await keyring.generateDataKey(context);

      const reopened = await FileKeyring.open({ path: file });

      expect(reopened.describe().keyId).toBe(newId);
      expect(readJson(file).keys.map((key) => key.id)).toHaveLength(2);
      expect((await reopened.unwrapDataKey(old.wrapped, context)).equals(old.plaintext)).toBe(true);
      expect((await reopened.unwrapDataKey(current.wrapped, context)).equals(current.plaintext)).toBe(true);
      expect(reopened.isCurrent(old.wrapped)).toBe(false);
    });

    it('replaces the file atomically: mode 0600 and no temporary file left behind', async () => {
      const keyring = await FileKeyring.init({ path: file });
      await keyring.rotate();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual(['keyring.json']);
    });

    it('keeps every key when rotations run concurrently', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const ids = await Promise.all([keyring.rotate(), keyring.rotate(), keyring.rotate()]);
      const reopened = await FileKeyring.open({ path: file });
      expect(readJson(file).keys).toHaveLength(4);
      expect(new Set(ids).size).toBe(3);
      expect(ids).toContain(reopened.describe().keyId);
    });
  });

  describe('retire', () => {
    it('removes an old key, so data keys still wrapped under it no longer unwrap', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const old = keyring.describe().keyId;
      const { plaintext, wrapped } = await keyring.generateDataKey(context);
      await keyring.rotate();
      const rewrapped = await keyring.rewrapDataKey(wrapped, context);

      await keyring.retire(old);

      await expect(keyring.unwrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      expect((await keyring.unwrapDataKey(rewrapped, context)).equals(plaintext)).toBe(true);
      const reopened = await FileKeyring.open({ path: file });
      expect(readJson(file).keys.map((key) => key.id)).not.toContain(old);
      await expect(reopened.unwrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      expect((await reopened.unwrapDataKey(rewrapped, context)).equals(plaintext)).toBe(true);
    });

    it('refuses to retire the primary key or an unknown key', async () => {
      const keyring = await FileKeyring.init({ path: file });
      await expect(keyring.retire(keyring.describe().keyId)).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(keyring.retire('rk-00000000')).rejects.toBeInstanceOf(NotFoundError);
      expect(readJson(file).keys).toHaveLength(1);
    });
  });

  describe('unwrapDataKey', () => {
    it('fails with DecryptionFailureError when any byte of the wrapped body is flipped', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const { wrapped } = await keyring.generateDataKey(context);
      const [prefix, keyId, body] = wrapped.split('.') as [string, string, string];
      const bytes = Buffer.from(body, 'base64url');
      for (let index = 0; index < bytes.length; index++) {
        const tampered = Buffer.from(bytes);
        tampered[index] = tampered[index]! ^ 0x80;
        const candidate = `${prefix}.${keyId}.${tampered.toString('base64url')}`;
        await expect(keyring.unwrapDataKey(candidate, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      }
    });

    it('fails with DecryptionFailureError for a key id this keyring does not hold', async () => {
      const keyring = await FileKeyring.init({ path: file });
      const other = await FileKeyring.init({ path: path.join(dir, 'other.json') });
      const { wrapped } = await other.generateDataKey(context);
      await expect(keyring.unwrapDataKey(wrapped, context)).rejects.toBeInstanceOf(DecryptionFailureError);
      // Relabelling it with this keyring's id does not help: the key id is authenticated too.
      const relabelled = wrapped.replace(other.describe().keyId, keyring.describe().keyId);
      await expect(keyring.unwrapDataKey(relabelled, context)).rejects.toBeInstanceOf(DecryptionFailureError);
    });
  });
});
