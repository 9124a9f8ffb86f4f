import { describe, expect, it } from 'vitest';
import { parseExtensionConfig } from '../../../lambdas/extension/config.ts';
import { createLogger } from '../../../lambdas/extension/logger.ts';

const base = { AWS_SESSION_TOKEN: 'session', COFFER_ADDR: 'https://coffer.example.com/prod' };

describe('Function: parseExtensionConfig', () => {
  it('applies the AWS extension’s defaults', () => {
    const config = parseExtensionConfig(base);
    expect(config).toMatchObject({
      port: 2773,
      maxConnections: 3,
      logLevel: 'info',
      signingService: 'execute-api',
      cofferToken: undefined,
      timeoutMs: undefined,
      cache: { enabled: true, maxEntries: 1000, ttlMs: 300_000, checkIntervalMs: 2000, staleWhileRevalidateMs: 1000 },
      warnings: [],
    });
  });

  it('reads the AWS variables', () => {
    const config = parseExtensionConfig({
      ...base,
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: '2999',
      PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE: '10',
      SECRETS_MANAGER_TTL: '60',
      SECRETS_MANAGER_TIMEOUT_MILLIS: '1500',
      PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS: '8',
      PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL: 'DEBUG',
    });
    expect(config).toMatchObject({ port: 2999, maxConnections: 8, logLevel: 'debug', timeoutMs: 1500 });
    expect(config.cache).toMatchObject({ maxEntries: 10, ttlMs: 60_000 });
  });

  it('answers loopback only unless COFFER_EXTENSION_ALLOWED_HOSTS names more', () => {
    expect(parseExtensionConfig(base).allowedHosts).toEqual([]);
    expect(parseExtensionConfig({ ...base, COFFER_EXTENSION_ALLOWED_HOSTS: ' a.internal, b ,' }).allowedHosts).toEqual([
      'a.internal',
      'b',
    ]);
    expect(() => parseExtensionConfig({ ...base, COFFER_EXTENSION_ALLOWED_HOSTS: 'http://x/' })).toThrow(
      /COFFER_EXTENSION_ALLOWED_HOSTS/,
    );
  });

  it('caps the TTL at 300 s with a warning, as AWS does', () => {
    const config = parseExtensionConfig({ ...base, SECRETS_MANAGER_TTL: '3600' });
    expect(config.cache.ttlMs).toBe(300_000);
    expect(config.warnings).toEqual([expect.stringContaining('SECRETS_MANAGER_TTL')]);
  });

  it.each([
    { PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED: 'false' },
    { PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE: '0' },
    { SECRETS_MANAGER_TTL: '0' },
  ])('turns the cache off with %o', (env) => {
    expect(parseExtensionConfig({ ...base, ...env }).cache.enabled).toBe(false);
  });

  it('lists every invalid variable by name, never by value', () => {
    const run = () =>
      parseExtensionConfig({
        AWS_SESSION_TOKEN: '',
        COFFER_ADDR: 'ftp://super-secret-host',
        COFFER_TOKEN: '',
        PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: '70000',
        PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE: '1001',
      });
    expect(run).toThrow(/invalid extension configuration/);
    try {
      run();
    } catch (err) {
      const message = (err as Error).message;
      for (const name of ['AWS_SESSION_TOKEN', 'COFFER_ADDR', 'COFFER_TOKEN', 'HTTP_PORT', 'CACHE_SIZE']) {
        expect(message).toContain(name);
      }
      expect(message).not.toContain('super-secret-host');
    }
  });
});

describe('Function: createLogger', () => {
  it('writes lines at or above its level only', () => {
    const lines: string[] = [];
    const log = createLogger('warn', (line) => lines.push(line));
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines).toEqual(['[Coffer Extension] WARN w\n', '[Coffer Extension] ERROR e\n']);
    const none = createLogger('none', (line) => lines.push(line));
    none.error('x');
    expect(lines).toHaveLength(2);
  });
});
