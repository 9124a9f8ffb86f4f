import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerRequest } from '../../../../lambdas/broker/http-types.ts';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  PemConverter,
  X509CertificateGenerator,
} from '../../../../lambdas/engines/pki/x509.ts';
import { LocalHttpServer } from '../../../../lambdas/entrypoints/local/http-server.ts';
import { ensureDevTls, loadTlsOptions, type TlsListenerOptions } from '../../../../lambdas/entrypoints/local/tls.ts';

const servers: LocalHttpServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A dev CA and server certificate for loopback, as the listener reads them. */
async function serverTls(minVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-https-'));
  dirs.push(dir);
  const dev = await ensureDevTls(path.join(dir, 'tls'), '127.0.0.1');
  return { ca: (await loadTlsOptions({ cert: dev.ca, key: dev.key, minVersion })).cert, files: dev, minVersion };
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A client CA and a certificate it issued for client authentication, as PEM. */
async function clientPki() {
  const subtle = webcrypto.subtle;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);
  const caKeys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=test client CA',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SHA256,
    extensions: [new BasicConstraintsExtension(true, 0, true)],
  });
  const keys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=workload',
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SHA256,
    extensions: [new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth])],
  });
  const key = PemConverter.encode(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { ca: ca.toString('pem'), cert: cert.toString('pem'), key };
}

async function start(tlsOptions: TlsListenerOptions) {
  const handled: BrokerRequest[] = [];
  const broker = {
    handle: async (request: BrokerRequest) => {
      handled.push(request);
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    },
  };
  const server = new LocalHttpServer(broker, { host: '127.0.0.1', port: 0, tls: tlsOptions });
  servers.push(server);
  const { port } = await server.listen();
  return { server, port, handled };
}

function get(
  port: number,
  options: https.RequestOptions,
): Promise<{ status: number; peer: X509Certificate | undefined; reused: boolean; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/v1/sys/health', ...options }, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const peer = socket.getPeerX509Certificate();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, peer, reused: req.reusedSocket, socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

function handshake(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const protocol = socket.getProtocol() ?? '';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
  });
}

describe('Class: LocalHttpServer over TLS', () => {
  it('serves TLS 1.3 and refuses TLS 1.2 unless allowed', async () => {
    const strict = await serverTls();
    const { port } = await start(await loadTlsOptions({ ...strict.files, minVersion: 'TLSv1.3' }));
    await expect(handshake(port, { ca: strict.ca })).resolves.toBe('TLSv1.3');
    await expect(handshake(port, { ca: strict.ca, maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|alert/i);

    const lenient = await serverTls('TLSv1.2');
    const open = await start(await loadTlsOptions({ ...lenient.files, minVersion: 'TLSv1.2' }));
    await expect(handshake(open.port, { ca: lenient.ca, maxVersion: 'TLSv1.2' })).resolves.toBe('TLSv1.2');
  });

  it('gives the broker no client certificate without a client CA', async () => {
    const { ca, files } = await serverTls();
    const { port, handled } = await start(await loadTlsOptions({ ...files, minVersion: 'TLSv1.3' }));
    expect((await get(port, { ca })).status).toBe(200);
    expect(handled[0]!.clientCertificate).toBeUndefined();
  });

  it('requires a client certificate from the client CA and hands the verified one to the broker', async () => {
    const { ca, files } = await serverTls();
    const clients = await clientPki();
    const listener = { ...(await loadTlsOptions({ ...files, minVersion: 'TLSv1.3' })), ca: Buffer.from(clients.ca) };
    const { port, handled } = await start(listener);
    const agent = () => new https.Agent({ keepAlive: false });
    await expect(get(port, { ca, agent: agent() })).rejects.toThrow(/certificate required|socket hang up|ECONNRESET/i);
    const other = await clientPki();
    await expect(get(port, { ca, agent: agent(), cert: other.cert, key: other.key })).rejects.toThrow(
      /unknown ca|socket hang up|ECONNRESET/i,
    );
    expect(handled).toHaveLength(0);
    expect((await get(port, { ca, agent: agent(), cert: clients.cert, key: clients.key })).status).toBe(200);
    expect(handled[0]!.clientCertificate).toEqual(new X509Certificate(clients.cert).raw);
  });

  it('with clientAuth request, lets a client without a certificate through and refuses an unverified one', async () => {
    const { ca, files } = await serverTls();
    const clients = await clientPki();
    const listener = {
      ...(await loadTlsOptions({ ...files, minVersion: 'TLSv1.3' })),
      ca: Buffer.from(clients.ca),
      clientAuth: 'request' as const,
    };
    const { server, port, handled } = await start(listener);
    const agent = () => new https.Agent({ keepAlive: false });
    expect((await get(port, { ca, agent: agent() })).status).toBe(200);
    expect(handled[0]!.clientCertificate).toBeUndefined();
    const other = await clientPki();
    await expect(get(port, { ca, agent: agent(), cert: other.cert, key: other.key })).rejects.toThrow(
      /socket hang up|ECONNRESET/i,
    );
    expect(handled).toHaveLength(1);
    expect((await get(port, { ca, agent: agent(), cert: clients.cert, key: clients.key })).status).toBe(200);
    expect(handled[1]!.clientCertificate).toEqual(new X509Certificate(clients.cert).raw);
    // Switching between requiring and requesting takes a restart, as turning client certificates on or off does.
    expect(() => server.reloadTls({ ...listener, clientAuth: 'require' })).toThrow(/restart/);
  });

  it('serves a reloaded certificate to new handshakes while an open connection keeps working', async () => {
    const first = await serverTls();
    const { server, port } = await start(await loadTlsOptions({ ...first.files, minVersion: 'TLSv1.3' }));
    const second = await serverTls();
    const both = Buffer.concat([first.ca, second.ca]);
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await get(port, { ca: both, agent: keepAlive });
    server.reloadTls(await loadTlsOptions({ ...second.files, minVersion: 'TLSv1.3' }));
    const kept = await get(port, { ca: both, agent: keepAlive });
    expect(kept).toMatchObject({ status: 200, reused: true });
    expect(kept.socket).toBe(before.socket);
    const fresh = await get(port, { ca: both, agent: new https.Agent({ keepAlive: false }) });
    expect(fresh.peer?.fingerprint256).toBe(new X509Certificate(await readPem(second.files.cert)).fingerprint256);
    expect(fresh.peer?.fingerprint256).not.toBe(before.peer?.fingerprint256);
    keepAlive.destroy();
  });

  it('keeps the old certificate when the new material is refused', async () => {
    const first = await serverTls();
    const { server, port } = await start(await loadTlsOptions({ ...first.files, minVersion: 'TLSv1.3' }));
    const other = await serverTls();
    const mismatched = await loadTlsOptions({ cert: first.files.cert, key: other.files.key, minVersion: 'TLSv1.3' });
    expect(() => server.reloadTls(mismatched)).toThrow();
    expect((await get(port, { ca: first.ca, agent: new https.Agent({ keepAlive: false }) })).status).toBe(200);
  });
});

async function readPem(file: string): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file);
}
