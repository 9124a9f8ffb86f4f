/**
 * The API-key provider contract: whatever issues, checks and revokes keys (a vendor's HTTP API, Coffer's own
 * registry). The rotators in this folder drive a provider through the four rotation steps; a provider only knows
 * about keys.
 */

/** A freshly issued key. `keyId` is not secret (it goes into revocation handles and logs); `apiKey` is. */
export interface IssuedApiKey {
  readonly keyId: string;
  readonly apiKey: string;
}

/**
 * One API-key issuer.
 *
 * Errors: throw `TransientRotationError` for failures worth retrying (network, timeouts, 5xx) and `RotationStepError`
 * for the rest. A message must never contain a key or the provider's own credential.
 *
 * @example
 * const provider: ApiKeyProvider = new HttpApiKeyProvider(settings, credential);
 * const { keyId, apiKey } = await provider.create();
 * await provider.test(apiKey);
 * await provider.revoke(keyId);
 */
export interface ApiKeyProvider {
  /** Issues a new key, valid at once. */
  create(): Promise<IssuedApiKey>;
  /** Proves `apiKey` is accepted. @throws when it is not */
  test(apiKey: string): Promise<void>;
  /** Revokes a key. Idempotent: succeeds when the key is already revoked or unknown. */
  revoke(keyId: string): Promise<void>;
}
