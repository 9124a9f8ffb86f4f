import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliError, ExitCode } from '../../../../lambdas/agent/exit-codes.ts';
import { ApiClient } from '../../../../lambdas/entrypoints/cli/api-client.ts';
import { makeServerPki } from '../../../support/kubernetes-api.ts';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

async function failure(client: ApiClient): Promise<CliError> {
  const err = await client.call('GET', '/v1/sys/health').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

describe('Class: ApiClient over https', () => {
  it('says an untrusted server certificate is one, and how to trust its CA (exit 6)', async () => {
    const untrusted = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('fetch failed', { cause: untrusted });
      }),
    );
    const err = await failure(new ApiClient({ address: 'https://coffer.test:8270', token: 't' }));
    expect(err.exitCode).toBe(ExitCode.unavailable);
    expect(err.message).toBe(
      'cannot reach Coffer at https://coffer.test:8270: its TLS certificate is not trusted (self-signed certificate in ' +
        'certificate chain); set COFFER_CACERT to the PEM file of the CA that issued it',
    );
  });

  it('reads COFFER_CACERT, naming the file when it cannot', async () => {
    vi.stubEnv('COFFER_CACERT', '/nonexistent/coffer-ca.pem');
    const err = await failure(new ApiClient({ address: 'https://coffer.test:8270', token: 't' }));
    expect(err.exitCode).toBe(ExitCode.unavailable);
    expect(err.message).toContain(
      'cannot read the CA certificate file /nonexistent/coffer-ca.pem (COFFER_CACERT): ENOENT',
    );
  });

  it('lets an explicit CA file win over COFFER_CACERT', async () => {
    vi.stubEnv('COFFER_CACERT', '/nonexistent/env.pem');
    const err = await failure(
      new ApiClient({ address: 'https://coffer.test:8270', token: 't', caCertFile: '/nonexistent/flag.pem' }),
    );
    expect(err.message).toContain('/nonexistent/flag.pem');
  });

  it('reads COFFER_CLIENT_CERT and COFFER_CLIENT_KEY, and refuses one without the other (usage)', async () => {
    vi.stubEnv('COFFER_CLIENT_CERT', '/nonexistent/client.pem');
    expect(() => new ApiClient({ address: 'https://coffer.test:8270', token: undefined })).toThrow(
      expect.objectContaining({ exitCode: ExitCode.usage, message: expect.stringMatching(/--client-key/) }),
    );
    vi.stubEnv('COFFER_CLIENT_KEY', '/nonexistent/client-key.pem');
    const err = await failure(new ApiClient({ address: 'https://coffer.test:8270', token: undefined }));
    expect(err.exitCode).toBe(ExitCode.unavailable);
    expect(err.message).toContain(
      'cannot read the client certificate file /nonexistent/client.pem (COFFER_CLIENT_CERT): ENOENT',
    );
  });

  it('trusts the PEM text of COFFER_CACERT_PEM alone (the injected agent has no CA file), and COFFER_CACERT wins', async () => {
    const pki = makeServerPki('cacert-pem-test-ca');
    const server = createServer({ cert: pki.certPem, key: pki.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"initialized":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      vi.stubEnv('COFFER_CACERT', '');
      const untrusted = await failure(new ApiClient({ address, token: undefined }));
      expect(untrusted.message).toContain('not trusted');
      vi.stubEnv('COFFER_CACERT_PEM', pki.caPem);
      expect(await new ApiClient({ address, token: undefined }).call('GET', '/v1/sys/health')).toEqual({
        initialized: true,
      });
      vi.stubEnv('COFFER_CACERT', '/nonexistent/env.pem');
      expect((await failure(new ApiClient({ address, token: undefined }))).message).toContain('/nonexistent/env.pem');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
