import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevTls } from '../../../lambdas/entrypoints/local/tls.ts';
import { tokenAuthoriser } from '../../../lambdas/sdk/auth.ts';
import { CofferClient } from '../../../lambdas/sdk/client.ts';
import { CofferNetworkError } from '../../../lambdas/sdk/errors.ts';
import { CofferHttp, type CofferHttpOptions } from '../../../lambdas/sdk/http-client.ts';
import { makeCa, type TestCa } from '../core/auth/cert/cert-test-ca.ts';

let server: Server;
let endpoint: string;
let serverCa: string;
let clientCa: TestCa;
/** The subject of the client certificate each request presented, as the server saw it ('' for none). */
const seen: string[] = [];

beforeAll(async () => {
  const pki = await generateDevTls({ dns: ['localhost'], ips: ['127.0.0.1'] }, new Date());
  serverCa = pki.caPem;
  clientCa = await makeCa(Date.now());
  // Asks for a client certificate and requires one: the request only gets through with a verified certificate.
  server = createServer(
    { cert: pki.certPem, key: pki.keyPem, ca: clientCa.pem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      seen.push((req.socket as TLSSocket).getPeerX509Certificate()?.subject ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const http = (tls: Pick<CofferHttpOptions, 'clientCert' | 'clientKey'>) =>
  new CofferHttp({ endpoint, authorise: tokenAuthoriser('tok'), caCert: { pem: serverCa }, ...tls });

describe('Class: CofferHttp with a client certificate (COFFER_CLIENT_CERT, COFFER_CLIENT_KEY)', () => {
  it('presents the certificate and key given as PEM to a server that requires one', async () => {
    const client = await clientCa.issue({ subject: 'CN=sdk-client', withKey: true });
    expect(
      await http({ clientCert: { pem: client.pem }, clientKey: { pem: client.keyPem! } }).request('GET', '/'),
    ).toEqual({ ok: true });
    expect(seen.at(-1)).toBe('CN=sdk-client');
  });

  it('is refused by that server without one', async () => {
    await expect(http({}).request('GET', '/')).rejects.toBeInstanceOf(CofferNetworkError);
  });

  it('refuses a certificate without its key, and names a file it cannot read', async () => {
    const client = await clientCa.issue({ withKey: true });
    await expect(http({ clientCert: { pem: client.pem } }).request('GET', '/')).rejects.toThrow(
      'a client certificate needs its key, and a key its certificate',
    );
    await expect(
      http({ clientCert: { file: '/nonexistent/client.pem' }, clientKey: { pem: client.keyPem! } }).request('GET', '/'),
    ).rejects.toThrow('cannot read the client certificate file /nonexistent/client.pem (COFFER_CLIENT_CERT): ENOENT');
    // A key that is not PEM is refused without echoing it.
    const err = await http({ clientCert: { pem: client.pem }, clientKey: { pem: 'hunter2-not-a-key' } })
      .request('GET', '/')
      .catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/holds no PEM private key/);
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describe('Class: CofferClient with a client certificate', () => {
  it('takes clientCert and clientKey as options, and COFFER_CLIENT_CERT/_KEY files as their default', async () => {
    const client = await clientCa.issue({ subject: 'CN=sdk-option', withKey: true });
    const viaOption = new CofferClient({
      endpoint,
      auth: { token: 't' },
      caCert: serverCa,
      clientCert: client.pem,
      clientKey: client.keyPem!,
      retry: { maxAttempts: 1 },
    });
    // The test server's answer is no secret description: reaching it with the certificate is what counts here.
    await expect(viaOption.describe('app/db')).rejects.toMatchObject({ code: 'invalid_response' });
    expect(seen.at(-1)).toBe('CN=sdk-option');
    const viaEnv = new CofferClient({
      endpoint,
      auth: { token: 't' },
      caCert: serverCa,
      env: { COFFER_CLIENT_CERT: '/nonexistent/env-client.pem', COFFER_CLIENT_KEY: '/nonexistent/env-key.pem' },
      retry: { maxAttempts: 1 },
    });
    await expect(viaEnv.describe('app/db')).rejects.toThrow(/env-client\.pem \(COFFER_CLIENT_CERT\): ENOENT/);
  });
});
