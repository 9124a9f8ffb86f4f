import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../../../lambdas/adapters/local/keyring/file-keyring.ts';
import { LocalKeyRing } from '../../../lambdas/adapters/local/keyring/local-key-ring.ts';
import {
  AlreadyExistsError,
  DecryptionFailureError,
  InternalError,
  NotFoundError,
  ValidationError,
} from '../../../lambdas/core/errors.ts';
import { describeKeyProviderContract } from '../../contract/key-provider.contract.ts';

const context = { secretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:s-abcdef', versionId: 'v1' };
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function keyring(passphrase?: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-keys-'));
  dirs.push(dir);
  const file = path.join(dir, 'keyring.json');
  const fileKeyring = await FileKeyring.init({ path: file, ...(passphrase === undefined ? {} : { passphrase }) });
  const ring = (k: FileKeyring) => new LocalKeyRing({ keyring: k, region: 'us-east-1', account: '000000000000' });
  const reopen = async () =>
    ring(await FileKeyring.open({ path: file, ...(passphrase === undefined ? {} : { passphrase }) }));
  return { file, fileKeyring, keys: ring(fileKeyring), reopen };
}

interface NamedKeyJson {
  id: string;
  alias: string;
  rootKeyId: string;
  material: string;
}

describeKeyProviderContract('FileKeyring named key', async () => {
  const { keys } = await keyring();
  return { provider: keys.provider((await keys.create('contract')).arn) };
});

describe('Class: LocalKeyRing', () => {
  it('creates a named key and resolves it by alias, alias ARN, key id and key ARN', async () => {
    const { keys } = await keyring();
    const key = await keys.create('alias/payments');
    expect(key.arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${key.keyId}`);
    expect(key.aliases).toEqual(['payments']);
    for (const given of ['alias/payments', 'arn:aws:kms:us-east-1:000000000000:alias/payments', key.keyId, key.arn]) {
      expect((await keys.resolve(given)).arn).toBe(key.arn);
    }
    expect((await keys.list()).map((k) => k.arn)).toEqual([key.arn]);
  });

  it('answers a missing key in KMS words, and refuses a malformed one', async () => {
    const { keys } = await keyring();
    await expect(keys.resolve('alias/nope')).rejects.toThrow(
      new NotFoundError('Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found.'),
    );
    // A bare name is a key id, as AWS reads it.
    await expect(keys.resolve('payments')).rejects.toThrow(NotFoundError);
    await expect(keys.resolve('alias/')).rejects.toThrow(new ValidationError('Invalid keyId'));
    // A key of another account or region is not this node's, even with an id it holds.
    const key = await keys.create('payments');
    await expect(keys.resolve(key.arn.replace('us-east-1', 'eu-west-1'))).rejects.toThrow(NotFoundError);
  });

  it('addresses the same named keys in another region, for replicas', async () => {
    const { keys } = await keyring();
    const key = await keys.create('payments');
    const replica = keys.inRegion('eu-west-1');
    const there = await replica.resolve('alias/payments');
    expect(there.arn).toBe(`arn:aws:kms:eu-west-1:000000000000:key/${key.keyId}`);
    const { plaintext, wrapped } = await replica.provider(there.arn).generateDataKey(context);
    expect(await keys.provider(key.arn).unwrapDataKey(wrapped, context)).toEqual(plaintext);
    await expect(keys.resolve(there.arn)).rejects.toThrow(NotFoundError);
  });

  it('refuses a taken alias and a reserved one', async () => {
    const { keys } = await keyring();
    await keys.create('payments');
    await expect(keys.create('payments')).rejects.toThrow(AlreadyExistsError);
    await expect(keys.create('alias/aws/secretsmanager')).rejects.toThrow(ValidationError);
  });

  it('keeps named keys across a restart, sealed under the root key (and the passphrase)', async () => {
    for (const passphrase of [undefined, 'correct horse battery staple']) {
      const { keys, reopen, file } = await keyring(passphrase);
      const key = await keys.create('payments');
      const { plaintext, wrapped } = await keys.provider(key.arn).generateDataKey(context);
      const reopened = await reopen();
      expect((await reopened.resolve('alias/payments')).arn).toBe(key.arn);
      expect(await reopened.provider(key.arn).unwrapDataKey(wrapped, context)).toEqual(plaintext);
      // Neither the data key nor anything that is not sealed material is in the file.
      expect(readFileSync(file, 'utf8')).not.toContain(plaintext.toString('base64'));
    }
  });

  it('re-seals named keys under the new root key when the root key rotates', async () => {
    const { fileKeyring, keys, reopen, file } = await keyring();
    const key = await keys.create('payments');
    const { plaintext, wrapped } = await keys.provider(key.arn).generateDataKey(context);
    const previous = fileKeyring.describe().keyId;
    const next = await fileKeyring.rotate();
    await fileKeyring.retire(previous);
    const named = (JSON.parse(readFileSync(file, 'utf8')) as { namedKeys: NamedKeyJson[] }).namedKeys;
    expect(named.map((k) => k.rootKeyId)).toEqual([next]);
    expect(await (await reopen()).provider(key.arn).unwrapDataKey(wrapped, context)).toEqual(plaintext);
  });

  it('does not unwrap a data key under another named key, or with another context', async () => {
    const { keys } = await keyring();
    const a = await keys.create('a');
    const b = await keys.create('b');
    const { wrapped } = await keys.provider(a.arn).generateDataKey(context);
    await expect(keys.provider(b.arn).unwrapDataKey(wrapped, context)).rejects.toThrow(DecryptionFailureError);
    await expect(keys.provider(a.arn).unwrapDataKey(wrapped, { ...context, versionId: 'v2' })).rejects.toThrow(
      DecryptionFailureError,
    );
  });

  it('refuses to open a keyring whose named keys were swapped', async () => {
    const { keys, reopen, file } = await keyring();
    await keys.create('a');
    await keys.create('b');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { namedKeys: NamedKeyJson[] };
    const [first, second] = json.namedKeys as [NamedKeyJson, NamedKeyJson];
    [first.material, second.material] = [second.material, first.material];
    writeFileSync(file, JSON.stringify(json));
    await expect(reopen()).rejects.toThrow(InternalError);
  });
});
