import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { isLoopbackHost, listenerTransport, loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';

describe('Function: loadLocalConfig, TLS settings', () => {
  it('reads the certificate, key and client CA from COFFER_TLS_* and lets flags win', () => {
    const env = { COFFER_TLS_CERT: 'env.pem', COFFER_TLS_KEY: 'env-key.pem', COFFER_TLS_CLIENT_CA: 'clients.pem' };
    expect(loadLocalConfig(env)).toMatchObject({
      tlsCert: 'env.pem',
      tlsKey: 'env-key.pem',
      tlsClientCa: 'clients.pem',
    });
    expect(loadLocalConfig(env, { tlsCert: 'flag.pem', tlsKey: undefined })).toMatchObject({
      tlsCert: 'flag.pem',
      tlsKey: 'env-key.pem',
    });
  });

  it('accepts TLS 1.3 by default and 1.2 only when asked for', () => {
    expect(loadLocalConfig({}).tlsMinVersion).toBe('TLSv1.3');
    expect(loadLocalConfig({ COFFER_TLS_MIN_VERSION: 'TLSv1.2' }).tlsMinVersion).toBe('TLSv1.2');
    expect(loadLocalConfig({}, { tlsMinVersion: '1.2' }).tlsMinVersion).toBe('TLSv1.2');
    expect(() => loadLocalConfig({ COFFER_TLS_MIN_VERSION: '1.1' })).toThrow(/TLS minimum version must be 1.2 or 1.3/);
  });

  it('refuses a certificate without its key, and a key without its certificate', () => {
    expect(() => loadLocalConfig({ COFFER_TLS_CERT: 'c.pem' })).toThrow(ValidationError);
    expect(() => loadLocalConfig({ COFFER_TLS_KEY: 'k.pem' })).toThrow(/--tls-cert and --tls-key/);
  });

  it('refuses settings that contradict each other rather than letting one win', () => {
    const files = { COFFER_TLS_CERT: 'c.pem', COFFER_TLS_KEY: 'k.pem' };
    expect(() => loadLocalConfig({ ...files, COFFER_DEV_TLS: '1' })).toThrow(/--dev-tls/);
    expect(() => loadLocalConfig({ ...files, COFFER_INSECURE_PLAIN_HTTP: '1' })).toThrow(/--insecure-plain-http/);
    // A client CA asks for client certificates, which plain HTTP cannot do.
    expect(() => loadLocalConfig({ COFFER_TLS_CLIENT_CA: 'ca.pem' })).toThrow(/--tls-client-ca .* needs TLS/);
    expect(loadLocalConfig({ COFFER_TLS_CLIENT_CA: 'ca.pem', COFFER_DEV_TLS: 'true' }).tlsClientCa).toBe('ca.pem');
  });

  it('reads the client auth mode (require or request) and refuses one without a client CA', () => {
    const tls = { COFFER_TLS_CLIENT_CA: 'ca.pem', COFFER_DEV_TLS: 'true' };
    expect(loadLocalConfig(tls).tlsClientAuth).toBeUndefined();
    expect(loadLocalConfig({ ...tls, COFFER_TLS_CLIENT_AUTH: 'request' }).tlsClientAuth).toBe('request');
    expect(loadLocalConfig({ ...tls, COFFER_TLS_CLIENT_AUTH: 'request' }, { tlsClientAuth: 'require' })).toMatchObject({
      tlsClientAuth: 'require',
    });
    expect(() => loadLocalConfig({ ...tls, COFFER_TLS_CLIENT_AUTH: 'optional' })).toThrow(/require or request/);
    expect(() => loadLocalConfig({ COFFER_DEV_TLS: 'true', COFFER_TLS_CLIENT_AUTH: 'request' })).toThrow(
      /--tls-client-auth .* needs --tls-client-ca/,
    );
  });

  it('reads yes/no variables strictly', () => {
    expect(loadLocalConfig({ COFFER_DEV_TLS: 'no' }).devTls).toBe(false);
    expect(loadLocalConfig({ COFFER_INSECURE_PLAIN_HTTP: '' }).insecurePlainHttp).toBe(false);
    expect(() => loadLocalConfig({ COFFER_INSECURE_PLAIN_HTTP: 'sure' })).toThrow(
      /COFFER_INSECURE_PLAIN_HTTP must be 1 or 0/,
    );
  });
});

describe('Function: listenerTransport', () => {
  const base = { tlsCert: undefined, tlsKey: undefined, devTls: undefined, insecurePlainHttp: false };

  it('keeps plain HTTP on loopback, so the quick start needs no certificate', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) {
      expect(listenerTransport({ ...base, host }).kind, host).toBe('plain');
    }
  });

  it('uses dev TLS on a host other hosts reach when no certificate is configured', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'coffer.lan']) {
      expect(listenerTransport({ ...base, host }).kind, host).toBe('dev');
    }
  });

  it('refuses plain HTTP on such a host unless --insecure-plain-http is given', () => {
    const refused = listenerTransport({ ...base, host: '0.0.0.0', devTls: false });
    expect(refused).toEqual({ kind: 'refused', reason: expect.stringMatching(/--insecure-plain-http/) });
    expect(listenerTransport({ ...base, host: '0.0.0.0', insecurePlainHttp: true }).kind).toBe('plain');
  });

  it('serves the configured certificate anywhere, and dev TLS on loopback when asked', () => {
    expect(listenerTransport({ ...base, host: '127.0.0.1', tlsCert: 'c.pem', tlsKey: 'k.pem' })).toEqual({
      kind: 'files',
      cert: 'c.pem',
      key: 'k.pem',
    });
    expect(listenerTransport({ ...base, host: '127.0.0.1', devTls: true }).kind).toBe('dev');
  });
});

describe('Function: isLoopbackHost', () => {
  it('does not take a wildcard or a name that merely starts like loopback for loopback', () => {
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.example.com')).toBe(false);
    expect(isLoopbackHost('localhost.example.com')).toBe(false);
  });
});
