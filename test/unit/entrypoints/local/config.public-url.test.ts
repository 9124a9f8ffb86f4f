import { describe, expect, it } from 'vitest';
import { loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';

describe('Function: loadLocalConfig, the public URL', () => {
  it('follows the configured port and host when COFFER_PUBLIC_URL is unset', () => {
    expect(loadLocalConfig({}).publicUrl).toBe('http://127.0.0.1:8270');
    expect(loadLocalConfig({ COFFER_PORT: '9443' }).publicUrl).toBe('http://127.0.0.1:9443');
    expect(loadLocalConfig({}, { host: 'coffer.lan', port: 8300, insecurePlainHttp: true }).publicUrl).toBe(
      'http://coffer.lan:8300',
    );
  });

  it('names an address a client can reach for a wildcard listen address', () => {
    const plain = { COFFER_INSECURE_PLAIN_HTTP: '1', COFFER_PORT: '9000' };
    expect(loadLocalConfig({ ...plain, COFFER_HOST: '0.0.0.0' }).publicUrl).toBe('http://127.0.0.1:9000');
    expect(loadLocalConfig({ ...plain, COFFER_HOST: '::' }).publicUrl).toBe('http://localhost:9000');
    expect(loadLocalConfig({ COFFER_HOST: '::1', COFFER_PORT: '9000' }).publicUrl).toBe('http://[::1]:9000');
  });

  it('says https when the listener serves TLS', () => {
    expect(loadLocalConfig({ COFFER_TLS_CERT: 'c.pem', COFFER_TLS_KEY: 'k.pem' }).publicUrl).toBe(
      'https://127.0.0.1:8270',
    );
    expect(loadLocalConfig({ COFFER_DEV_TLS: '1', COFFER_PORT: '9443' }).publicUrl).toBe('https://127.0.0.1:9443');
    // A host other hosts reach gets dev TLS by default.
    expect(loadLocalConfig({ COFFER_HOST: '0.0.0.0', COFFER_PORT: '9000' }).publicUrl).toBe('https://127.0.0.1:9000');
  });

  it('keeps COFFER_PUBLIC_URL when it is set', () => {
    expect(loadLocalConfig({ COFFER_PUBLIC_URL: 'https://coffer.example', COFFER_PORT: '9000' }).publicUrl).toBe(
      'https://coffer.example',
    );
  });
});
