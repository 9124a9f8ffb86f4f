import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliError, ExitCode } from '../../../../lambdas/agent/exit-codes.ts';
import { ApiClient } from '../../../../lambdas/entrypoints/cli/api-client.ts';

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
});
