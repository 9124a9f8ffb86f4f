import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../../../lambdas/adapters/local/keyring/file-keyring.ts';
import { PostgresStore } from '../../../lambdas/adapters/postgres/store/postgres-store.ts';
import { TokenService } from '../../../lambdas/core/auth/token/token-service.ts';
import { systemClock } from '../../../lambdas/core/ports/clock.ts';
import { openLocalNode } from '../../../lambdas/entrypoints/local/compose.ts';
import { type LocalConfig, loadLocalConfig } from '../../../lambdas/entrypoints/local/config.ts';
import { initialiseOrJoin } from '../../../lambdas/entrypoints/local/shared-store.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';

let server: TestPostgres;
let root: string;
let database: string;
let databases = 0;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'coffer-shared-'));
  // Each test starts on an empty store of its own.
  database = `coffer_${++databases}`;
  const admin = await server.adminClient();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const storeUrl = () => `postgres://${server.adminUser}@${server.host}:${server.port}/${database}`;

/** A node's configuration: its own data dir, the shared store and (by default) the shared keyring. */
function nodeConfig(name: string, keyringFile = path.join(root, 'keyring.json')): LocalConfig & { storeUrl: string } {
  const config = loadLocalConfig(
    { PGPASSWORD: server.adminPassword },
    { dataDir: path.join(root, name), storeUrl: storeUrl(), keyringFile, port: 0 },
  );
  return config as LocalConfig & { storeUrl: string };
}

async function authenticatesOnStore(token: string): Promise<boolean> {
  const store = await PostgresStore.open({ url: storeUrl(), password: server.adminPassword });
  try {
    return await new TokenService({ store, clock: systemClock }).authenticate(token).then(
      () => true,
      () => false,
    );
  } finally {
    await store.close();
  }
}

describe('Function: initialiseOrJoin', () => {
  it('initialises an empty store exactly once when three nodes start on it together', async () => {
    await FileKeyring.init({ path: path.join(root, 'keyring.json') });
    const configs = ['a', 'b', 'c'].map((name) => nodeConfig(name));

    const outcomes = await Promise.all(configs.map((config) => initialiseOrJoin(config)));

    const winners = outcomes.flatMap((outcome, i) => (outcome.rootToken === undefined ? [] : [i]));
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    const rootToken = outcomes[winner]!.rootToken!;
    expect(readFileSync(path.join(configs[winner]!.dataDir, 'root-token'), 'utf8').trim()).toBe(rootToken);
    for (const [i, config] of configs.entries()) {
      if (i !== winner) expect(existsSync(path.join(config.dataDir, 'root-token'))).toBe(false);
    }
    expect(await authenticatesOnStore(rootToken)).toBe(true);

    // Every node opens on the store, and a token made through one authenticates through another.
    const nodes = await Promise.all(configs.map((config) => openLocalNode(config)));
    try {
      const rootRecord = await nodes[0]!.deps.tokens.authenticate(rootToken);
      const { token } = await nodes[0]!.deps.tokens.create(rootRecord, { policies: ['default'], ttl: '1h' });
      await expect(nodes[2]!.deps.tokens.authenticate(token)).resolves.toBeDefined();
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
    }
  });

  it('lets a later node join without making another root token, and creates the keyring on first start', async () => {
    const first = await initialiseOrJoin(nodeConfig('a'));
    expect(first.rootToken).toMatch(/^cft_/);
    expect(existsSync(path.join(root, 'keyring.json'))).toBe(true);

    expect(await initialiseOrJoin(nodeConfig('b'))).toEqual({});
    expect(await initialiseOrJoin(nodeConfig('a'))).toEqual({});
  });

  it('refuses a node whose keyring is not the one the store was initialised with', async () => {
    await initialiseOrJoin(nodeConfig('a'));
    const other = path.join(root, 'other-keyring.json');
    await FileKeyring.init({ path: other });

    const joining = initialiseOrJoin(nodeConfig('b', other));
    await expect(joining).rejects.toThrow(/was initialised with another keyring than .*other-keyring\.json/);
    await expect(openLocalNode(nodeConfig('b', other))).rejects.toThrow(/initialised with another keyring/);
    const message = await joining.catch((error: Error) => error.message);
    expect(message).not.toContain(server.adminPassword);
  });

  it('refuses a node without a keyring on an initialised store instead of making a new one', async () => {
    await initialiseOrJoin(nodeConfig('a'));
    const missing = path.join(root, 'missing', 'keyring.json');

    await expect(initialiseOrJoin(nodeConfig('b', missing))).rejects.toThrow(/this node has no keyring at .*missing/);
    expect(existsSync(missing)).toBe(false);
  });

  it('takes the password from a file, and refuses one in the URL as well', async () => {
    const { writeFileSync } = await import('node:fs');
    const passwordFile = path.join(root, 'pg-password');
    writeFileSync(passwordFile, `${server.adminPassword}\n`);
    const config = loadLocalConfig(
      {},
      { dataDir: path.join(root, 'a'), storeUrl: storeUrl(), storePasswordFile: passwordFile },
    ) as LocalConfig & { storeUrl: string };
    expect((await initialiseOrJoin(config)).rootToken).toBeDefined();

    const both = { ...config, storeUrl: storeUrl().replace('@', ':in-url@') };
    await expect(initialiseOrJoin(both)).rejects.toThrow(/carries a password and COFFER_STORE_PASSWORD_FILE/);
  });
});
