import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CofferClient } from '../../lambdas/sdk/index.ts';
import { api, COFFER_BIN, runCli, startServer, tempDir } from '../support/server-process.ts';

/**
 * Issue 12: certificate login from the CLI against the real server over mTLS. Coffer's own PKI issues the client
 * certificates; the listener asks for a client certificate (`--tls-client-auth request`), so token callers and
 * certificate logins share it.
 */

const { dir, cleanup } = tempDir('coffer-cert-e2e-');
const at = (name: string) => path.join(dir, name);
const dataDir = at('data');
let child: ChildProcess | undefined;
let address = '';
let rootToken = '';

interface Issued {
  certificate: string;
  private_key: string;
  serial_number: string;
  ca_chain: string[];
}

/** A PEM pair on disk, as a workload would have it. */
function keep(name: string, issued: { certificate: string; private_key: string }) {
  writeFileSync(at(`${name}.pem`), issued.certificate.endsWith('\n') ? issued.certificate : `${issued.certificate}\n`);
  writeFileSync(at(`${name}-key.pem`), issued.private_key, { mode: 0o600 });
  return { cert: at(`${name}.pem`), key: at(`${name}-key.pem`) };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA of its own (openssl) and a client certificate it signed: `name.pem`, `name-key.pem`, `name-ca.pem`. */
function foreignClient(name: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-days',
    '1',
    '-subj',
    `/CN=${name} CA`,
    '-keyout',
    `${name}-ca-key.pem`,
    '-out',
    `${name}-ca.pem`,
  ]);
  openssl(['req', ...ec, '-subj', '/CN=app.internal', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`]);
  writeFileSync(at(`${name}.ext`), 'extendedKeyUsage=clientAuth\n');
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${name}-ca.pem`,
    '-CAkey',
    `${name}-ca-key.pem`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ]);
  return { cert: at(`${name}.pem`), key: at(`${name}-key.pem`), ca: readFileSync(at(`${name}-ca.pem`), 'utf8') };
}

let app: { cert: string; key: string };
let billing: { cert: string; key: string };
let gone: { cert: string; key: string };
let trustedStranger: { cert: string; key: string };
let untrusted: { cert: string; key: string };

beforeAll(async () => {
  // 1. Plain loopback: the PKI engine builds its CA and issues the workloads' client certificates.
  const setup = await startServer(dataDir);
  rootToken = setup.rootToken;
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await api(setup.address, rootToken, method, url, body);
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body as unknown as Record<string, unknown>;
  };
  await call('PUT', '/v1/sys/policies/app-read', { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] });
  await call('PUT', '/v1/secret/data/app/db', { value: 'app-db-password' });
  await call('PUT', '/v1/secret/data/billing/db', { value: 'billing-db-password' });
  await call('POST', '/v1/pki/root/generate', { common_name: 'Clients Root', key_type: 'ec-p256', ttl: '720h' });
  await call('POST', '/v1/pki/intermediate/generate', {
    common_name: 'Clients Issuing CA',
    key_type: 'ec-p256',
    sign_with_root: true,
    ttl: '360h',
  });
  await call('PUT', '/v1/pki/roles/workloads', { allowed_domains: ['internal'], allow_subdomains: true });
  const issue = async (cn: string) =>
    (await call('POST', '/v1/pki/issue/workloads', { common_name: cn })) as unknown as Issued;
  const appCert = await issue('app.internal');
  app = keep('app', appCert);
  billing = keep('billing', await issue('billing.internal'));
  const goneCert = await issue('gone.app.internal');
  gone = keep('gone', goneCert);
  await call('POST', '/v1/pki/revoke', { serial_number: goneCert.serial_number });
  // Issuing CA then root: the listener needs the whole chain to verify a client that sends only its own certificate.
  writeFileSync(at('issuing-ca.pem'), appCert.ca_chain.join('\n'));
  await setup.stop();

  // 2. The same node over TLS, asking for client certificates from its own CA and from a stranger's CA.
  const stranger = foreignClient('stranger');
  trustedStranger = stranger;
  untrusted = foreignClient('outsider');
  writeFileSync(at('client-cas.pem'), `${appCert.ca_chain.join('\n')}\n${stranger.ca}`);
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
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    'server-key.pem',
    '-out',
    'server.pem',
  ]);
  const args = [
    COFFER_BIN,
    'server',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--tls-cert',
    at('server.pem'),
    '--tls-key',
    at('server-key.pem'),
    '--tls-client-ca',
    at('client-cas.pem'),
    '--tls-client-auth',
    'request',
  ];
  const server = spawn(process.execPath, args, {
    env: { ...process.env, COFFER_TOKEN: '', COFFER_PASSPHRASE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = server;
  let out = '';
  address = await new Promise<string>((resolve, reject) => {
    const look = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /listening on (https:\/\/[\d.]+:\d+)/.exec(out);
      if (match !== null) resolve(match[1]!);
    };
    server.stdout!.on('data', look);
    server.stderr!.on('data', look);
    server.once('exit', () => reject(new Error(`server exited before listening:\n${out}`)));
  });
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  cleanup();
});

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, {
    env: { COFFER_ADDR: address, COFFER_CACERT: at('server.pem'), COFFER_TOKEN: rootToken, ...env },
  });

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await cli(args, env);
  expect(result.code, `coffer ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** `coffer login --method cert` with the given pair, without a token. */
const login = (pair: { cert: string; key: string } | undefined, extra: string[] = []) =>
  cli(
    [
      'login',
      '--method',
      'cert',
      ...extra,
      ...(pair === undefined ? [] : ['--client-cert', pair.cert, '--client-key', pair.key]),
    ],
    { COFFER_TOKEN: '' },
  );

interface AuditLine {
  type: string;
  operation: string;
  outcome?: string;
  denied?: { path: string; reason?: string };
}
const deniedLogins = () =>
  readFileSync(path.join(dataDir, 'audit', 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditLine)
    .filter((line) => line.type === 'response' && line.operation === 'auth.login' && line.outcome === 'denied')
    .map((line) => line.denied?.reason);

describe('coffer login --method cert over mTLS', () => {
  it('mounts the method and writes a role with a token (no client certificate needed in request mode)', async () => {
    expect(await ok(['auth', 'enable', 'cert'])).toContain('enabled cert at auth/cert/');
    await ok([
      'cert',
      'role',
      'put',
      'app',
      '--certificate-file',
      at('issuing-ca.pem'),
      '--common-name',
      'app.internal',
      '--common-name',
      'gone.app.internal',
      '--policy',
      'app-read',
      '--token-ttl',
      '10m',
    ]);
    expect(await ok(['cert', 'role', 'list'])).toBe('app\n');
    expect(await ok(['cert', 'role', 'get', 'app'])).toMatch(/^certificate\s+2 certificate\(s\)$/m);
  });

  it('logs a workload in with its certificate; the token reads what the role allows and nothing else', async () => {
    const result = await login(app, ['-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const { auth } = JSON.parse(result.stdout) as {
      auth: { client_token: string; policies: string[]; role_name: string; metadata: Record<string, string> };
    };
    expect(auth).toMatchObject({ policies: ['app-read'], role_name: 'app' });
    expect(auth.metadata).toMatchObject({ cert_name: 'app', common_name: 'app.internal' });
    const read = await cli(['secret', 'get', 'app/db'], { COFFER_TOKEN: auth.client_token });
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toContain('app-db-password');
    const refused = await cli(['secret', 'get', 'billing/db'], { COFFER_TOKEN: auth.client_token });
    expect(refused.code).toBe(4);
    // The same certificate through COFFER_CLIENT_CERT/_KEY and the role named.
    const viaEnv = await cli(['login', '--method', 'cert', '--name', 'app', '--field', 'token'], {
      COFFER_TOKEN: '',
      COFFER_CLIENT_CERT: app.cert,
      COFFER_CLIENT_KEY: app.key,
    });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toMatch(/^cft_/);
  });

  it('lets coffer agent log in with the certificate (auto_auth cert) and render what the role allows', async () => {
    writeFileSync(
      at('agent.json'),
      JSON.stringify({
        auto_auth: { method: 'cert', name: 'app', client_cert: app.cert, client_key: app.key },
        templates: [{ contents: 'password={{ secret "app/db" }}', destination: 'agent-db.conf' }],
      }),
    );
    const result = await cli(['agent', '--once', '--config', at('agent.json')], { COFFER_TOKEN: '' });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(at('agent-db.conf'), 'utf8')).toBe('password=app-db-password');
    expect(result.stderr).toContain('logged in (cert login at auth/cert');
    expect(result.stderr).not.toContain('BEGIN');
  });

  it('lets the SDK log in with the certificate (auth.login cert) and read within the role', async () => {
    const coffer = new CofferClient({
      endpoint: address,
      caCert: readFileSync(at('server.pem')),
      clientCert: readFileSync(app.cert),
      clientKey: readFileSync(app.key),
      auth: { login: { method: 'cert', name: 'app' } },
      env: {},
    });
    expect((await coffer.getSecretValue({ secretId: 'app/db' })).SecretString).toBe('app-db-password');
    await expect(coffer.getSecretValue({ secretId: 'billing/db' })).rejects.toThrow(/denied|not allowed|permission/i);
  });

  it('refuses a revoked certificate, another name, another CA and no certificate, each with a reason in the audit log', async () => {
    const revoked = await login(gone, ['--name', 'app']);
    expect(revoked.code).toBe(4);
    expect(revoked.stderr).toContain('certificate revoked');

    const wrongName = await login(billing, ['--name', 'app']);
    expect(wrongName.code).toBe(4);
    expect(wrongName.stderr).toContain('common name not allowed by the role');

    // The listener trusts the stranger's CA, the role does not: refused at login.
    const stranger = await login(trustedStranger);
    expect(stranger.code).toBe(4);
    expect(stranger.stderr).toContain('no role of this mount accepts the client certificate');

    const bare = await login(undefined);
    expect(bare.code).toBe(4);
    expect(bare.stderr).toContain('the login needs a TLS client certificate: connect over mTLS');

    expect(deniedLogins()).toEqual([
      'cert login at auth/cert (role app) refused: cert revoked: certificate revoked',
      'cert login at auth/cert (role app) refused: cert name: common name not allowed by the role',
      'cert login at auth/cert refused: cert no_role: no role accepted the certificate (app: untrusted)',
      'cert login at auth/cert refused: cert no_certificate: the login needs a TLS client certificate: connect over mTLS',
    ]);
  });

  it('closes the connection of a certificate the listener cannot verify, before any request is read', async () => {
    const before = deniedLogins().length;
    const outsider = await login(untrusted);
    expect(outsider.code).toBe(6);
    expect(outsider.stderr).toMatch(/cannot reach Coffer/);
    expect(deniedLogins()).toHaveLength(before);
  });

  it('answers openssl s_client without a client certificate in request mode, and not with an unverifiable one', async () => {
    const port = new URL(address).port;
    const sClient = (args: string[]) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const proc = spawn(
          'openssl',
          ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-CAfile', at('server.pem'), '-ign_eof', ...args],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        let output = '';
        proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        proc.stdin.end(`GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
        proc.once('close', (code) => resolve({ code, output }));
      });
    const bare = await sClient([]);
    expect(bare.output).toMatch(/HTTP\/1\.1 200/);
    const withApp = await sClient(['-cert', app.cert, '-key', app.key]);
    expect(withApp.output).toMatch(/HTTP\/1\.1 200/);
    const outsider = await sClient(['-cert', untrusted.cert, '-key', untrusted.key]);
    expect(outsider.output).not.toMatch(/HTTP\/1\.1 200/);
  });

  it("refuses a certificate of another CA once the role holds that CA's CRL listing it (coffer cert role put --crl-file)", async () => {
    const role = [
      'cert',
      'role',
      'put',
      'partner',
      '--certificate-file',
      at('stranger-ca.pem'),
      '--policy',
      'app-read',
    ];
    await ok(role);
    const before = await login(trustedStranger, ['--name', 'partner']);
    expect(before.code, before.stderr).toBe(0);

    // The partner's CA revokes the certificate and publishes its CRL (openssl ca).
    writeFileSync(at('stranger-index.txt'), '');
    writeFileSync(
      at('stranger-ca.cnf'),
      '[ca]\ndefault_ca = partner\n[partner]\ndatabase = stranger-index.txt\ndefault_md = sha256\ndefault_crl_days = 1\n',
    );
    const ca = ['-config', 'stranger-ca.cnf', '-keyfile', 'stranger-ca-key.pem', '-cert', 'stranger-ca.pem'];
    openssl(['ca', ...ca, '-revoke', 'stranger.pem']);
    openssl(['ca', ...ca, '-gencrl', '-out', 'stranger.crl']);
    await ok([...role, '--crl-file', at('stranger.crl')]);
    expect(await ok(['cert', 'role', 'get', 'partner'])).toMatch(/^crls\s+1 CRL\(s\)$/m);
    const after = await login(trustedStranger, ['--name', 'partner']);
    expect(after.code).toBe(4);
    expect(after.stderr).toContain('certificate revoked');
    expect(deniedLogins().at(-1)).toBe(
      'cert login at auth/cert (role partner) refused: cert revoked: certificate revoked',
    );
  });
});
