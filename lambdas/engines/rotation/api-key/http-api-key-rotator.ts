import { NotFoundError } from '../../../core/errors.ts';
import {
  type RotationSecrets,
  RotationStepError,
  type Rotator,
  type RotatorContext,
} from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import { handleKeyId, keyOf, parseWith, requireKey, retireAfter, valueFields, withKey } from './api-key-value.ts';
import {
  HttpApiKeyProvider,
  type HttpApiKeySettings,
  HttpApiKeySettingsSchema,
  isHeaderSafe,
  pickField,
} from './http-api-key-provider.ts';

export interface HttpApiKeyRotatorOptions {
  /** The fetch used for provider calls, so tests can swap it. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * The `api-key-http` rotation type: rotates a key issued by a third-party HTTP API (see {@link HttpApiKeySettings}).
 *
 * - createSecret creates the key at the provider (so it is live from then on) and stores `{ keyId, apiKey }` plus the
 *   current value's other fields as AWSPENDING;
 * - setSecret has nothing left to do;
 * - testSecret calls the provider's test endpoint with the pending key;
 * - rollback revokes the pending key; the current key is never touched;
 * - retire revokes the previous key after `overlapSeconds` (at once on a breach).
 *
 * A crash between the provider's create and the storing of AWSPENDING leaves a key at the provider that no secret
 * holds; the provider contract has no lookup to find it again.
 *
 * @example
 * const rotators = { 'api-key-http': httpApiKeyRotator(), ... } satisfies RotatorRegistry;
 */
export function httpApiKeyRotator(
  options: HttpApiKeyRotatorOptions = {},
): Rotator<HttpApiKeySettings> & { readonly type: 'api-key-http' } {
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const provider = async (settings: HttpApiKeySettings, secrets: RotationSecrets) => {
    // Checked before the credential is even read, and again by the guarded fetch at connect time.
    await secrets.egress.resolve(providerTarget(settings));
    return new HttpApiKeyProvider(settings, await readCredential(settings, secrets), fetchImpl);
  };

  return {
    type: 'api-key-http',

    parseSettings: (input) => parseWith(HttpApiKeySettingsSchema, input, 'api-key-http settings'),

    references: (settings) => [{ path: `secrets/${settings.credentialSecret}`, capability: 'read' }],

    async checkTargets(settings, egress) {
      await egress.resolve(providerTarget(settings));
    },

    async createValue(ctx) {
      // Check the current value first: a key created for a value that cannot be stored would be orphaned.
      valueFields(ctx.current, 'current');
      const issued = await (await provider(ctx.settings, ctx.secrets)).create();
      return withKey(ctx.current, issued);
    },

    async setSecret(_ctx, pending) {
      // The key exists at the provider since createSecret; only make sure the pending value holds one.
      requireKey(pending, 'pending');
    },

    async testSecret(ctx, pending) {
      const key = requireKey(pending, 'pending');
      await (await provider(ctx.settings, ctx.secrets)).test(key.apiKey, key.keyId);
    },

    async rollback(ctx, pending) {
      const keyId = pendingKeyId(ctx, pending);
      if (keyId === undefined) return;
      await (await provider(ctx.settings, ctx.secrets)).revoke(keyId);
    },

    retire: (ctx, previous) => retireAfter(previous, ctx.settings.overlapSeconds),

    async revoke(settings, handle, secrets) {
      await (await provider(settings, secrets)).revoke(handleKeyId(handle));
    },
  };
}

/**
 * The key id rollback must revoke: the pending value's, unless it is (against all odds) the current key, which must
 * keep working. A pending value without a key made nothing at the provider.
 */
export function pendingKeyId<S>(ctx: RotatorContext<S>, pending: SecretValue | undefined): string | undefined {
  const key = lenientKey(pending);
  if (key === undefined) return undefined;
  return lenientKey(ctx.current)?.keyId === key.keyId ? undefined : key.keyId;
}

function lenientKey(value: SecretValue | undefined) {
  try {
    return keyOf(value, 'pending');
  } catch (err) {
    if (err instanceof RotationStepError) return undefined;
    throw err;
  }
}

/** The provider credential: the AWSCURRENT value of `credentialSecret` (or one field of it). */
async function readCredential(settings: HttpApiKeySettings, secrets: RotationSecrets): Promise<string> {
  const source = `credentialSecret ${settings.credentialSecret}`;
  let value: SecretValue;
  try {
    value = await secrets.readCurrent(settings.credentialSecret);
  } catch (err) {
    if (err instanceof NotFoundError) throw new RotationStepError(`${source} has no current value`);
    throw err;
  }
  if (value.kind !== 'string') throw new RotationStepError(`${source} holds a binary value; expected text`);
  let credential: unknown = value.string;
  if (settings.credentialField !== undefined) {
    let document: unknown;
    try {
      document = JSON.parse(value.string);
    } catch {
      throw new RotationStepError(`${source} is not JSON, so credentialField cannot be read`);
    }
    credential = pickField(document, settings.credentialField);
  }
  if (typeof credential !== 'string' || !isHeaderSafe(credential.trim())) {
    const where = settings.credentialField === undefined ? source : `${source} field ${settings.credentialField}`;
    throw new RotationStepError(`${where} is not a usable credential (empty or not a valid header value)`);
  }
  return credential.trim();
}

/** The provider's host and port, as the egress allow-list sees them. */
function providerTarget(settings: HttpApiKeySettings) {
  const url = new URL(settings.baseUrl);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { host: url.hostname, port, purpose: 'api-key-http provider' };
}
