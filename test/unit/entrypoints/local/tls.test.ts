import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';
import {
  devNames,
  ensureDevTls,
  generateDevTls,
  loadTlsOptions,
  tlsFilesOf,
} from '../../../../lambdas/entrypoints/local/tls.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-tls-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const NOW = new Date('2026-06-01T00:00:00Z');

describe('Function: generateDevTls', () => {
  it('issues an EC P-256 server certificate for the names, signed by a CA it returns', async () => {
    const { caPem, certPem, keyPem } = await generateDevTls(
      { dns: ['localhost', 'coffer.lan'], ips: ['127.0.0.1'] },
      NOW,
    );
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:coffer.lan, IP Address:127.0.0.1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(NOW.getTime());
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(caPem).not.toMatch(/PRIVATE KEY/);
  });
});

describe('Function: devNames', () => {
  it('names the listen host beside loopback, and this machine for a wildcard', () => {
    expect(devNames('coffer.lan')).toEqual({ dns: ['localhost', 'coffer.lan'], ips: ['127.0.0.1', '::1'] });
    expect(devNames('10.1.2.3').ips).toContain('10.1.2.3');
    expect(devNames('0.0.0.0').dns).toContain(os.hostname().toLowerCase());
    expect(devNames('0.0.0.0').ips).not.toContain('0.0.0.0');
  });
});

describe('Function: ensureDevTls', () => {
  it('writes ca.pem, server.pem and server-key.pem (0600) once and reuses them', async () => {
    const dir = path.join(tempDir(), 'tls');
    const first = await ensureDevTls(dir, '127.0.0.1', NOW);
    expect(first.generated).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(first.key).mode & 0o777).toBe(0o600);
    const bytes = [first.ca, first.cert, first.key].map((file) => readFileSync(file, 'utf8'));
    const second = await ensureDevTls(dir, '127.0.0.1', NOW);
    expect(second.generated).toBe(false);
    expect([second.ca, second.cert, second.key].map((file) => readFileSync(file, 'utf8'))).toEqual(bytes);
  });

  it('generates anew when the certificate does not name the host or is about to expire', async () => {
    const dir = path.join(tempDir(), 'tls');
    const first = await ensureDevTls(dir, '127.0.0.1', NOW);
    const original = readFileSync(first.cert, 'utf8');
    expect((await ensureDevTls(dir, 'coffer.lan', NOW)).generated).toBe(true);
    expect(new X509Certificate(readFileSync(first.cert)).checkHost('coffer.lan')).toBe('coffer.lan');
    expect(readFileSync(first.cert, 'utf8')).not.toBe(original);
    const later = new Date(NOW.getTime() + 340 * 86_400_000);
    expect((await ensureDevTls(dir, 'coffer.lan', later)).generated).toBe(true);
  });

  it('replaces files it cannot read as a certificate', async () => {
    const dir = path.join(tempDir(), 'tls');
    const first = await ensureDevTls(dir, '127.0.0.1', NOW);
    writeFileSync(first.cert, 'not a certificate');
    expect((await ensureDevTls(dir, '127.0.0.1', NOW)).generated).toBe(true);
  });
});

describe('Function: tlsFilesOf', () => {
  it('is undefined for plain HTTP and the dev files for dev TLS', async () => {
    const dataDir = tempDir();
    expect(await tlsFilesOf(loadLocalConfig({ COFFER_DATA_DIR: dataDir }))).toBeUndefined();
    const dev = await tlsFilesOf(loadLocalConfig({ COFFER_DATA_DIR: dataDir, COFFER_HOST: '0.0.0.0' }), NOW);
    expect(dev).toEqual({
      cert: path.join(dataDir, 'tls', 'server.pem'),
      key: path.join(dataDir, 'tls', 'server-key.pem'),
      devCa: path.join(dataDir, 'tls', 'ca.pem'),
      clientCa: undefined,
      minVersion: 'TLSv1.3',
    });
  });

  it('refuses plain HTTP on a host other hosts reach, saying how to allow it', async () => {
    const config = loadLocalConfig({ COFFER_DATA_DIR: tempDir(), COFFER_HOST: '0.0.0.0', COFFER_DEV_TLS: '0' });
    await expect(tlsFilesOf(config)).rejects.toThrow(ValidationError);
    await expect(tlsFilesOf(config)).rejects.toThrow(
      /refusing to serve plain HTTP on 0\.0\.0\.0.*--insecure-plain-http/,
    );
  });
});

describe('Function: loadTlsOptions', () => {
  it('reads the files, naming one that is missing or not PEM', async () => {
    const dir = tempDir();
    const dev = await ensureDevTls(path.join(dir, 'tls'), '127.0.0.1', NOW);
    const options = await loadTlsOptions({ cert: dev.cert, key: dev.key, clientCa: dev.ca, minVersion: 'TLSv1.2' });
    expect(options.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(options.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(options.minVersion).toBe('TLSv1.2');
    const missing = path.join(dir, 'missing.pem');
    await expect(loadTlsOptions({ cert: missing, key: dev.key, minVersion: 'TLSv1.3' })).rejects.toThrow(
      `cannot read the TLS certificate ${missing}: ENOENT`,
    );
    await expect(loadTlsOptions({ cert: dev.cert, key: dev.cert, minVersion: 'TLSv1.3' })).rejects.toThrow(
      /the TLS key .* is not in PEM form/,
    );
  });
});
