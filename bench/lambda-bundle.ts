/**
 * Measures the broker Lambda bundle: its zipped size, and its cold initialisation (importing the bundle, which parses
 * the configuration, builds the SDK clients and composes the broker) against a baseline of starting Node on an empty
 * module. The bundle is built with the very options CDK uses (`lib/broker-bundling.ts`), split into `index.mjs` and
 * chunks as deployed.
 *
 * Besides wall time, each cold start reports the CPU time its import took: on a shared machine a process waits for a
 * core for longer than it computes, and the CPU figure moves far less from run to run than the wall figure.
 *
 * With `BENCH_LAMBDA_FIRST_GET=1` it also times the common cold start end to end: a fresh process imports the bundle
 * and answers its first request, a GET of a secret, against an AWS emulator (moto, see `localstack/`).
 *
 * `node --import tsx bench/lambda-bundle.ts` prints the figures as JSON; `bench/run.ts` can call
 * {@link measureLambdaBundle}.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { build } from 'esbuild';
import type { ApiGatewayProxyEvent } from '../lambdas/entrypoints/lambda/api-gateway.ts';
import { BROKER_ENTRY, brokerSplitEsbuildOptions } from '../lib/broker-bundling.ts';
// @ts-expect-error -- plain ESM script shared with users (localstack/start-emulator.mjs); no type declarations.
import { startEmulator } from '../localstack/start-emulator.mjs';
import { apiGatewayEvent } from '../test/support/api-gateway-event.ts';
import { createItemsTable } from '../test/support/aws-emulator.ts';

export interface BundleBenchOptions {
  /** Cold starts to time. */
  runs?: number;
  /**
   * A bundle built beforehand (its chunks and `.map` files beside it, alone in their directory), e.g. from another
   * commit to compare with in one run.
   * @default the broker built from this tree with CDK's options
   */
  bundle?: string;
}

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface LambdaBundleMeasurement {
  /** Size of the deployment zip (`index.mjs`, its chunks and their source maps, deflated), in bytes. */
  zippedBytes: number;
  /** The zip without the source maps, in bytes. */
  zippedCodeBytes: number;
  /** The unzipped entry module (`index.mjs`), in bytes. */
  bundleBytes: number;
  /** The chunks beside it (code split off for `import()`, and code both share), unzipped, in bytes. */
  chunkBytes: number;
  /** Wall time of a `node` process that imports the bundle and exits, in ms. */
  coldInitMs: Percentiles;
  /** Wall time of a `node` process that imports an empty module and exits, in ms. */
  baselineInitMs: Percentiles;
  /** Time spent inside the process importing the bundle (what Lambda's init phase adds to Node's own start), in ms. */
  importMs: Percentiles;
  /** CPU time (user + system, all threads) of that import, in ms: the steadier figure on a shared machine. */
  importCpuMs: Percentiles;
  runs: number;
}

/** Settings that let the handler compose offline: constructing the SDK clients makes no call. */
const FAKE_ENV: Record<string, string> = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  COFFER_AUDIT_BUCKET: 'coffer-audit',
  // Inline, so no Secrets Manager call at start; a deployment reads it from a secret (one network round trip).
  COFFER_AUDIT_SALT: Buffer.alloc(32, 7).toString('base64'),
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
  AWS_SECRET_ACCESS_KEY: 'benchmark',
  POWERTOOLS_SERVICE_NAME: 'coffer',
};

/** Imports the module named by argv[2] and prints how long the import took, in wall time and in CPU time. */
const IMPORT_TIMER = `const c0 = process.cpuUsage();
const t0 = performance.now();
await import(process.argv[2]);
const cpu = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ importMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 }));
`;

/**
 * Imports the bundle named by argv[2], then hands its handler the API Gateway event in COFFER_BENCH_EVENT: a cold
 * start and its first request. Prints one marked line (the broker's own logs share stdout).
 */
const FIRST_REQUEST_TIMER = `const c0 = process.cpuUsage();
const t0 = performance.now();
const { handler } = await import(process.argv[2]);
const t1 = performance.now();
const result = await handler(JSON.parse(process.env.COFFER_BENCH_EVENT));
const t2 = performance.now();
const cpu = process.cpuUsage(c0);
if (result.statusCode !== 200) {
  process.stderr.write('first request answered ' + result.statusCode + ': ' + result.body.slice(0, 300));
  process.exit(1);
}
process.stdout.write('\\nCOFFER_BENCH ' + JSON.stringify({ importMs: t1 - t0, requestMs: t2 - t1, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\\n');
`;

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)]! * 10) / 10;
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** A minimal ZIP (deflate) writer: enough to measure exactly what Lambda would receive. */
export function zip(files: readonly { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name, 'utf8');
    const compressed = deflateRawSync(file.data, { level: 9 });
    const crc = crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0, 10); // time and date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(file.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(file.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The files of the deployment zip: `index.mjs`, the chunks beside it and their source maps. */
function bundleFiles(bundle: string): { name: string; data: Buffer }[] {
  const dir = path.dirname(bundle);
  return readdirSync(dir)
    .filter((name) => /\.mjs(\.map)?$/.test(name))
    .sort()
    .map((name) => ({ name, data: readFileSync(path.join(dir, name)) }));
}

/** Runs `node <timer> <module>` once in a fresh process: its exit code, output and wall time. */
function runTimer(
  timer: string,
  module: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [timer, pathToFileURL(module).href], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, wallMs: performance.now() - started }));
  });
}

/** Runs `node <timer> <module>` once: the process wall time and the import time it reports. */
async function timeImport(
  timer: string,
  module: string,
  env: NodeJS.ProcessEnv,
): Promise<{ wallMs: number; importMs: number; cpuMs: number }> {
  const { code, out, err, wallMs } = await runTimer(timer, module, env);
  if (code !== 0) throw new Error(`importing ${path.basename(module)} failed (exit ${code}): ${err.slice(0, 500)}`);
  return { wallMs, ...JSON.parse(out) };
}

/**
 * Bundles the broker as CDK does, zips it, and times `runs` cold starts of the bundle and of an empty module,
 * alternating so that machine noise hits both alike.
 *
 * @example
 * const { zippedBytes, coldInitMs } = await measureLambdaBundle({ runs: 20 });
 */
export async function measureLambdaBundle(options: BundleBenchOptions = {}): Promise<LambdaBundleMeasurement> {
  const runs = Math.max(1, options.runs ?? 15);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bundle-'));
  try {
    const bundle = options.bundle ?? path.join(dir, 'out', 'index.mjs');
    if (options.bundle === undefined)
      await build(brokerSplitEsbuildOptions(BROKER_ENTRY, path.dirname(bundle), { sourceMaps: false }));
    const code = readFileSync(bundle);
    const files = bundleFiles(bundle);
    const archive = zip(files);
    const timer = path.join(dir, 'timer.mjs');
    const empty = path.join(dir, 'empty.mjs');
    writeFileSync(timer, IMPORT_TIMER);
    writeFileSync(empty, 'export {};\n');

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...FAKE_ENV };
    const bundleWall: number[] = [];
    const bundleImport: number[] = [];
    const bundleCpu: number[] = [];
    const baselineWall: number[] = [];
    for (let i = 0; i < runs; i++) {
      const cold = await timeImport(timer, bundle, env);
      bundleWall.push(cold.wallMs);
      bundleImport.push(cold.importMs);
      bundleCpu.push(cold.cpuMs);
      baselineWall.push((await timeImport(timer, empty, env)).wallMs);
    }
    return {
      zippedBytes: archive.length,
      zippedCodeBytes: zip(files.filter((file) => !file.name.endsWith('.map'))).length,
      bundleBytes: code.length,
      chunkBytes: files
        .filter((file) => file.name !== 'index.mjs' && !file.name.endsWith('.map'))
        .reduce((n, f) => n + f.data.length, 0),
      coldInitMs: percentiles(bundleWall),
      baselineInitMs: percentiles(baselineWall),
      importMs: percentiles(bundleImport),
      importCpuMs: percentiles(bundleCpu),
      runs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface FirstGetMeasurement {
  /** Import of the bundle in a fresh process, as in {@link LambdaBundleMeasurement.importMs}, in ms. */
  importMs: Percentiles;
  /** The first request that process answers: a GET of a 1 KiB secret (DynamoDB and KMS on the emulator), in ms. */
  firstRequestMs: Percentiles;
  /** Import and first request together: what the first caller of a new instance waits for beyond Node's start. */
  totalMs: Percentiles;
  /** CPU time of import and first request together, in ms. */
  totalCpuMs: Percentiles;
  runs: number;
}

const BENCH_ADMIN_ROLE = 'arn:aws:iam::123456789012:role/coffer-bench-admin';
const BENCH_ADMIN_SESSION = 'arn:aws:sts::123456789012:assumed-role/coffer-bench-admin/bench';

/** The API Gateway proxy event of a call by the bench's admin session. */
function adminEvent(method: string, path: string, body?: unknown): ApiGatewayProxyEvent {
  return apiGatewayEvent(method, path, body, { userArn: BENCH_ADMIN_SESSION });
}

/** Runs the bundle in a fresh process for one request; resolves with what {@link FIRST_REQUEST_TIMER} reports. */
async function timeFirstRequest(
  timer: string,
  bundle: string,
  env: NodeJS.ProcessEnv,
  event: ApiGatewayProxyEvent,
): Promise<{ importMs: number; requestMs: number; cpuMs: number }> {
  const { code, out, err } = await runTimer(timer, bundle, { ...env, COFFER_BENCH_EVENT: JSON.stringify(event) });
  const line = out.split('\n').find((l) => l.startsWith('COFFER_BENCH '));
  if (code !== 0 || line === undefined) throw new Error(`first request failed (exit ${code}): ${err.slice(0, 500)}`);
  return JSON.parse(line.slice('COFFER_BENCH '.length));
}

/**
 * The cold start a secret read pays: `runs` fresh processes each import the bundle and answer one GET of a 1 KiB
 * secret, against a DynamoDB table and KMS key on an AWS emulator (moto, started unless one is running; see
 * `localstack/README.md`). The secret is written first by another process, so every measured one starts cold.
 *
 * @example
 * const { totalMs } = await measureColdFirstGet({ runs: 10 });
 */
export async function measureColdFirstGet(options: BundleBenchOptions = {}): Promise<FirstGetMeasurement> {
  const runs = Math.max(1, options.runs ?? 10);
  const emulator = (await startEmulator()) as { endpoint: string; stop(): Promise<void> };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-first-get-'));
  try {
    const bundle = options.bundle ?? path.join(dir, 'out', 'index.mjs');
    if (options.bundle === undefined)
      await build(brokerSplitEsbuildOptions(BROKER_ENTRY, path.dirname(bundle), { sourceMaps: false }));
    const timer = path.join(dir, 'first-request.mjs');
    writeFileSync(timer, FIRST_REQUEST_TIMER);

    const client = { endpoint: emulator.endpoint, region: 'us-east-1', credentials: EMULATOR_CREDENTIALS };
    const tableName = `coffer-bench-${Date.now().toString(36)}`;
    const dynamodb = new DynamoDBClient(client);
    await createItemsTable(dynamodb, tableName);
    const key = await new KMSClient(client).send(new CreateKeyCommand({ Description: 'coffer bench' }));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...FAKE_ENV,
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      COFFER_TABLE_NAME: tableName,
      COFFER_ENVELOPE_KEY_ARN: key.KeyMetadata!.Arn!,
      COFFER_BOOTSTRAP_ADMIN_ARNS: BENCH_ADMIN_ROLE,
    };
    const secretPath = '/v1/secret/data/bench/first-get';
    await timeFirstRequest(timer, bundle, env, adminEvent('PUT', secretPath, { value: 'x'.repeat(1024) }));

    const imports: number[] = [];
    const requests: number[] = [];
    const totals: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const cold = await timeFirstRequest(timer, bundle, env, adminEvent('GET', secretPath));
      imports.push(cold.importMs);
      requests.push(cold.requestMs);
      totals.push(cold.importMs + cold.requestMs);
      cpu.push(cold.cpuMs);
    }
    return {
      importMs: percentiles(imports),
      firstRequestMs: percentiles(requests),
      totalMs: percentiles(totals),
      totalCpuMs: percentiles(cpu),
      runs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await emulator.stop();
  }
}

/** Dummy credentials: the clients reach only the emulator's explicit endpoint. */
const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_LAMBDA_RUNS ?? 15);
  console.log(JSON.stringify(await measureLambdaBundle({ runs }), null, 2));
  if (process.env.BENCH_LAMBDA_FIRST_GET === '1') {
    console.log(JSON.stringify({ coldFirstGet: await measureColdFirstGet({ runs }) }, null, 2));
  }
}
