/** Coffer's TypeScript SDK: `CofferClient`, its errors and types. The middy middleware is `lambdas/sdk/middy.ts`. */
export type { AwsCredentials, AwsCredentialsProvider, CofferAuth, SigV4AuthOptions } from './auth.ts';
export { CofferClient, type CofferClientCacheOptions, type CofferClientOptions } from './client.ts';
export {
  CofferAccessDeniedError,
  CofferClientError,
  CofferConflictError,
  CofferInvalidRequestError,
  CofferNetworkError,
  CofferNotFoundError,
  CofferServerError,
  CofferThrottledError,
  CofferValidationError,
} from './errors.ts';
export type { AppRoleLogin, CertLogin, JwtLogin, LdapLogin, LoginOptions } from './login-options.ts';
export type { RetryOptions } from './retry.ts';
export { SecretCache, type SecretCacheOptions, type SecretCacheStats, type SecretSource } from './secret-cache.ts';
export type * from './types.ts';
