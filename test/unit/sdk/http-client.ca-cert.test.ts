import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevTls } from '../../../lambdas/entrypoints/local/tls.ts';
import { tokenAuthoriser } from '../../../lambdas/sdk/auth.ts';
import { CofferClient } from '../../../lambdas/sdk/client.ts';
import { CofferNetworkError } from '../../../lambdas/sdk/errors.ts';
import { CofferHttp, type CofferHttpOptions, fetchTrusting } from '../../../lambdas/sdk/http-client.ts';

let server: Server;
let endpoint: string;
let ca: string;
let otherCa: string;

beforeAll(async () => {
  const names = { dns: ['localhost'], ips: ['127.0.0.1'] };
  const pki = await generateDevTls(names, new Date());
  ca = pki.caPem;
  otherCa = (await generateDevTls(names, new Date())).caPem;
  server = createServer({ cert: pki.certPem, key: pki.keyPem, minVersion: 'TLSv1.3' }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"sealed":false}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const http = (caCert: CofferHttpOptions['caCert']) =>
  new CofferHttp({ endpoint, authorise: tokenAuthoriser('tok'), caCert });

describe('Class: CofferHttp with a CA certificate (COFFER_CACERT)', () => {
  it('reaches a server whose certificate chains to the given CA', async () => {
    expect(await http({ pem: ca }).request('GET', '/v1/sys/health')).toEqual({ sealed: false });
  });

  it('trusts that CA alone: a server of another CA is refused as a network error naming the certificate', async () => {
    const err = await http({ pem: otherCa })
      .request('GET', '/v1/sys/health')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferNetworkError);
    const cause = (err as CofferNetworkError).cause as Error & { cause?: NodeJS.ErrnoException };
    expect(cause.cause?.code).toMatch(/CERT|SIGNATURE|ISSUER/);
  });

  it('without one, trusts the system store, which does not know a private CA', async () => {
    await expect(http(undefined).request('GET', '/v1/sys/health')).rejects.toBeInstanceOf(CofferNetworkError);
  });

  it('reads the CA from a file at the first request, and names a file it cannot read', async () => {
    await expect(http({ file: '/nonexistent/ca.pem' }).request('GET', '/v1/sys/health')).rejects.toThrow(
      'cannot read the CA certificate file /nonexistent/ca.pem (COFFER_CACERT): ENOENT',
    );
  });

  it('refuses a CA that is not a PEM certificate', async () => {
    await expect(fetchTrusting('not a certificate')).rejects.toThrow(/holds no PEM certificate/);
  });
});

describe('Class: CofferClient with a CA certificate', () => {
  it('takes caCert as an option, and COFFER_CACERT as its default', async () => {
    const viaOption = new CofferClient({ endpoint, auth: { token: 't' }, caCert: ca, retry: { maxAttempts: 1 } });
    // The test server's answer is no secret description: reaching it over TLS is what counts here.
    await expect(viaOption.describe('app/db')).rejects.toMatchObject({ code: 'invalid_response' });
    const viaEnv = new CofferClient({
      endpoint,
      auth: { token: 't' },
      env: { COFFER_CACERT: '/nonexistent/env-ca.pem' },
      retry: { maxAttempts: 1 },
    });
    await expect(viaEnv.describe('app/db')).rejects.toThrow(/env-ca\.pem \(COFFER_CACERT\): ENOENT/);
  });
});
