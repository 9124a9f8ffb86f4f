/**
 * TLS for the local listener: the operator's certificate files or a development CA and server certificate generated
 * once in `<dataDir>/tls/`, read into the options node:tls takes (read again on SIGHUP, so a renewed certificate is
 * served without a restart).
 */
import { webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '../../core/errors.ts';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  type JsonGeneralNames,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
} from '../../engines/pki/x509.ts';
import { dataPaths, type ListenerTransport, type LocalConfig, listenerTransport } from './config.ts';

/** What node:tls is given for the listener: PEM bytes, re-read from the files on every load. */
export interface TlsListenerOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Client certificates must chain to these: asked for, and required unless `clientAuth` is `request`. */
  readonly ca?: Buffer | undefined;
  /** @default 'require' */
  readonly clientAuth?: ClientAuthMode | undefined;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/**
 * How a listener with a client CA treats clients: `require` refuses one without a certificate at the handshake;
 * `request` lets it through (it authenticates with a token), and refuses only a certificate that does not verify.
 */
export type ClientAuthMode = 'require' | 'request';

/** Where the listener's certificate comes from, once dev TLS has been resolved to its files. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string | undefined;
  readonly clientAuth?: ClientAuthMode | undefined;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Set for dev TLS: the CA clients trust with COFFER_CACERT. */
  readonly devCa?: string | undefined;
}

/**
 * The TLS files of a config: undefined for plain HTTP; dev TLS generated (or reused) first.
 * @throws ValidationError when plain HTTP is refused (a host that is not loopback, see `listenerTransport`)
 */
export async function tlsFilesOf(
  config: Pick<
    LocalConfig,
    | 'dataDir'
    | 'host'
    | 'tlsCert'
    | 'tlsKey'
    | 'tlsClientCa'
    | 'tlsClientAuth'
    | 'tlsMinVersion'
    | 'devTls'
    | 'insecurePlainHttp'
  >,
  now: Date = new Date(),
): Promise<TlsFiles | undefined> {
  const transport: ListenerTransport = listenerTransport(config);
  if (transport.kind === 'refused') throw new ValidationError(transport.reason);
  if (transport.kind === 'plain') return undefined;
  const common = { clientCa: config.tlsClientCa, clientAuth: config.tlsClientAuth, minVersion: config.tlsMinVersion };
  if (transport.kind === 'files') return { cert: transport.cert, key: transport.key, ...common };
  const dev = await ensureDevTls(dataPaths(config.dataDir).devTls, config.host, now);
  return { cert: dev.cert, key: dev.key, devCa: dev.ca, ...common };
}

/**
 * Reads the files into listener options. Each is checked here, so a bad file fails the start or the reload with its
 * name rather than as an opaque handshake error later.
 * @throws ValidationError naming the file that cannot be read or is not PEM
 */
export async function loadTlsOptions(files: TlsFiles): Promise<TlsListenerOptions> {
  const read = async (file: string, label: string, marker: RegExp) => {
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new ValidationError(`cannot read the TLS ${label} ${file}: ${err.code ?? 'error'}`);
    });
    if (!marker.test(bytes.toString('latin1'))) {
      throw new ValidationError(`the TLS ${label} ${file} is not in PEM form`);
    }
    return bytes;
  };
  const certificate = /-----BEGIN CERTIFICATE-----/;
  const [cert, key, ca] = await Promise.all([
    read(files.cert, 'certificate', certificate),
    read(files.key, 'key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
    files.clientCa === undefined ? undefined : read(files.clientCa, 'client CA', certificate),
  ]);
  return { cert, key, ca, clientAuth: files.clientAuth, minVersion: files.minVersion };
}

export interface DevTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** False when files of an earlier start were reused. */
  readonly generated: boolean;
}

/** A dev certificate this close to expiry, or not naming the host, is replaced at start. */
const RENEW_BEFORE_MS = 30 * 86_400_000;
const VALIDITY_MS = 365 * 86_400_000;
const BACKDATE_MS = 5 * 60_000;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/**
 * The development CA and server certificate in `dir` (ca.pem, server.pem, server-key.pem mode 0600): reused while
 * they name `host` and are not about to expire, otherwise generated anew. The CA's key is never written: it signs the
 * one server certificate and is dropped, so the CA a client trusts for dev TLS can vouch for nothing else.
 */
export async function ensureDevTls(dir: string, host: string, now: Date = new Date()): Promise<DevTlsFiles> {
  const files = {
    ca: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
  };
  const names = devNames(host);
  if (reusable(files, names, now)) return { ...files, generated: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { caPem, certPem, keyPem } = await generateDevTls(names, now);
  writeAtomically(files.key, keyPem, 0o600);
  writeAtomically(files.cert, certPem, 0o644);
  writeAtomically(files.ca, caPem, 0o644);
  return { ...files, generated: true };
}

/** The names a client may use for this node: the listen host, loopback, and for a wildcard this machine's own. */
export function devNames(host: string): { dns: string[]; ips: string[] } {
  const dns = new Set<string>(['localhost']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const add = (name: string) => {
    const bare = name.replace(/^\[|\]$/g, '');
    if (bare === '' || bare === '0.0.0.0' || bare === '::') return;
    if (isIP(bare) === 0) dns.add(bare.toLowerCase());
    else ips.add(bare);
  };
  add(host);
  if (host === '0.0.0.0' || host === '::') {
    add(os.hostname());
    for (const entries of Object.values(os.networkInterfaces())) {
      for (const entry of entries ?? []) if (!entry.internal) add(entry.address.split('%')[0]!);
    }
  }
  return { dns: [...dns], ips: [...ips] };
}

function reusable(
  files: { ca: string; cert: string; key: string },
  names: { dns: string[]; ips: string[] },
  now: Date,
) {
  if (!existsSync(files.ca) || !existsSync(files.cert) || !existsSync(files.key)) return false;
  try {
    const cert = new X509Certificate(readFileSync(files.cert));
    const ca = new X509Certificate(readFileSync(files.ca));
    if (!cert.checkIssued(ca)) return false;
    if (Date.parse(cert.validTo) - now.getTime() < RENEW_BEFORE_MS) return false;
    return (
      names.dns.every((name) => cert.checkHost(name, { wildcards: false }) !== undefined) &&
      names.ips.every((ip) => cert.checkIP(ip) !== undefined)
    );
  } catch {
    return false;
  }
}

/** A P-256 CA and a server certificate it signs for `names` (serverAuth), as PEM. */
export async function generateDevTls(
  names: { dns: readonly string[]; ips: readonly string[] },
  now: Date,
): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const subtle = webcrypto.subtle;
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + VALIDITY_MS);
  const caKeys = (await subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Coffer development CA ${os.hostname().slice(0, 32)}`,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SIGNING,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const serverKeys = (await subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const altNames: JsonGeneralNames = [
    ...names.dns.map((value) => ({ type: 'dns' as const, value })),
    ...names.ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.dns.find((name) => name !== 'localhost') ?? 'localhost'}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
      new SubjectAlternativeNameExtension(altNames),
      await SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
      await AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await subtle.exportKey('pkcs8', serverKeys.privateKey);
  return {
    caPem: `${ca.toString('pem')}\n`,
    certPem: `${cert.toString('pem')}\n`,
    keyPem: `${PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`,
  };
}

/** A positive 128-bit serial (the top bit clear, so DER needs no sign byte). */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** Written under a temporary name and renamed: a reader never sees half a key, and the mode is set before the bytes. */
function writeAtomically(file: string, contents: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, file);
}
