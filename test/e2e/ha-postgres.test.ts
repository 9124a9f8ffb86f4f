import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { type RoundRobinProxy, startRoundRobinProxy } from '../support/round-robin-proxy.ts';
import { api, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';

/**
 * Three nodes on one PostgreSQL store behind one address (docs/ha.md): one is killed with SIGKILL while clients write
 * and read through the address, the others carry the load on, and every write a client was answered 2xx for is there,
 * with its exact value, on every node left.
 */

const WRITERS = 4;
/** Acknowledged writes before the kill, and after it: counts, never durations. */
const ACKED_BEFORE_KILL = 40;
const ACKED_AFTER_KILL = 40;

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * One request on a connection of its own (no keep-alive), so the proxy spreads requests over the nodes rather than
 * pinning a client to the node its first connection reached. A connection cut mid-request rejects: unacknowledged.
 */
function once(address: string, token: string, method: string, urlPath: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${address}${urlPath}`,
      {
        method,
        agent: false,
        headers: {
          'x-coffer-token': token,
          ...(payload !== undefined && { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) });
          } catch (error) {
            reject(error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('three nodes on one PostgreSQL store behind one address', () => {
  let pgServer: TestPostgres;
  let dirs: { dir: string; cleanup: () => void };
  const nodes: ServerProcess[] = [];
  let proxy: RoundRobinProxy | undefined;

  beforeAll(async () => {
    pgServer = await startPostgres();
    dirs = tempDir('coffer-ha-');
    const passwordFile = path.join(dirs.dir, 'store-password');
    writeFileSync(passwordFile, `${pgServer.adminPassword}\n`, { mode: 0o600 });
    const env = {
      COFFER_STORE_URL: `postgres://${pgServer.adminUser}@${pgServer.host}:${pgServer.port}/${pgServer.database}`,
      COFFER_STORE_PASSWORD_FILE: passwordFile,
      COFFER_KEYRING_FILE: path.join(dirs.dir, 'keyring.json'),
      // The load writes one secret many times a second, through nodes that each count writes on their own.
      COFFER_SECRET_WRITE_RATE: '0',
      COFFER_MAX_DEPRECATED_VERSIONS: '10000',
    };
    // The first node initialises the store and makes the keyring the others are given.
    nodes.push(await startServer(path.join(dirs.dir, 'node-0'), env));
    nodes.push(...(await Promise.all([1, 2].map((i) => startServer(path.join(dirs.dir, `node-${i}`), env)))));
    proxy = await startRoundRobinProxy(
      nodes.map((node) => {
        const url = new URL(node.address);
        return { host: url.hostname, port: Number(url.port) };
      }),
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await pgServer?.stop();
    dirs?.cleanup();
  });

  it('joins the later nodes without a root token of their own, and serves one token on every node', async () => {
    const [first, ...joined] = nodes;
    expect(first!.rootToken).toMatch(/^cft_/);
    expect(first!.output()).toMatch(/store: postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\)/);
    for (const node of nodes) expect(node.output()).not.toContain(pgServer.adminPassword);
    for (const node of joined) {
      expect(node.rootToken).toBe('');
      expect(node.output()).not.toContain('Root token');
    }
    const created = await api(nodes[1]!.address, first!.rootToken, 'PUT', '/v1/secret/data/ha/hello', { value: 'hi' });
    expect(created.status).toBe(200);
    const read = await api(nodes[2]!.address, first!.rootToken, 'GET', '/v1/secret/data/ha/hello');
    expect(read.body).toMatchObject({ value: 'hi', versionId: created.body.versionId });
  });

  it('offers no change to the shared keyring through one node (root-key rotation, named keys)', async () => {
    const root = nodes[0]!.rootToken;
    const rotate = await api(nodes[0]!.address, root, 'POST', '/v1/sys/keyring/rotate');
    const create = await api(nodes[1]!.address, root, 'POST', '/v1/sys/keyring/keys', { alias: 'app' });
    for (const refused of [rotate, create]) {
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      expect(refused.body.error?.message).toMatch(/is not enabled on this runtime/);
    }
  });

  it('serves a write made through one node on the next read through another (no node caches its own view)', async () => {
    const root = nodes[0]!.rootToken;
    await api(nodes[0]!.address, root, 'PUT', '/v1/secret/data/ha/fresh', { value: 'one' });
    expect((await api(nodes[2]!.address, root, 'GET', '/v1/secret/data/ha/fresh')).body.value).toBe('one');
    await api(nodes[1]!.address, root, 'PUT', '/v1/secret/data/ha/fresh', { value: 'two' });
    expect((await api(nodes[2]!.address, root, 'GET', '/v1/secret/data/ha/fresh')).body.value).toBe('two');

    // A token revoked through one node is refused by the others at once: none serves it from memory.
    const created = await api(nodes[0]!.address, root, 'POST', '/v1/auth/token/create', { ttl: '1h' });
    expect(created.status).toBe(201);
    const child = String(created.body.token);
    expect((await api(nodes[2]!.address, child, 'GET', '/v1/auth/token/lookup-self')).status).toBe(200);
    expect((await api(nodes[1]!.address, child, 'POST', '/v1/auth/token/revoke-self')).status).toBe(204);
    expect((await api(nodes[2]!.address, child, 'GET', '/v1/auth/token/lookup-self')).status).toBe(401);
  });

  it('loses no acknowledged write when one node is killed mid-load', { timeout: 300_000 }, async () => {
    const token = nodes[0]!.rootToken;
    const address = proxy!.address;
    const victim = nodes[1]!;
    const secretOf = (writer: number) => `ha/load-${writer}`;
    /** Every value a writer sent, acknowledged or not: anything read back must be one of them. */
    const sent = Array.from({ length: WRITERS }, () => new Set<string>());
    const acked = Array.from({ length: WRITERS }, () => [] as { versionId: string; value: string }[]);
    const refusals: string[] = [];
    const wrongReads: string[] = [];
    let ackedTotal = 0;
    let ackedAfterKill = 0;
    let killed = false;
    let stop = false;
    let reads = 0;

    const afterAck = () => {
      ackedTotal++;
      if (killed) ackedAfterKill++;
      if (!killed && ackedTotal >= ACKED_BEFORE_KILL) {
        killed = true;
        victim.child.kill('SIGKILL');
      }
      if (ackedAfterKill >= ACKED_AFTER_KILL) stop = true;
    };

    const writer = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const value = `w${w}-v${n}-${randomUUID()}`;
        sent[w]!.add(value);
        const answer = await once(address, token, 'PUT', `/v1/secret/data/${secretOf(w)}`, { value }).catch(
          () => undefined,
        );
        if (answer === undefined) continue;
        if (answer.status >= 200 && answer.status < 300) {
          acked[w]!.push({ versionId: String(answer.body.versionId), value });
          afterAck();
        } else if (answer.status !== 503) {
          // 503 is the answer a node gives when it cannot reach the store; anything else is a fault of the cluster.
          refusals.push(`${answer.status} ${JSON.stringify(answer.body)}`);
        }
      }
    };

    const reader = async (w: number) => {
      while (!stop) {
        const answer = await once(address, token, 'GET', `/v1/secret/data/${secretOf(w)}`).catch(() => undefined);
        if (answer?.status !== 200) continue;
        reads++;
        if (!sent[w]!.has(String(answer.body.value))) wrongReads.push(String(answer.body.value));
      }
    };

    // Each secret exists before the readers start, so a 404 never counts as a read.
    for (let w = 0; w < WRITERS; w++) {
      const value = `w${w}-initial`;
      sent[w]!.add(value);
      const first = await once(address, token, 'PUT', `/v1/secret/data/${secretOf(w)}`, { value });
      expect(first.status).toBe(200);
      acked[w]!.push({ versionId: String(first.body.versionId), value });
    }
    await Promise.all([
      ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
      ...Array.from({ length: WRITERS }, (_, w) => reader(w)),
    ]);

    expect(killed).toBe(true);
    if (victim.child.exitCode === null && victim.child.signalCode === null) {
      await new Promise((resolve) => victim.child.once('exit', resolve));
    }
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(ackedAfterKill).toBeGreaterThanOrEqual(ACKED_AFTER_KILL);
    expect(reads).toBeGreaterThan(0);
    expect(refusals).toEqual([]);
    expect(wrongReads).toEqual([]);

    const survivors = nodes.filter((node) => node !== victim);
    for (const node of survivors) {
      for (let w = 0; w < WRITERS; w++) {
        const name = secretOf(w);
        // Every acknowledged version, with its exact value.
        const missing: string[] = [];
        for (const { versionId, value } of acked[w]!) {
          const got = await api(node.address, token, 'GET', `/v1/secret/data/${name}?versionId=${versionId}`);
          if (got.status !== 200 || got.body.value !== value) missing.push(`${versionId}: ${got.status}`);
        }
        expect({ node: node.address, name, missing }).toEqual({ node: node.address, name, missing: [] });

        // No torn versions: every version the store lists reads back as a value that was sent; the labels are whole.
        const listed = await api(
          node.address,
          token,
          'GET',
          `/v1/secret/versions/${name}?includeDeprecated=true&limit=1000`,
        );
        expect(listed.status).toBe(200);
        const versions = listed.body.versions as { versionId: string; versionStages: string[] }[];
        expect(versions.length).toBeGreaterThanOrEqual(acked[w]!.length);
        const stagedAs = (stage: string) => versions.filter((v) => v.versionStages.includes(stage));
        expect(stagedAs('AWSCURRENT')).toHaveLength(1);
        expect(stagedAs('AWSPREVIOUS')).toHaveLength(1);
        for (const version of versions) {
          const got = await api(node.address, token, 'GET', `/v1/secret/data/${name}?versionId=${version.versionId}`);
          expect({
            version: version.versionId,
            status: got.status,
            sent: sent[w]!.has(String(got.body.value)),
          }).toEqual({ version: version.versionId, status: 200, sent: true });
        }
        // The current version is the last acknowledged write or one sent after it (whose answer the kill cut off).
        const current = await api(node.address, token, 'GET', `/v1/secret/data/${name}`);
        const lastAcked = acked[w]!.at(-1)!;
        const sentOrder = [...sent[w]!];
        expect(sentOrder.indexOf(String(current.body.value))).toBeGreaterThanOrEqual(
          sentOrder.indexOf(lastAcked.value),
        );
      }
    }
    // The load really went through every node.
    for (const node of nodes) expect(proxy!.forwarded.get(new URL(node.address).host)).toBeGreaterThan(0);
  });
  it('initialises a fresh store with coffer init --store-url once, then refuses, never echoing the password', async () => {
    const admin = await pgServer.adminClient();
    try {
      await admin.query('CREATE DATABASE coffer_cli');
    } finally {
      await admin.end();
    }
    const url = `postgres://${pgServer.adminUser}:${encodeURIComponent(pgServer.adminPassword)}@${pgServer.host}:${pgServer.port}/coffer_cli`;
    const init = (dataDir: string) =>
      runCli(
        ['init', '--store-url', url, '--keyring-file', path.join(dirs.dir, 'cli-keyring.json'), '--data-dir', dataDir],
        { env: { COFFER_PASSPHRASE: '' } },
      );

    const first = await init(path.join(dirs.dir, 'cli-a'));
    expect(first).toMatchObject({ code: 0, stdout: expect.stringMatching(/Coffer initialised[\s\S]*cft_/) });
    const again = await init(path.join(dirs.dir, 'cli-b'));
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(
      /the store at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/coffer_cli is already initialised/,
    );
    for (const output of [first.stdout, first.stderr, again.stdout, again.stderr]) {
      expect(output).not.toContain(pgServer.adminPassword);
    }
  });
});
