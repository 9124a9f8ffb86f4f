/**
 * PKI benchmark: EC P-256 certificates issued per second (and p99), with the baseline measured in the same run,
 * because absolute numbers on a shared 2-core machine mean little.
 *
 * - `baseline`: raw WebCrypto, one P-256 key generation plus one ECDSA signature over a certificate-sized message:
 *   the cryptographic floor of issuing (leaf keygen + CA signature).
 * - `engine`: `PkiService.issue` on the in-memory store: keygen, name checks, X.509 encoding and signing without a
 *   durable write, i.e. the PKI engine's own cost.
 * - `durableWrite`: one conditional put of a certificate-sized record into the local node's SQLite store, nothing
 *   else: the durability floor every issue on the local node pays (a group-committed fsync).
 * - `inProcess`: `PkiService.issue` on the real local node (SQLite store, file keyring behind the data-key cache,
 *   sealed local CA key), without HTTP: keygen, name checks, X.509 encoding, signing, conditional serial write.
 * - `http`: `POST /v1/pki/issue/<role>` against the real server process (authentication, policy, durable audit
 *   of request and response, then the same service call).
 *
 * Run alone with `node --import tsx bench/pki.ts [--concurrency=N]` (default 4); `bench/run.ts` may call `benchPki()`.
 */

import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SealedCaKeyStore } from '../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { MemoryStore } from '../lambdas/adapters/memory/memory-store.ts';
import type { PkiRoleInput } from '../lambdas/engines/pki/pki-role.ts';
import { PkiService } from '../lambdas/engines/pki/pki-service.ts';
import { initialise, openLocalNode } from '../lambdas/entrypoints/local/compose.ts';
import { loadLocalConfig } from '../lambdas/entrypoints/local/config.ts';
import { FakeKeyProvider } from '../test/support/fake-key-provider.ts';
import { api, startServer } from '../test/support/server-process.ts';
import { measure } from './measure.ts';

export interface PkiRate {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
}

export interface PkiBenchResult {
  /** WebCrypto P-256 keygen + one ECDSA P-256/SHA-256 signature, same concurrency. */
  baseline: PkiRate;
  /** PkiService.issue on the in-memory store: the engine without durability. */
  engine: PkiRate;
  /** A certificate-sized conditional put into the local SQLite store alone. */
  durableWrite: PkiRate;
  /** PkiService.issue in process on the local node's adapters. */
  inProcess: PkiRate;
  /** POST /v1/pki/issue/<role> through the real server. */
  http: PkiRate;
}

const ROLE: PkiRoleInput = {
  allowed_domains: ['bench.internal'],
  allow_subdomains: true,
  key_type: 'ec-p256',
  max_ttl: '24h',
};

/** A root, an intermediate signed by it, the bench role, and one issue to warm up: what each measured path needs. */
async function prepareIssuer(pki: PkiService): Promise<void> {
  await pki.generateRoot({ common_name: 'Bench Root', key_type: 'ec-p256', ttl: 365 * 86_400 });
  await pki.generateIntermediate({
    common_name: 'Bench Int',
    key_type: 'ec-p256',
    sign_with_root: true,
    ttl: 180 * 86_400,
  });
  await pki.putRole('bench', ROLE);
  await pki.issue('bench', { common_name: 'warm.bench.internal' });
}

export async function benchPki(options: { count?: number; concurrency?: number } = {}): Promise<PkiBenchResult> {
  const count = options.count ?? 500;
  const concurrency = options.concurrency ?? 4;

  const caKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as {
    privateKey: webcrypto.CryptoKey;
  };
  const tbs = new Uint8Array(600).fill(1);
  const baseline = await measure(count, concurrency, async () => {
    await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, caKeys.privateKey, tbs);
  });

  const engine = await (async () => {
    const store = new MemoryStore();
    const keyProvider = new FakeKeyProvider();
    const clock = { now: () => Date.now() };
    const pki = new PkiService({
      store,
      keyProvider,
      caKeys: new SealedCaKeyStore({ store, keyProvider, clock }),
      clock,
      publicUrl: 'http://127.0.0.1:8270',
    });
    await prepareIssuer(pki);
    return measure(count, concurrency, async (i) => {
      await pki.issue('bench', { common_name: `m${i}.bench.internal`, ttl: 3600 });
    });
  })();

  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-pki-'));
  try {
    const config = loadLocalConfig({}, { dataDir: path.join(dir, 'inproc') });
    await initialise(config);
    const node = await openLocalNode(config);
    let inProcess: PkiRate;
    let durableWrite: PkiRate;
    try {
      // The size of a certificate record: a ~900-byte PEM and the index fields.
      const filler = 'x'.repeat(900);
      durableWrite = await measure(count, concurrency, async (i) => {
        await node.store.transact([
          { type: 'put', pk: 'bench#write', sk: `w${i}`, data: { certificate: filler }, condition: { kind: 'absent' } },
        ]);
      });
      const pki = node.deps.pki!;
      await prepareIssuer(pki);
      inProcess = await measure(count, concurrency, async (i) => {
        await pki.issue('bench', { common_name: `h${i}.bench.internal`, ttl: 3600 });
      });
    } finally {
      await node.close();
    }

    const server = await startServer(path.join(dir, 'http'));
    let http: PkiRate;
    try {
      const call = (method: string, url: string, body?: unknown) =>
        api(server.address, server.rootToken, method, url, body);
      await call('POST', '/v1/pki/root/generate', { common_name: 'Bench Root' });
      await call('POST', '/v1/pki/intermediate/generate', { common_name: 'Bench Int', sign_with_root: true });
      await call('PUT', '/v1/pki/roles/bench', ROLE);
      http = await measure(count, concurrency, async (i) => {
        const res = await call('POST', '/v1/pki/issue/bench', { common_name: `h${i}.bench.internal`, ttl: '1h' });
        if (res.status !== 200) throw new Error(`issue failed: HTTP ${res.status}`);
      });
    } finally {
      await server.stop();
    }
    return { baseline, engine, durableWrite, inProcess, http };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flag = process.argv.find((a) => a.startsWith('--concurrency='));
  const concurrency = flag === undefined ? 4 : Number(flag.slice('--concurrency='.length));
  const result = await benchPki({ concurrency });
  console.log(`concurrency ${concurrency}`);
  const row = (name: string, r: PkiRate) =>
    `${name.padEnd(34)} ${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
    `(${(r.perSecond / result.baseline.perSecond).toFixed(2)}× baseline)`;
  console.log(row('baseline WebCrypto keygen+sign', result.baseline));
  console.log(row('PkiService.issue (memory store)', result.engine));
  console.log(row('durable store write alone', result.durableWrite));
  console.log(row('PkiService.issue (in process)', result.inProcess));
  console.log(row('POST /v1/pki/issue (HTTP)', result.http));
}
