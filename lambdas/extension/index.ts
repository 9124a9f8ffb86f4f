/**
 * The Coffer extension cache. In Lambda, `main.ts` runs it as an external extension; elsewhere (`coffer agent
 * --cache`), the SDK's `startSecretsCache` serves the same protocol as a local sidecar.
 */
export {
  type CacheSettings,
  DEFAULT_CACHE_SETTINGS,
  type Logger,
  type SecretsCacheServer,
  type SecretsCacheServerOptions,
  startSecretsCache,
  TOKEN_HEADER,
} from '../sdk/secrets-server.ts';
export { type ExtensionConfig, parseExtensionConfig } from './config.ts';
export { createLogger } from './logger.ts';
export { EXTENSION_NAME, runExtension } from './run-extension.ts';
