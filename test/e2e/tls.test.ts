import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { waitFor } from '../support/wait-for.ts';

interface Started {
  readonly child: ChildProcess;
  /** As printed: `https://0.0.0.0:1234` for a wildcard. */
  readonly printed: string;
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Started>();
const { dir, cleanup } = tempDir('coffer-tls-e2e-');
afterAll(async () => {
  await Promise.all([...running].map((server) => server.stop()));
  cleanup();
});

/** The test's own environment without the settings these tests give explicitly. */
const childEnv = (env: Record<string, string>) => {
  const base: NodeJS.ProcessEnv = { ...process.env, COFFER_TOKEN: '', COFFER_PASSPHRASE: '' };
  for (const name of ['COFFER_HOST', 'COFFER_TLS_CERT', 'COFFER_TLS_KEY', 'COFFER_TLS_CLIENT_CA', 'COFFER_CACERT']) {
    delete base[name];
  }
  return { ...base, ...env };
};

/** `coffer server` with `args`, on a free port, resolved once it says where it listens. */
function startCoffer(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [COFFER_BIN, 'server', '--data-dir', dataDir, '--port', '0', ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const look = () => {
      const match = /listening on (https?:\/\/[\d.]+:(\d+))/.exec(out);
      if (match === null) return;
      const started: Started = {
        child,
        printed: match[1]!,
        port: Number(match[2]),
        output: () => out,
        async stop() {
          running.delete(started);
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
      running.add(started);
      resolve(started);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        look();
      });
    }
    void exited.then(() => reject(new Error(`server exited before listening:\n${out}`)));
  });
}

/** `coffer server` expected to refuse to start: its exit code and everything it printed. */
function refusedStart(dataDir: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [COFFER_BIN, 'server', '--data-dir', dataDir, '--port', '0', ...args], {
    env: childEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

/** A real `openssl s_client` handshake that sends one HTTP request: its exit code and all it printed. */
function sClient(port: number, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-ign_eof', ...args],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stdin.end(`GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

const answered = (output: string) => /HTTP\/1\.1 200/.test(output);

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
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
    `/CN=${name}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

function get(
  port: number,
  options: https.RequestOptions,
): Promise<{ status: number; fingerprint: string | undefined; reused: boolean; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/v1/sys/health', ...options }, (res) => {
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint, reused: req.reusedSocket, socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('coffer server with dev TLS', () => {
  const dataDir = path.join(dir, 'dev');
  const tlsDir = path.join(dataDir, 'tls');
  let server: Started;

  beforeAll(async () => {
    // Not loopback and no certificate: dev TLS without being asked.
    server = await startCoffer(dataDir, ['--host', '0.0.0.0']);
  });

  it('generates a CA and server certificate in the data dir and prints the CA path', () => {
    expect(server.printed).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    expect(server.output()).toContain(`export COFFER_CACERT=${path.join(tlsDir, 'ca.pem')}`);
    expect(statSync(path.join(tlsDir, 'server-key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(path.join(tlsDir, 'server.pem')));
    expect(cert.checkIssued(new X509Certificate(readFileSync(path.join(tlsDir, 'ca.pem'))))).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('accepts TLS 1.3 (openssl s_client -tls1_3) and refuses TLS 1.2 by default', async () => {
    const ok = await sClient(server.port, ['-tls1_3', '-CAfile', path.join(tlsDir, 'ca.pem'), '-verify_return_error']);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain('Verify return code: 0 (ok)');
    expect(answered(ok.output), ok.output).toBe(true);
    const old = await sClient(server.port, ['-tls1_2']);
    expect(old.code).not.toBe(0);
    expect(old.output).toMatch(/alert protocol version/);
    expect(answered(old.output)).toBe(false);
  });

  it('serves coffer secret get with COFFER_CACERT, and refuses an untrusted certificate clearly without it', async () => {
    const env = {
      COFFER_ADDR: `https://127.0.0.1:${server.port}`,
      COFFER_TOKEN: readFileSync(path.join(dataDir, 'root-token'), 'utf8').trim(),
      COFFER_CACERT: path.join(tlsDir, 'ca.pem'),
    };
    expect((await runCli(['secret', 'create', 'tls/demo', '--no-value'], { env })).code).toBe(0);
    expect((await runCli(['secret', 'put', 'tls/demo'], { env, input: 'over-tls' })).code).toBe(0);
    const got = await runCli(['secret', 'get', 'tls/demo'], { env });
    expect(got).toMatchObject({ code: 0, stdout: 'over-tls\n' });
    const untrusted = await runCli(['secret', 'get', 'tls/demo'], { env: { ...env, COFFER_CACERT: '' } });
    expect(untrusted.code).toBe(6);
    expect(untrusted.stderr).toContain('its TLS certificate is not trusted');
    expect(untrusted.stderr).toContain('set COFFER_CACERT');
    expect(untrusted.stdout).toBe('');
  });

  it('reuses the files on the next start, and allows TLS 1.2 when --tls-min-version 1.2 says so', async () => {
    const before = ['ca.pem', 'server.pem', 'server-key.pem'].map((f) => readFileSync(path.join(tlsDir, f), 'utf8'));
    await server.stop();
    const again = await startCoffer(dataDir, ['--dev-tls', '--tls-min-version', '1.2']);
    expect(again.printed).toMatch(/^https:\/\/127\.0\.0\.1:/);
    expect(['ca.pem', 'server.pem', 'server-key.pem'].map((f) => readFileSync(path.join(tlsDir, f), 'utf8'))).toEqual(
      before,
    );
    const old = await sClient(again.port, ['-tls1_2', '-CAfile', path.join(tlsDir, 'ca.pem'), '-verify_return_error']);
    expect(old.code, old.output).toBe(0);
    expect(answered(old.output), old.output).toBe(true);
    await again.stop();
  });
});

describe('coffer server refuses plain HTTP beyond loopback', () => {
  it('refuses to start on 0.0.0.0 without TLS, and starts with --insecure-plain-http', async () => {
    const dataDir = path.join(dir, 'plain');
    const refused = await refusedStart(dataDir, ['--host', '0.0.0.0', '--no-dev-tls']);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('refusing to serve plain HTTP on 0.0.0.0');
    expect(refused.output).toContain('--insecure-plain-http');
    expect(refused.output).not.toContain('listening');
    const plain = await startCoffer(dataDir, ['--host', '0.0.0.0', '--insecure-plain-http']);
    expect(plain.printed).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    await plain.stop();
  });

  it('keeps plain HTTP on loopback by default', async () => {
    const local = await startCoffer(path.join(dir, 'loopback'), []);
    expect(local.printed).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await local.stop();
  });
});

describe('coffer server with the operator certificate', () => {
  it('requires a client certificate from --tls-client-ca at the handshake', async () => {
    const serverCert = selfSigned('mtls-server');
    const clientCaKey = path.join(dir, 'client-ca-key.pem');
    const clientCa = path.join(dir, 'client-ca.pem');
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
      '/CN=test client CA',
      '-keyout',
      clientCaKey,
      '-out',
      clientCa,
    ]);
    const clientKey = path.join(dir, 'client-key.pem');
    const clientCsr = path.join(dir, 'client.csr');
    const clientCert = path.join(dir, 'client.pem');
    openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=workload',
      '-keyout',
      clientKey,
      '-out',
      clientCsr,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      clientCsr,
      '-CA',
      clientCa,
      '-CAkey',
      clientCaKey,
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      clientCert,
    ]);
    const server = await startCoffer(path.join(dir, 'mtls'), [
      '--tls-cert',
      serverCert.cert,
      '--tls-key',
      serverCert.key,
      '--tls-client-ca',
      clientCa,
    ]);
    const trust = ['-tls1_3', '-CAfile', serverCert.cert];
    const without = await sClient(server.port, trust);
    expect(answered(without.output), without.output).toBe(false);
    expect(without.output).toMatch(/alert certificate required/);
    const stranger = selfSigned('stranger');
    const wrong = await sClient(server.port, [...trust, '-cert', stranger.cert, '-key', stranger.key]);
    expect(answered(wrong.output), wrong.output).toBe(false);
    const withCert = await sClient(server.port, [...trust, '-cert', clientCert, '-key', clientKey]);
    expect(answered(withCert.output), withCert.output).toBe(true);
    await server.stop();
  });

  it('reloads the certificate on SIGHUP: a new handshake sees it, an open keep-alive connection keeps working', async () => {
    const first = selfSigned('first');
    const second = selfSigned('second');
    const served = { cert: path.join(dir, 'served.pem'), key: path.join(dir, 'served-key.pem') };
    copyFileSync(first.cert, served.cert);
    copyFileSync(first.key, served.key);
    const server = await startCoffer(path.join(dir, 'reload'), ['--tls-cert', served.cert, '--tls-key', served.key]);
    expect(server.printed).toMatch(/^https:\/\/127\.0\.0\.1:/);
    const ca = Buffer.concat([readFileSync(first.cert), readFileSync(second.cert)]);
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await get(server.port, { ca, agent: keepAlive });
      expect(before.fingerprint).toBe(new X509Certificate(readFileSync(first.cert)).fingerprint256);

      copyFileSync(second.cert, served.cert);
      copyFileSync(second.key, served.key);
      server.child.kill('SIGHUP');
      await waitFor('the reload', () => server.output().includes('TLS certificate reloaded'), {
        detail: server.output,
      });

      const kept = await get(server.port, { ca, agent: keepAlive });
      expect(kept).toMatchObject({ status: 200, reused: true });
      expect(kept.socket).toBe(before.socket);
      const fresh = await get(server.port, { ca, agent: new https.Agent({ keepAlive: false }) });
      expect(fresh.fingerprint).toBe(new X509Certificate(readFileSync(second.cert)).fingerprint256);

      // A broken file is refused and the served certificate stays.
      writeFileSync(served.cert, 'not a certificate\n');
      server.child.kill('SIGHUP');
      await waitFor('the failed reload', () => server.output().includes('TLS certificate reload failed'), {
        detail: server.output,
      });
      expect(server.output()).toContain('still serving the previous one');
      const still = await get(server.port, { ca, agent: new https.Agent({ keepAlive: false }) });
      expect(still.fingerprint).toBe(fresh.fingerprint);
    } finally {
      keepAlive.destroy();
      await server.stop();
    }
  });
});

describe('coffer agent against an https node', () => {
  it('reads with COFFER_CACERT, and serves its cache over TLS with cache.tls_cert/tls_key', async () => {
    const dataDir = path.join(dir, 'agent-node');
    const server = await startCoffer(dataDir, ['--dev-tls']);
    const ca = path.join(dataDir, 'tls', 'ca.pem');
    const env = {
      COFFER_ADDR: `https://127.0.0.1:${server.port}`,
      COFFER_TOKEN: readFileSync(path.join(dataDir, 'root-token'), 'utf8').trim(),
      COFFER_CACERT: ca,
    };
    expect((await runCli(['secret', 'create', 'tls/agent', '--no-value'], { env })).code).toBe(0);
    expect((await runCli(['secret', 'put', 'tls/agent'], { env, input: 'agent-value' })).code).toBe(0);
    const config = path.join(dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        templates: [{ contents: '{{ secret "tls/agent" }}', destination: 'agent-out.txt' }],
        // The node's dev certificate names 127.0.0.1: the cache may serve it too.
        cache: {
          port: 0,
          tls_cert: path.join(dataDir, 'tls', 'server.pem'),
          tls_key: path.join(dataDir, 'tls', 'server-key.pem'),
        },
      }),
    );
    const agent = spawn(process.execPath, [COFFER_BIN, 'agent', '--config', config], {
      env: { ...childEnv(env), AWS_SESSION_TOKEN: 'session-tls' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    agent.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    agent.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    try {
      const address = await waitFor(
        'the cache to listen',
        () => /secrets cache listening on (https:\/\/[\d.]+:\d+)/.exec(out)?.[1],
        { detail: () => out },
      );
      expect(readFileSync(path.join(dir, 'agent-out.txt'), 'utf8')).toBe('agent-value');
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(
            `${address}/secretsmanager/get?secretId=tls%2Fagent`,
            { ca: readFileSync(ca), headers: { 'x-aws-parameters-secrets-token': 'session-tls' } },
            (res) => {
              let text = '';
              res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
              res.on('end', () => resolve(text));
            },
          )
          .on('error', reject);
      });
      expect(JSON.parse(body)).toMatchObject({ SecretString: 'agent-value' });
    } finally {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('exit', resolve));
      await server.stop();
    }
  });
});
