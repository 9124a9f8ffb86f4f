/**
 * Measures the broker Lambda bundle: its zipped size, and its cold initialisation (importing the bundle, which parses
 * the configuration, builds the SDK clients and composes the broker) against a baseline of starting Node on an empty
 * module. The bundle is built with the very options CDK uses (`lib/broker-bundling.ts`).
 *
 * `node --import tsx bench/lambda-bundle.ts` prints the figures as JSON; `bench/run.ts` can call
 * {@link measureLambdaBundle}.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
import { brokerEsbuildOptions } from '../lib/broker-bundling.ts';

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface LambdaBundleMeasurement {
  /** Size of the deployment zip (bundle and source map, deflated), in bytes. */
  zippedBytes: number;
  /** The zip without the source map (`index.mjs` alone), in bytes. */
  zippedCodeBytes: number;
  /** The unzipped bundle (`index.mjs`), in bytes. */
  bundleBytes: number;
  /** Wall time of a `node` process that imports the bundle and exits, in ms. */
  coldInitMs: Percentiles;
  /** Wall time of a `node` process that imports an empty module and exits, in ms. */
  baselineInitMs: Percentiles;
  /** Time spent inside the process importing the bundle (what Lambda's init phase adds to Node's own start), in ms. */
  importMs: Percentiles;
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

/** Imports the module named by argv[2] and prints how long the import took. */
const IMPORT_TIMER = `const t0 = performance.now();
await import(process.argv[2]);
process.stdout.write(String(performance.now() - t0));
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

/** Runs `node <timer> <module>` once: the process wall time and the import time it reports. */
function timeImport(
  timer: string,
  module: string,
  env: NodeJS.ProcessEnv,
): Promise<{ wallMs: number; importMs: number }> {
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
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0)
        reject(new Error(`importing ${path.basename(module)} failed (exit ${code}): ${err.slice(0, 500)}`));
      else resolve({ wallMs, importMs: Number(out) });
    });
  });
}

/**
 * Bundles the broker as CDK does, zips it, and times `runs` cold starts of the bundle and of an empty module,
 * alternating so that machine noise hits both alike.
 *
 * @example
 * const { zippedBytes, coldInitMs } = await measureLambdaBundle({ runs: 20 });
 */
export async function measureLambdaBundle(options: { runs?: number } = {}): Promise<LambdaBundleMeasurement> {
  const runs = Math.max(1, options.runs ?? 15);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bundle-'));
  try {
    const bundle = path.join(dir, 'index.mjs');
    await build(brokerEsbuildOptions(bundle));
    const code = readFileSync(bundle);
    const archive = zip([
      { name: 'index.mjs', data: code },
      { name: 'index.mjs.map', data: readFileSync(`${bundle}.map`) },
    ]);
    const timer = path.join(dir, 'timer.mjs');
    const empty = path.join(dir, 'empty.mjs');
    writeFileSync(timer, IMPORT_TIMER);
    writeFileSync(empty, 'export {};\n');

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...FAKE_ENV };
    const bundleWall: number[] = [];
    const bundleImport: number[] = [];
    const baselineWall: number[] = [];
    for (let i = 0; i < runs; i++) {
      const cold = await timeImport(timer, bundle, env);
      bundleWall.push(cold.wallMs);
      bundleImport.push(cold.importMs);
      baselineWall.push((await timeImport(timer, empty, env)).wallMs);
    }
    return {
      zippedBytes: archive.length,
      zippedCodeBytes: zip([{ name: 'index.mjs', data: code }]).length,
      bundleBytes: code.length,
      coldInitMs: percentiles(bundleWall),
      baselineInitMs: percentiles(baselineWall),
      importMs: percentiles(bundleImport),
      runs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.env.BENCH_LAMBDA_RUNS ?? 15);
  console.log(JSON.stringify(await measureLambdaBundle({ runs }), null, 2));
}
