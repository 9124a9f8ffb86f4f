/**
 * Scale of the local store: GET and list-page latency, memory, start time and data-dir size at 1,000 secrets (the
 * baseline) and at 100,000 secrets with 1,000,000 versions, in the same run. The issue's goal: GET p99 and list-page
 * p99 at the large size within 1.5× of the 1,000-secret figures, memory growth stated.
 *
 * Each data dir is built in process through the real local node (`openLocalNode`: `SecretService` over the SQLite
 * store, the file keyring, envelope sealing, the creation-order index), so it holds what the server writes: sealed
 * versions, metadata records, indexes. No audit records are written for the load (it bypasses the broker); the
 * audit file is not read by any measured request. Then the real server (`coffer server`, compiled `dist/`) is
 * started on each dir, and both serve in turn, round after round, so a figure and its baseline see the same machine.
 *
 * Before the servers start, each store file is read once end to end, so both sizes are measured with their pages in
 * the OS page cache, as on a server that has run a while; each measure also prints the KiB per request the server
 * still read from storage, so a cold page shows rather than hides in the latency.
 *
 * Requests are an open loop at a fixed rate (bench/open-loop.ts): GET of a random secret's current value; the native
 * folder listing (`GET /v1/secret/list/scale/`) first page and deep pages (a random cursor from the second half of
 * the listing); Secrets Manager ListSecrets first page and deep pages (NextToken).
 *
 * `--scale small` (or SCALE=small) runs 1,000 vs 10,000 secrets while iterating. SCALE_DATA_ROOT=<dir> keeps the
 * built data dirs there and reuses them on the next run (building 1,000,000 versions takes minutes).
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../lambdas/adapters/local/store/sqlite-store.ts';
import { versionPartition } from '../lambdas/core/secrets/secret-types.ts';
import { initialise, openLocalNode } from '../lambdas/entrypoints/local/compose.ts';
import { dataPaths, loadLocalConfig } from '../lambdas/entrypoints/local/config.ts';
import { api, COFFER_BIN } from '../test/support/server-process.ts';
import { spawnListening } from './measure.ts';
import { type LatencySummary, type OpenLoopRequest, openLoop } from './open-loop.ts';

const SMALL = process.argv.includes('--scale=small') || process.env.SCALE === 'small' || smallFlag();
const VERSIONS = 10;
const SIZES = SMALL ? ([1_000, 10_000] as const) : ([1_000, 100_000] as const);
const VALUE_BYTES = 1024;
const PAGE = 100;
const ROUNDS = Number(process.env.SCALE_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.SCALE_DURATION_MS ?? 3_000);
const GET_RATE = Number(process.env.SCALE_GET_RATE ?? 200);
const LIST_RATE = Number(process.env.SCALE_LIST_RATE ?? 50);
/** Workers loading in parallel: enough that group commit shares each fsync among many writes. */
const LOAD_CONCURRENCY = 128;

function smallFlag(): boolean {
  const at = process.argv.indexOf('--scale');
  return at >= 0 && process.argv[at + 1] === 'small';
}

const nameOf = (i: number) => `scale/s-${String(i).padStart(6, '0')}`;

/** Builds (or reuses) a data dir of `secrets` secrets with VERSIONS versions each; seconds it took, 0 if reused. */
async function buildDataDir(dir: string, secrets: number): Promise<number> {
  const done = path.join(dir, 'scale-complete');
  if (existsSync(done)) return 0;
  rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  // Unlimited write rate: the load writes each secret VERSIONS times in a row.
  const config = loadLocalConfig({}, { dataDir: dir, secretWriteRate: 0 });
  await initialise(config);
  const node = await openLocalNode(config);
  try {
    const home = node.deps.regionalSecrets.home;
    // On an empty store this only writes the marker; new secrets then index themselves as the server's would.
    await home.indexCreationOrder();
    const value = (i: number, v: number) => ({
      kind: 'string' as const,
      string: `${i}:${v}:`.padEnd(VALUE_BYTES, 'x'),
    });
    let next = 0;
    let reported = 0;
    await Promise.all(
      Array.from({ length: LOAD_CONCURRENCY }, async () => {
        while (next < secrets) {
          const i = next++;
          await home.create({ name: nameOf(i), value: value(i, 0) });
          for (let v = 1; v < VERSIONS; v++) await home.put({ secretId: nameOf(i), value: value(i, v) });
          if (i - reported >= 10_000) {
            reported = i;
            process.stderr.write(`  loaded ${i} secrets (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
          }
        }
      }),
    );
  } finally {
    await node.close();
  }
  // Written last: a build interrupted part-way is never reused.
  writeFileSync(done, `${secrets}\n`);
  return (performance.now() - started) / 1000;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(full) : statSync(full).size;
  }
  return total;
}

/** The resident set in MiB: all of it, the process's own memory (heap, stacks), and file pages mapped in. */
/** CPU time the process has used, in ms (user + system, from /proc: the server is another process). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command; in clock ticks (100 per second).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Bytes the process has had read from storage (not from the OS page cache), from /proc. */
function storageReadBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^read_bytes: (\d+)$/m.exec(io)![1]);
}

/**
 * Reads a file once, start to end, so its pages are in the OS page cache: the state of a server that has run a while,
 * whatever its size. Without it the large store's first reads of each page come from the disk while the small one
 * was cached by its build, and the comparison measures a cold cache against a warm one.
 */
function warmPageCache(file: string): void {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

function rssMiB(pid: number): { total: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { total: mib('VmRSS'), anon: mib('RssAnon'), file: mib('RssFile') };
}

interface Served {
  readonly secrets: number;
  readonly address: string;
  readonly pid: number;
  readonly token: string;
  readonly startMs: number;
  readonly dataBytes: number;
  readonly listCursors: string[];
  readonly smTokens: string[];
  readonly stop: () => Promise<void>;
}

const SM_HEADERS = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.ListSecrets' };

async function serve(dir: string, secrets: number): Promise<Served> {
  const dataBytes = dirBytes(dir);
  const t0 = performance.now();
  const server = await spawnListening([COFFER_BIN, 'server', '--data-dir', dir, '--port', '0'], { COFFER_TOKEN: '' });
  const startMs = performance.now() - t0;
  const token = readFileSync(dataPaths(dir).rootToken, 'utf8').trim();
  // Every page's cursor, walked once: the deep pages measured are the second half of them.
  const listCursors: string[] = [];
  let cursor: string | undefined;
  do {
    const query = `limit=${PAGE}${cursor === undefined ? '' : `&cursor=${cursor}`}`;
    const res = await api(server.address, token, 'GET', `/v1/secret/list/scale/?${query}`);
    if (res.status !== 200) throw new Error(`list answered ${res.status}`);
    cursor = res.body.nextCursor as string | undefined;
    if (cursor !== undefined) listCursors.push(cursor);
  } while (cursor !== undefined);
  const smTokens: string[] = [];
  let nextToken: string | undefined;
  do {
    const res = await fetch(`${server.address}/`, {
      method: 'POST',
      headers: { ...SM_HEADERS, 'x-coffer-token': token },
      body: JSON.stringify({ MaxResults: PAGE, ...(nextToken === undefined ? {} : { NextToken: nextToken }) }),
    });
    if (res.status !== 200) throw new Error(`ListSecrets answered ${res.status}`);
    nextToken = ((await res.json()) as { NextToken?: string }).NextToken;
    if (nextToken !== undefined) smTokens.push(nextToken);
  } while (nextToken !== undefined);
  return {
    secrets,
    address: server.address,
    pid: server.child.pid!,
    token,
    startMs,
    dataBytes,
    listCursors,
    smTokens,
    stop: server.stop,
  };
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const deep = <T>(items: readonly T[]): readonly T[] => items.slice(Math.floor(items.length / 2));

type Measure = 'get' | 'listFirst' | 'listDeep' | 'smFirst' | 'smDeep';

const MEASURES: Record<Measure, { label: string; rate: number; next: (s: Served) => () => OpenLoopRequest }> = {
  get: {
    label: 'GET random secret (1 KiB)',
    rate: GET_RATE,
    next: (s) => () => ({ path: `/v1/secret/data/${nameOf(Math.floor(Math.random() * s.secrets))}` }),
  },
  listFirst: {
    label: `list scale/ first page (${PAGE})`,
    rate: LIST_RATE,
    next: () => () => ({ path: `/v1/secret/list/scale/?limit=${PAGE}` }),
  },
  listDeep: {
    label: `list scale/ deep page (${PAGE})`,
    rate: LIST_RATE,
    next: (s) => () => ({ path: `/v1/secret/list/scale/?limit=${PAGE}&cursor=${pick(deep(s.listCursors))}` }),
  },
  smFirst: {
    label: `SM ListSecrets first page (${PAGE})`,
    rate: LIST_RATE,
    next: () => () => ({ path: '/', method: 'POST', headers: SM_HEADERS, body: JSON.stringify({ MaxResults: PAGE }) }),
  },
  smDeep: {
    label: `SM ListSecrets deep page (${PAGE})`,
    rate: LIST_RATE,
    next: (s) => () => ({
      path: '/',
      method: 'POST',
      headers: SM_HEADERS,
      body: JSON.stringify({ MaxResults: PAGE, NextToken: pick(deep(s.smTokens)) }),
    }),
  },
};

const MEASURE_KEYS = Object.keys(MEASURES) as Measure[];

/** An open loop's latencies, and the server's CPU per request over it (which a busy machine colours far less). */
interface Run extends LatencySummary {
  readonly cpuMsPerRequest: number;
  /** KiB per request read from storage rather than the OS page cache: what a cold page costs shows here. */
  readonly diskKiBPerRequest: number;
}

async function run(s: Served, measure: Measure, durationMs: number): Promise<Run> {
  const m = MEASURES[measure];
  const cpuBefore = cpuMs(s.pid);
  const readBefore = storageReadBytes(s.pid);
  const summary = await openLoop({
    url: s.address,
    rate: m.rate,
    durationMs,
    headers: { 'x-coffer-token': s.token },
    next: m.next(s),
  });
  const sent = Math.max(1, summary.sent);
  return {
    ...summary,
    cpuMsPerRequest: (cpuMs(s.pid) - cpuBefore) / sent,
    diskKiBPerRequest: (storageReadBytes(s.pid) - readBefore) / 1024 / sent,
  };
}

interface StoreCosts {
  readonly 'get a secret record': number;
  readonly 'get a version record': number;
  readonly 'query a page of 100 secrets': number;
}

/** CPU per call of the real SqliteStore on a built data dir: random secrets, random versions, random pages. */
async function storeCosts(dir: string, secrets: number): Promise<StoreCosts> {
  const store = SqliteStore.open({ path: dataPaths(dir).database });
  try {
    const name = () => nameOf(Math.floor(Math.random() * secrets));
    const versions: [string, string][] = [];
    for (let i = 0; i < 1_000; i++) {
      const record = (await store.get<{ arn: string; versions: { versionId: string }[] }>('secrets', name()))!.data;
      versions.push([versionPartition(record.arn), pick(record.versions).versionId]);
    }
    const cpu = async (calls: number, fn: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < calls / 10; i++) await fn(i);
      const before = process.cpuUsage();
      for (let i = 0; i < calls; i++) await fn(i);
      const used = process.cpuUsage(before);
      return (used.user + used.system) / calls;
    };
    return {
      'get a secret record': await cpu(20_000, () => store.get('secrets', name())),
      'get a version record': await cpu(20_000, (i) => store.get(...versions[i % versions.length]!)),
      'query a page of 100 secrets': await cpu(1_000, () =>
        store.query('secrets', { startAfter: name(), limit: PAGE }),
      ),
    };
  } finally {
    await store.close();
  }
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const root = process.env.SCALE_DATA_ROOT ?? mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-scale-'));
const keep = process.env.SCALE_DATA_ROOT !== undefined;
mkdirSync(root, { recursive: true });
console.log(
  `sizes: ${SIZES.map((n) => `${n.toLocaleString('en')} secrets × ${VERSIONS} versions`).join(' vs ')}; ${VALUE_BYTES} B values; ` +
    `${ROUNDS} interleaved rounds of ${DURATION_MS} ms per measure; GET at ${GET_RATE}/s, lists at ${LIST_RATE}/s`,
);
const served: Served[] = [];
try {
  for (const secrets of SIZES) {
    const dir = path.join(root, `s${secrets}-v${VERSIONS}`);
    const took = await buildDataDir(dir, secrets);
    console.log(`built ${dir}: ${took === 0 ? 'reused' : `${fmt(took, 1)} s`}`);
  }
  for (const secrets of SIZES) warmPageCache(dataPaths(path.join(root, `s${secrets}-v${VERSIONS}`)).database);
  for (const secrets of SIZES) served.push(await serve(path.join(root, `s${secrets}-v${VERSIONS}`), secrets));

  // Warm-up: JIT, sockets, SQLite's and the OS's caches, on every shape; then the resident set of each server.
  for (const s of served) for (const m of MEASURE_KEYS) await run(s, m, 1_000);
  const rss = served.map((s) => rssMiB(s.pid));

  const results = served.map(
    () => Object.fromEntries(MEASURE_KEYS.map((m) => [m, []])) as unknown as Record<Measure, Run[]>,
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of MEASURE_KEYS) {
      for (let i = 0; i < served.length; i++) {
        const r = await run(served[i]!, m, DURATION_MS);
        results[i]![m].push(r);
      }
    }
  }
  const rssAfter = served.map((s) => rssMiB(s.pid));

  const [base, big] = [0, 1] as const;
  console.log(
    `\n${'measure (p99 ms, median of rounds)'.padEnd(40)} ${`${SIZES[base].toLocaleString('en')}`.padStart(10)} ${`${SIZES[big].toLocaleString('en')}`.padStart(10)}   ratio  (goal <= 1.5)`,
  );
  for (const m of MEASURE_KEYS) {
    const p99 = results.map((r) => median(r[m].map((x) => x.p99)));
    const p50 = results.map((r) => median(r[m].map((x) => x.p50)));
    const failed = results.map((r) => r[m].reduce((n, x) => n + x.failed, 0));
    const cpu = results.map((r) => median(r[m].map((x) => x.cpuMsPerRequest)));
    const disk = results.map((r) => median(r[m].map((x) => x.diskKiBPerRequest)));
    const ratio = p99[big]! / p99[base]!;
    console.log(
      `${MEASURES[m].label.padEnd(40)} ${fmt(p99[base]!, 2).padStart(10)} ${fmt(p99[big]!, 2).padStart(10)}   ${fmt(ratio, 2).padStart(5)}  ${ratio <= 1.5 ? 'met' : 'NOT met'}` +
        `   (p50 ${fmt(p50[base]!, 2)} / ${fmt(p50[big]!, 2)}; server CPU ${fmt(cpu[base]!, 2)} / ${fmt(cpu[big]!, 2)} ms/req, ×${fmt(cpu[big]! / cpu[base]!, 2)}; disk ${fmt(disk[base]!, 1)} / ${fmt(disk[big]!, 1)} KiB/req)${failed.some((f) => f > 0) ? `   failed ${failed.join('/')}` : ''}`,
    );
  }
  console.log('');
  const mem = (r: { total: number; anon: number; file: number }) =>
    `${fmt(r.total, 1)} MiB (own ${fmt(r.anon, 1)}, file ${fmt(r.file, 1)})`;
  for (let i = 0; i < served.length; i++) {
    const s = served[i]!;
    console.log(
      `${`${s.secrets.toLocaleString('en')} secrets`.padEnd(16)} start ${fmt(s.startMs).padStart(5)} ms   RSS after warm-up ${mem(rss[i]!)}, after rounds ${mem(rssAfter[i]!)}   data dir ${fmt(s.dataBytes / 2 ** 20, 1)} MiB`,
    );
  }
  console.log(
    `growth ×${SIZES[big] / SIZES[base]} secrets: start ×${fmt(served[big]!.startMs / served[base]!.startMs, 2)}, RSS +${fmt(rss[big]!.total - rss[base]!.total, 1)} MiB (own +${fmt(rss[big]!.anon - rss[base]!.anon, 1)} MiB), data dir ×${fmt(served[big]!.dataBytes / served[base]!.dataBytes, 1)}`,
  );

  // The store alone, in process, beside the server: CPU time per call, which a busy machine colours far less than
  // latency does.
  console.log(
    `\n${'store, in process (CPU µs per call)'.padEnd(40)} ${SIZES.map((n) => n.toLocaleString('en').padStart(10)).join(' ')}   ratio`,
  );
  // One after the other: process.cpuUsage counts the whole process.
  const store: StoreCosts[] = [];
  for (const n of SIZES) store.push(await storeCosts(path.join(root, `s${n}-v${VERSIONS}`), n));
  for (const key of Object.keys(store[0]!) as (keyof StoreCosts)[]) {
    console.log(
      `${key.padEnd(40)} ${store.map((c) => fmt(c[key], 1).padStart(10)).join(' ')}   ${fmt(store[big]![key] / store[base]![key], 2).padStart(5)}`,
    );
  }
} finally {
  for (const s of served) await s.stop();
  if (!keep) rmSync(root, { recursive: true, force: true });
}
