/**
 * TLS benchmark (issue 12): what serving over TLS 1.3 costs, each figure beside the same request over plain HTTP in
 * the same run, because absolute numbers on a shared 2-core machine mean little. Two real servers on one machine:
 * `coffer server --dev-tls` (CA and server certificate from the PKI engine, TLS 1.3 only) and a plain one.
 *
 * - `handshake`: `GET /v1/sys/health` with a new connection per request: TCP (+ TLS 1.3 handshake) + one small answer.
 *   The difference between the two is the handshake's cost (ECDHE, certificate chain, verification by the client).
 * - `get`: an authenticated, policy-checked, audited `GET` of a 1 KiB secret on kept-alive connections: what TLS costs
 *   a steady client once its connections are open (record encryption only).
 *
 * Run alone with `node --import tsx bench/tls.ts` (after `npm run build`); `bench/run.ts` runs it as a suite.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { COFFER_BIN } from '../test/support/server-process.ts';
import { interleaved, measure, type Rate } from './measure.ts';

export interface TlsBenchResult {
  readonly handshake: { readonly plain: Rate; readonly tls: Rate };
  readonly get: { readonly plain: Rate; readonly tls: Rate };
}

interface Server {
  readonly child: ChildProcess;
  readonly address: string;
  readonly rootToken: string;
  /** The dev CA's path, for the TLS server. */
  readonly ca?: string;
}

/** `coffer server` on a free loopback port, resolved once it prints where it listens. */
async function startCoffer(dataDir: string, args: string[]): Promise<Server> {
  const child = spawn(process.execPath, [COFFER_BIN, 'server', '--data-dir', dataDir, '--port', '0', ...args], {
    env: { ...process.env, COFFER_TOKEN: '', COFFER_PASSPHRASE: '', COFFER_TLS_CERT: '', COFFER_TLS_KEY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (https?:\/\/[\d.]+:\d+)/.exec(out);
      if (match === null) return;
      clearInterval(timer);
      resolve(match[1]!);
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`coffer server exited ${code}: ${out}`));
    });
  });
  const ca = /export COFFER_CACERT=(\S+)/.exec(out)?.[1];
  const rootToken = readFileSync(path.join(dataDir, 'root-token'), 'utf8').trim();
  return { child, address, rootToken, ...(ca !== undefined && { ca }) };
}

function stop(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (server === undefined || server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

/** One request with node's client; `agent` decides whether the connection is new or kept alive. */
function request(
  url: URL,
  options: { agent: http.Agent; headers?: Record<string, string>; ca?: Buffer },
  body?: string,
): Promise<void> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: body === undefined ? 'GET' : 'PUT',
        agent: options.agent,
        headers: { ...options.headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(options.ca !== undefined && { ca: options.ca, servername: 'localhost' }),
      },
      (res) => {
        res.resume();
        res.once('end', () =>
          res.statusCode !== undefined && res.statusCode < 300
            ? resolve()
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

const CONCURRENCY = 8;

export async function benchTls(options: { count?: number; concurrency?: number } = {}): Promise<TlsBenchResult> {
  const count = options.count ?? 1200;
  const concurrency = options.concurrency ?? CONCURRENCY;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-tls-'));
  let plain: Server | undefined;
  let tls: Server | undefined;
  try {
    plain = await startCoffer(path.join(dir, 'plain'), []);
    tls = await startCoffer(path.join(dir, 'tls'), ['--dev-tls']);
    if (tls.ca === undefined || !tls.address.startsWith('https:')) throw new Error('the --dev-tls server is not TLS');
    const ca = readFileSync(tls.ca);
    const rounds = 3;
    const perRound = Math.ceil(count / rounds);
    const prepare = async (server: Server, caOption: { ca?: Buffer }) => {
      const secure = server.address.startsWith('https:');
      // No session cache: every connection pays a full handshake, as a new client would.
      const fresh = secure
        ? new https.Agent({ keepAlive: false, maxCachedSessions: 0 })
        : new http.Agent({ keepAlive: false });
      const kept = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: concurrency });
      const auth = { 'x-coffer-token': server.rootToken };
      const secretUrl = new URL('/v1/secret/data/bench/read', server.address);
      const value = JSON.stringify({ value: 'x'.repeat(1024) });
      await request(secretUrl, { agent: kept, headers: auth, ...caOption }, value);
      const healthUrl = new URL('/v1/sys/health', server.address);
      const health = () => request(healthUrl, { agent: fresh, ...caOption });
      const get = () => request(secretUrl, { agent: kept, headers: auth, ...caOption });
      await measure(100, concurrency, health);
      await measure(200, concurrency, get);
      return {
        handshake: () => measure(perRound, concurrency, health),
        get: () => measure(perRound * 2, concurrency, get),
        close: () => {
          fresh.destroy();
          kept.destroy();
        },
      };
    };
    const plainRuns = await prepare(plain, {});
    const tlsRuns = await prepare(tls, { ca });
    const handshake = await interleaved(rounds, { plain: plainRuns.handshake, tls: tlsRuns.handshake });
    const get = await interleaved(rounds, { plain: plainRuns.get, tls: tlsRuns.get });
    plainRuns.close();
    tlsRuns.close();
    return { handshake, get };
  } finally {
    await stop(plain);
    await stop(tls);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchTls();
  const row = (name: string, r: Rate, baseline: Rate) =>
    `${name.padEnd(46)} ${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
    `(${(r.perSecond / baseline.perSecond).toFixed(2)}× plain)`;
  const { handshake, get } = result;
  console.log(row('health, new connection each, plain HTTP', handshake.plain, handshake.plain));
  console.log(row('health, new connection each, TLS 1.3', handshake.tls, handshake.plain));
  console.log(row('audited GET 1 KiB, keep-alive, plain HTTP', get.plain, get.plain));
  console.log(row('audited GET 1 KiB, keep-alive, TLS 1.3', get.tls, get.plain));
  const perRequest = (r: Rate) => 1000 / r.perSecond;
  console.log(
    `TLS 1.3 handshake cost per connection (server and client on one machine): ` +
      `${(perRequest(handshake.tls) - perRequest(handshake.plain)).toFixed(2)} ms of wall time per request at ` +
      `${CONCURRENCY} in flight`,
  );
}
