/**
 * API-key rotation: the provider contract, the generic HTTP provider (`api-key-http`) and Coffer-managed keys
 * (`api-key-coffer`, validated through `POST /v1/apikeys/validate`).
 */
export type { ApiKeyProvider, IssuedApiKey } from './api-key-provider.ts';
export {
  API_KEY_PARTITION,
  API_KEY_PREFIX,
  type ApiKeyItem,
  type ApiKeyRecord,
  ApiKeyRegistry,
  type ApiKeyRegistryOptions,
  type ApiKeyState,
  type ApiKeyValidation,
  parseKey,
  type RegisterApiKeyInput,
  ScopesSchema,
} from './api-key-registry.ts';
export { type ApiKeyValue, DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS } from './api-key-value.ts';
export {
  type CofferApiKeyRotatorOptions,
  type CofferApiKeySettings,
  CofferApiKeySettingsSchema,
  cofferApiKeyRotator,
} from './coffer-api-key-rotator.ts';
export {
  ApiKeyProviderError,
  ApiKeyProviderUnavailableError,
  HttpApiKeyProvider,
  type HttpApiKeySettings,
  type HttpApiKeySettingsInput,
  HttpApiKeySettingsSchema,
  type HttpApiKeyStep,
} from './http-api-key-provider.ts';
export { type HttpApiKeyRotatorOptions, httpApiKeyRotator } from './http-api-key-rotator.ts';
