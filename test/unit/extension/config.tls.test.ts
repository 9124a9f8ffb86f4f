import { describe, expect, it } from 'vitest';
import { parseExtensionConfig } from '../../../lambdas/extension/config.ts';

const base = { AWS_SESSION_TOKEN: 'session', COFFER_ADDR: 'https://coffer.example.com/prod' };

describe('Function: parseExtensionConfig, the listener TLS', () => {
  it('serves plain HTTP on its loopback port unless given a certificate and key', () => {
    expect(parseExtensionConfig(base).tls).toBeUndefined();
    expect(
      parseExtensionConfig({ ...base, COFFER_EXTENSION_TLS_CERT: '/opt/c.pem', COFFER_EXTENSION_TLS_KEY: '/opt/k.pem' })
        .tls,
    ).toEqual({ certFile: '/opt/c.pem', keyFile: '/opt/k.pem', minVersion: 'TLSv1.3' });
  });

  it('accepts TLS 1.2 only when asked for, and a certificate only with its key', () => {
    const files = { COFFER_EXTENSION_TLS_CERT: 'c.pem', COFFER_EXTENSION_TLS_KEY: 'k.pem' };
    expect(parseExtensionConfig({ ...base, ...files, COFFER_EXTENSION_TLS_MIN_VERSION: '1.2' }).tls?.minVersion).toBe(
      'TLSv1.2',
    );
    expect(() => parseExtensionConfig({ ...base, COFFER_EXTENSION_TLS_CERT: 'c.pem' })).toThrow(/go together/);
    expect(() => parseExtensionConfig({ ...base, ...files, COFFER_EXTENSION_TLS_MIN_VERSION: '1.1' })).toThrow(
      /COFFER_EXTENSION_TLS_MIN_VERSION/,
    );
  });
});
