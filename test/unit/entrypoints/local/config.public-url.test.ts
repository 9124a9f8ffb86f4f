import { describe, expect, it } from 'vitest';
import { loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';

describe('Function: loadLocalConfig, the public URL', () => {
  it('follows the configured port and host when COFFER_PUBLIC_URL is unset', () => {
    expect(loadLocalConfig({}).publicUrl).toBe('http://127.0.0.1:8270');
    expect(loadLocalConfig({ COFFER_PORT: '9443' }).publicUrl).toBe('http://127.0.0.1:9443');
    expect(loadLocalConfig({}, { host: 'coffer.lan', port: 8300 }).publicUrl).toBe('http://coffer.lan:8300');
  });

  it('names an address a client can reach for a wildcard listen address', () => {
    expect(loadLocalConfig({ COFFER_HOST: '0.0.0.0', COFFER_PORT: '9000' }).publicUrl).toBe('http://127.0.0.1:9000');
    expect(loadLocalConfig({ COFFER_HOST: '::', COFFER_PORT: '9000' }).publicUrl).toBe('http://localhost:9000');
    expect(loadLocalConfig({ COFFER_HOST: '::1', COFFER_PORT: '9000' }).publicUrl).toBe('http://[::1]:9000');
  });

  it('keeps COFFER_PUBLIC_URL when it is set', () => {
    expect(loadLocalConfig({ COFFER_PUBLIC_URL: 'https://coffer.example', COFFER_PORT: '9000' }).publicUrl).toBe(
      'https://coffer.example',
    );
  });
});
