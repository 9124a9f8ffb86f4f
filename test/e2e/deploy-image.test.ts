import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOf, envOf, execForm, readDockerfile } from '../support/dockerfile.ts';
import { type KubeObject, renderKustomization } from '../support/kustomize.ts';
import { containerEnvironment, type EnvVar } from '../support/pod-env.ts';

/**
 * The server run the way the image and the manifests run it, where there is no container runtime: the final stage's
 * files laid out as its COPY lines say (WORKDIR /app), started with its ENTRYPOINT, its ENV and the StatefulSet's
 * args and env (downward-API values and `$(VAR)` expanded as the kubelet does, mount paths mapped to directories
 * here), as the manifests' user 65532 (setpriv, when the test runs as root) with the manifests' file modes. Every
 * system call that creates, writes or removes a file is traced (strace): the server must write nowhere but its data
 * directory, which is what a read-only root filesystem allows. One change to what the manifests say: port 0 for
 * COFFER_PORT, so the test takes a free port.
 *
 * node_modules is the checkout's (the image's runtime-only tree cannot be installed here); the trace shows that no
 * development-only package is loaded.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const USER = 65532;
const IS_ROOT = process.getuid?.() === 0;
const POD = { 'metadata.name': 'coffer-0', 'metadata.namespace': 'coffer' } as Record<string, string>;

const work = mkdtempSync(path.join(os.tmpdir(), 'coffer-image-'));
const app = path.join(work, 'app');
const dataDir = path.join(work, 'volumes', 'data');
const tlsDir = path.join(work, 'volumes', 'tls');
const home = path.join(work, 'home');
const traceLog = path.join(work, 'trace.log');

interface Container {
  args: string[];
  env: EnvVar[];
  volumeMounts: { name: string; mountPath: string }[];
  startupProbe: { httpGet: { path: string; httpHeaders: { name: string; value: string }[] } };
}

const statefulSet = renderKustomization(path.join(ROOT, 'deploy/kubernetes/base')).find(
  (object) => object.kind === 'StatefulSet',
) as KubeObject & {
  spec: {
    template: { spec: { containers: Container[]; volumes: { name: string; secret: { defaultMode: number } }[] } };
  };
};
const pod = statefulSet.spec.template.spec;
const container = pod.containers[0]!;
/** Where each of the container's volumes is here. */
const VOLUMES: Record<string, string> = { data: dataDir, tls: tlsDir };

/** The final stage's files, laid out under `app` as its COPY lines put them under WORKDIR /app. */
function layOutImage(): { entrypoint: string[]; imageEnv: Record<string, string> } {
  const runtime = readDockerfile(path.join(ROOT, 'Dockerfile')).at(-1)!;
  expect(runtime.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
  mkdirSync(app, { recursive: true });
  for (const copy of runtime.instructions.filter((i) => i.keyword === 'COPY').map(copyOf)) {
    const destination = path.resolve(app, copy.destination);
    for (const source of copy.sources) {
      // The stages build in /src from the checkout: here the checkout, after `npm run build`, is /src.
      const from = path.join(ROOT, path.relative('/src', source));
      const to = copy.destination.endsWith('/') ? path.join(destination, path.basename(source)) : destination;
      mkdirSync(path.dirname(to), { recursive: true });
      if (copy.from === 'runtime-dependencies') symlinkSync(from, to);
      else if (statSync(from).isDirectory()) cpSync(from, to, { recursive: true });
      else copyFileSync(from, to);
    }
  }
  const imageEnv = Object.assign({}, ...runtime.instructions.filter((i) => i.keyword === 'ENV').map(envOf));
  const [entrypoint] = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT').map(execForm);
  return {
    entrypoint: entrypoint!.map((word) =>
      word === '/nodejs/bin/node' ? process.execPath : word.replace(/^\/app\//, `${app}/`),
    ),
    imageEnv,
  };
}

/** Read-only for everyone, owned by root: what the image's files are to user 65532. */
function makeReadOnly(dir: string): void {
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(dir, entry);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat === undefined || file.includes(`${path.sep}node_modules`)) continue;
    chmodSync(file, stat.isDirectory() ? 0o555 : 0o444);
  }
  chmodSync(dir, 0o555);
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: tlsDir, stdio: 'pipe' });
}

/** The coffer-tls Secret's files: a P-256 certificate for the Service's names and loopback, and its CA (itself). */
function writeTlsSecret(): void {
  mkdirSync(tlsDir, { recursive: true });
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=coffer',
    '-addext',
    'subjectAltName=DNS:coffer.coffer.svc,DNS:localhost,IP:127.0.0.1',
    '-keyout',
    'tls.key',
    '-out',
    'tls.crt',
  ]);
  copyFileSync(path.join(tlsDir, 'tls.crt'), path.join(tlsDir, 'ca.crt'));
  // A Secret volume: the manifest's defaultMode, group fsGroup (65532).
  const mode = pod.volumes.find((volume) => volume.name === 'tls')!.secret.defaultMode;
  for (const file of ['tls.crt', 'tls.key', 'ca.crt']) {
    if (IS_ROOT) chownSync(path.join(tlsDir, file), 0, USER);
    chmodSync(path.join(tlsDir, file), IS_ROOT ? mode : 0o400);
  }
}

interface Running {
  /** strace, which traces the server (its child) and exits with it. */
  readonly child: ChildProcess;
  /** The server's own process (setpriv execs node): signals go to it, not to strace, which would detach. */
  readonly pid: number;
  readonly dataDir: string;
  readonly port: number;
  readonly exited: Promise<number | null>;
  output(): string;
}

let server: Running;

beforeAll(async () => {
  chmodSync(work, 0o755);
  const { entrypoint, imageEnv } = layOutImage();
  makeReadOnly(app);
  writeTlsSecret();
  mkdirSync(home, { mode: 0o555 });
  // A volume claim with fsGroup: the group's, setgid, writable by the group.
  mkdirSync(dataDir, { recursive: true });
  if (IS_ROOT) chownSync(dataDir, 0, USER);
  chmodSync(dataDir, IS_ROOT ? 0o2770 : 0o700);
  // The image's ENV, then the container's (the kubelet's wins); the optional passphrase Secret does not exist here.
  const manifestEnv = containerEnvironment(container, { fields: POD, volumes: VOLUMES });
  const env: Record<string, string> = {
    ...imageEnv,
    ...manifestEnv,
    COFFER_PORT: '0',
    PATH: '/usr/bin:/bin',
    HOME: home,
  };
  const asUser = IS_ROOT ? ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--clear-groups', '--'] : [];
  const traced = ['-f', '-qq', '-o', traceLog, '-e', `trace=${WRITING_CALLS.join(',')}`];
  const child = spawn('strace', [...traced, ...asUser, ...entrypoint, ...container.args], {
    cwd: app,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const look = () => {
      const match = /listening on https:\/\/[\d.]+:(\d+)/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    };
    child.stdout!.on('data', look);
    void exited.then((code) => reject(new Error(`the server exited with ${code} before listening:\n${out}`)));
  });
  const [pid] = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ').map(Number);
  server = { child, pid: pid!, dataDir: env.COFFER_DATA_DIR!, port, exited, output: () => out };
});

afterAll(async () => {
  if (server !== undefined && server.child.exitCode === null) {
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
  }
  rmSync(work, { recursive: true, force: true });
});

/** System calls that create, write, rename, remove or re-mode a file by path (strace's names). */
const WRITING_CALLS = [
  'open',
  'openat',
  'openat2',
  'creat',
  'truncate',
  'mkdir',
  'mkdirat',
  'rename',
  'renameat',
  'renameat2',
  'unlink',
  'unlinkat',
  'rmdir',
  'link',
  'linkat',
  'symlink',
  'symlinkat',
  'chmod',
  'fchmodat',
  'mknod',
  'mknodat',
];

/** Every path the traced process created, wrote or removed, or tried to. */
function writtenPaths(log: string): string[] {
  const written: string[] = [];
  for (const line of log.split('\n')) {
    const call = /^\d+\s+(\w+)\((.*)$/.exec(line);
    if (call === null) continue;
    const [, name, rest] = call as unknown as [string, string, string];
    const paths = [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!);
    const opensForWriting = /^open/.test(name) && /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(rest);
    if (opensForWriting) written.push(paths[0]!);
    else if (!/^open/.test(name)) written.push(...paths);
  }
  return written.map((file) => path.resolve(app, file));
}

function request(
  headers: Record<string, string>,
  options: { method?: string; path?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: options.method ?? 'GET',
        path: options.path ?? container.startupProbe.httpGet.path,
        headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ca: readFileSync(path.join(tlsDir, 'ca.crt')),
        servername: 'localhost',
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Development packages a runtime dependency requires inside a try/catch and does without: `debug` tries
 * supports-color (for coloured output) and carries on without it; has-flag is supports-color's own dependency.
 */
const TRIED_IF_PRESENT: Record<string, string> = {
  'supports-color': 'debug (src/node.js) requires it in a try/catch',
  'has-flag': 'supports-color requires it',
};

const probeHeaders = () =>
  Object.fromEntries(container.startupProbe.httpGet.httpHeaders.map((header) => [header.name, header.value]));

describe('the image, run as the manifests run it', () => {
  it('has its entry point after npm run build', () => {
    expect(existsSync(path.join(app, 'bin/coffer.mjs'))).toBe(true);
    expect(existsSync(path.join(app, 'dist/cli.mjs'))).toBe(true);
  });

  it("answers the probes' request over HTTPS with the Host they name", async () => {
    const health = await request(probeHeaders());
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', initialized: true } });
  });

  it('answers the Service name, and refuses the pod address a probe without a Host header would send', async () => {
    expect((await request({ Host: 'coffer.coffer.svc:8270' })).status).toBe(200);
    expect((await request({ Host: 'coffer-0.coffer-internal.coffer.svc' })).status).toBe(200);
    expect((await request({ Host: '10.1.2.3:8270' })).status).toBe(421);
  });

  it('stores a secret in its data directory', async () => {
    expect(server.dataDir).toBe(path.join(dataDir, 'data'));
    const rootToken = readFileSync(path.join(server.dataDir, 'root-token'), 'utf8').trim();
    const created = await request(
      { ...probeHeaders(), 'x-coffer-token': rootToken },
      { method: 'POST', path: '/v1/secrets', body: { name: 'image/check', value: 'stored-on-the-volume' } },
    );
    expect(created.status).toBe(201);
    expect(readdirSync(server.dataDir)).toEqual(expect.arrayContaining(['keyring.json', 'coffer.db', 'root-token']));
    if (IS_ROOT) expect(statSync(path.join(server.dataDir, 'keyring.json')).uid).toBe(USER);
  });

  it('stops on SIGTERM, having written nowhere but its data directory', async () => {
    process.kill(server.pid, 'SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('Coffer stopped');
    const written = writtenPaths(readFileSync(traceLog, 'utf8'));
    expect(written.length).toBeGreaterThan(0);
    const outside = written.filter((file) => file !== dataDir && !file.startsWith(`${dataDir}/`));
    // /dev/null and the like are devices, not the root filesystem.
    expect(outside.filter((file) => !file.startsWith('/dev/'))).toEqual([]);
  });

  it('loads no development-only package', () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; peer?: boolean }>;
    };
    const opened = execFileSync('grep', ['-o', 'node_modules/[^"]*', traceLog], { encoding: 'utf8' });
    expect(opened).not.toBe('');
    const packages = new Set(
      opened
        .split('\n')
        .map((file) => /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1])
        .filter((name) => name !== undefined),
    );
    const devOnly = [...packages].filter((name) => {
      const entry = lock.packages[`node_modules/${name}`];
      return entry === undefined || entry.dev === true || entry.peer === true;
    });
    expect(devOnly.filter((name) => !(name in TRIED_IF_PRESENT))).toEqual([]);
  });
});
