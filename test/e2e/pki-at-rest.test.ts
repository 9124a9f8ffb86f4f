import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileKeyring } from '../../lambdas/adapters/local/keyring/file-keyring.ts';
import { SqliteStore } from '../../lambdas/adapters/local/store/sqlite-store.ts';
import { open } from '../../lambdas/core/crypto/envelope.ts';
import { dataPaths } from '../../lambdas/entrypoints/local/config.ts';
import { api, startServer, tempDir } from '../support/server-process.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/** Every form a private key could leak in: DER, base64 of it (a window), PEM body lines. */
function needlesOf(der: Buffer): Buffer[] {
  const b64 = der.toString('base64');
  return [der.subarray(8, 40), Buffer.from(b64.slice(20, 52)), Buffer.from(b64.slice(64, 128))];
}

function pemDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

describe('PKI keys at rest', () => {
  it('keeps CA private keys and issued private keys out of every file in the data directory', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const server = await startServer(dataDir);
    const issuedKeys: Buffer[] = [];
    try {
      const call = (method: string, url: string, body?: unknown) =>
        api(server.address, server.rootToken, method, url, body);
      expect((await call('POST', '/v1/pki/root/generate', { common_name: 'At Rest Root' })).status).toBe(201);
      expect(
        (
          await call('POST', '/v1/pki/intermediate/generate', {
            common_name: 'At Rest Int',
            key_type: 'rsa-2048',
            sign_with_root: true,
          })
        ).status,
      ).toBe(201);
      await call('PUT', '/v1/pki/roles/plain', { allowed_domains: ['example.com'], allow_subdomains: true });
      await call('PUT', '/v1/pki/roles/kept', {
        allowed_domains: ['example.com'],
        allow_subdomains: true,
        store_private_key: true,
        key_type: 'rsa-2048',
      });
      for (const role of ['plain', 'kept', 'plain', 'kept']) {
        const issued = await call('POST', `/v1/pki/issue/${role}`, { common_name: `${role}.example.com` });
        expect(issued.status).toBe(200);
        issuedKeys.push(pemDer(String(issued.body.private_key)));
      }
    } finally {
      await server.stop();
    }
    // Unseal the CA keys the way the node does, to know what must not appear anywhere.
    const paths = dataPaths(dataDir);
    const keyring = await FileKeyring.open({ path: paths.keyring });
    const store = SqliteStore.open({ path: paths.database });
    const caKeys: Buffer[] = [];
    try {
      const items = (await store.query<{ wrapped: string; blob: string }>('pki#ca-key')).items;
      expect(items).toHaveLength(2);
      for (const item of items) {
        const dataKey = await keyring.unwrapDataKey(item.data.wrapped, { engine: 'pki', caKey: item.sk });
        caKeys.push(
          open(dataKey, { blob: item.data.blob }, { secretId: `pki/ca-key/${item.sk}`, versionId: 'private-key' }),
        );
      }
    } finally {
      await store.close();
    }
    const needles = [...caKeys, ...issuedKeys].flatMap(needlesOf);
    const files = filesUnder(dataDir);
    expect(files.some((f) => f.endsWith('audit.log'))).toBe(true);
    for (const file of files) {
      if (!statSync(file).isFile()) continue;
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(needle), `${file} holds a private key`).toBe(false);
    }
    tmp.cleanup();
  });
});
