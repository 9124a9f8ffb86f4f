/**
 * The Coffer extension cache. In Lambda, `main.ts` runs it as an external extension; elsewhere (`coffer agent
 * --cache`), `startSecretsCache` serves the same protocol as a local sidecar.
 */
export { type CacheSettings, type ExtensionConfig, parseExtensionConfig } from './config.ts';
export { createLogger, type Logger } from './logger.ts';
export { EXTENSION_NAME, runExtension } from './run-extension.ts';
export {
  DEFAULT_CACHE_SETTINGS,
  type SecretsCacheServer,
  type SecretsCacheServerOptions,
  startSecretsCache,
  TOKEN_HEADER,
} from './secrets-server.ts';
