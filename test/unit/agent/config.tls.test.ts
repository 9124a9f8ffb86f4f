import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../lambdas/agent/config.ts';

describe('Function: parseAgentConfig, the cache listener TLS', () => {
  it('resolves the certificate and key against the config directory', () => {
    const config = parseAgentConfig(
      { cache: { port: 0, tls_cert: 'tls/cache.pem', tls_key: '/keys/cache.pem' } },
      '/etc/coffer',
    );
    expect(config.cache).toMatchObject({
      tls_cert: '/etc/coffer/tls/cache.pem',
      tls_key: '/keys/cache.pem',
    });
  });

  it('refuses a certificate without its key and versions other than 1.2 and 1.3', () => {
    expect(() => parseAgentConfig({ cache: { port: 0, tls_cert: 'c.pem' } }, '/etc')).toThrow(/tls_cert and tls_key/);
    expect(() =>
      parseAgentConfig({ cache: { port: 0, tls_cert: 'c.pem', tls_key: 'k.pem', tls_min_version: '1.1' } }, '/etc'),
    ).toThrow(/tls_min_version/);
  });
});
