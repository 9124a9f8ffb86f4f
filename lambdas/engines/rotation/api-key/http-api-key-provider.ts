import * as z from 'zod';
import { RotationStepError, TransientRotationError } from '../../../core/rotation/rotation-types.ts';
import type { ApiKeyProvider, IssuedApiKey } from './api-key-provider.ts';
import { DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS } from './api-key-value.ts';

/** The provider call that failed, named in every error. */
export type HttpApiKeyStep = 'create' | 'test' | 'revoke';

/** A provider call that failed for good (a 4xx, a malformed response): the rotation fails and rolls back. */
export class ApiKeyProviderError extends RotationStepError {
  readonly step: HttpApiKeyStep;
  /** The HTTP status, when the provider answered. */
  readonly status: number | undefined;
  constructor(message: string, step: HttpApiKeyStep, status?: number) {
    super(message);
    this.step = step;
    this.status = status;
  }
}

/** A provider call worth retrying (network error, timeout, 5xx, 408, 429). Its `name` stays TransientRotationError. */
export class ApiKeyProviderUnavailableError extends TransientRotationError {
  readonly step: HttpApiKeyStep;
  readonly status: number | undefined;
  constructor(message: string, step: HttpApiKeyStep, status?: number) {
    super(message);
    this.step = step;
    this.status = status;
  }
}

const KEY_ID_PLACEHOLDER = '{{keyId}}';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** RFC 9110 token characters. */
const HeaderName = z
  .string()
  .max(128)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');
/** A JSON field, or a dotted path into nested objects (`data.key`). */
const FieldPath = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a JSON field name or a dotted path such as data.id');

function pathTemplate(keyId: 'forbidden' | 'allowed' | 'required') {
  return z
    .string()
    .max(1024)
    .regex(/^\/[\x21-\x7e]*$/, 'must start with / and contain only visible ASCII')
    .refine((path) => !path.replaceAll(KEY_ID_PLACEHOLDER, '').includes('{{'), 'the only placeholder is {{keyId}}')
    .refine(
      (path) => keyId === 'allowed' || (keyId === 'required') === path.includes(KEY_ID_PLACEHOLDER),
      keyId === 'required' ? 'must contain {{keyId}}' : 'cannot contain {{keyId}}',
    );
}

/**
 * Settings of the `api-key-http` rotation type: where the provider's endpoints are and how to authenticate to them.
 * The provider's own credential is never in the settings: it is read from another Coffer secret on every use, so
 * rotating that secret takes effect at once.
 *
 * @example
 * {
 *   baseUrl: 'https://api.example.com/v1', credentialSecret: 'vendors/example/admin',
 *   create: { path: '/keys' }, test: { path: '/whoami' }, revoke: { path: '/keys/{{keyId}}' },
 *   overlapSeconds: 3600,
 * }
 */
export const HttpApiKeySettingsSchema = z
  .object({
    baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).refine((url) => {
      const parsed = new URL(url);
      return parsed.username === '' && parsed.password === '' && parsed.search === '' && parsed.hash === '';
    }, 'must not carry credentials, a query or a fragment'),
    /** The Coffer secret whose AWSCURRENT value authenticates Coffer to the provider. */
    credentialSecret: z.string().min(1).max(2048),
    /**
     * The header that carries the credential, verbatim. Unset: `Authorization: Bearer <credential>`.
     * @default Authorization (Bearer)
     */
    credentialHeader: HeaderName.optional(),
    /** When the credential secret is a JSON object, the field holding the credential. @default the whole value */
    credentialField: FieldPath.optional(),
    create: z
      .object({
        /** @default 'POST' */
        method: z.enum(METHODS).default('POST'),
        path: pathTemplate('forbidden'),
        /** A JSON body sent with the create request. @default none */
        body: z.record(z.string(), z.unknown()).optional(),
        /** @default 'id' */
        keyIdField: FieldPath.default('id'),
        /** @default 'key' */
        keyField: FieldPath.default('key'),
      })
      .strict(),
    test: z
      .object({
        /** @default 'GET' */
        method: z.enum(METHODS).default('GET'),
        path: pathTemplate('allowed'),
        /** The header the key under test is sent in. @default 'x-api-key' */
        keyHeader: HeaderName.default('x-api-key'),
      })
      .strict(),
    revoke: z
      .object({
        /** @default 'DELETE' */
        method: z.enum(METHODS).default('DELETE'),
        path: pathTemplate('required'),
      })
      .strict(),
    /** How long the previous key keeps working after a rotation. @default 3600 */
    overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS).default(DEFAULT_OVERLAP_SECONDS),
    /** Per provider call. @default 10000 */
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  })
  .strict();

export type HttpApiKeySettings = z.output<typeof HttpApiKeySettingsSchema>;
export type HttpApiKeySettingsInput = z.input<typeof HttpApiKeySettingsSchema>;

/** Control characters are refused in header values (and would make fetch echo the value in its error). */
function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** A key id that can go into a path and a log: bounded, printable, and not a dot segment URLs would collapse. */
function isUsableKeyId(keyId: string): boolean {
  return keyId !== '' && keyId.length <= 512 && keyId !== '.' && keyId !== '..' && !hasControlCharacters(keyId);
}

/** True when `value` can be sent as an HTTP header value. */
export function isHeaderSafe(value: string): boolean {
  return value !== '' && !hasControlCharacters(value) && value.trim() === value;
}

/**
 * A generic HTTP API-key issuer, configured by {@link HttpApiKeySettings}.
 *
 * No message ever holds the credential, a key or a response body (a provider may echo either): only the step, the
 * method, the path template and the HTTP status. Redirects are not followed, so the credential never travels to a
 * host the settings do not name.
 *
 * @example
 * const provider = new HttpApiKeyProvider(settings, adminToken);
 * const { keyId, apiKey } = await provider.create();
 */
export class HttpApiKeyProvider implements ApiKeyProvider {
  private readonly settings: HttpApiKeySettings;
  private readonly credential: string;
  private readonly fetch: typeof fetch;

  constructor(settings: HttpApiKeySettings, credential: string, fetchImpl: typeof fetch = globalThis.fetch) {
    this.settings = settings;
    this.credential = credential;
    this.fetch = fetchImpl;
  }

  async create(): Promise<IssuedApiKey> {
    const { method, path, body, keyIdField, keyField } = this.settings.create;
    const res = await this.call('create', method, path, {
      headers: {
        ...this.credentialHeaders(),
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const what = stepLabel('create', method, path);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await res.text());
    } catch (err) {
      if (isTransport(err)) throw unavailable('create', what, err);
      throw new ApiKeyProviderError(`${what}: the response is not JSON`, 'create', res.status);
    }
    const rawId = pickField(parsed, keyIdField);
    const keyId = typeof rawId === 'number' && Number.isSafeInteger(rawId) ? String(rawId) : rawId;
    if (typeof keyId !== 'string' || !isUsableKeyId(keyId)) {
      throw new ApiKeyProviderError(`${what}: the response has no usable key id in ${keyIdField}`, 'create');
    }
    const apiKey = pickField(parsed, keyField);
    if (typeof apiKey !== 'string' || !isHeaderSafe(apiKey)) {
      // The provider made a key no one can use: take it back (best effort) rather than leave it live.
      await this.revoke(keyId).catch(() => undefined);
      throw new ApiKeyProviderError(`${what}: the response has no usable key in ${keyField}`, 'create');
    }
    return { keyId, apiKey };
  }

  async test(apiKey: string, keyId?: string): Promise<void> {
    const { method, path, keyHeader } = this.settings.test;
    if (!isHeaderSafe(apiKey)) {
      throw new ApiKeyProviderError(`${stepLabel('test', method, path)}: the key is not a valid header value`, 'test');
    }
    if (path.includes(KEY_ID_PLACEHOLDER) && keyId === undefined) {
      throw new ApiKeyProviderError(`${stepLabel('test', method, path)}: the path needs a key id`, 'test');
    }
    const res = await this.call('test', method, path, { keyId, headers: { [keyHeader]: apiKey } });
    await discard(res);
  }

  async revoke(keyId: string): Promise<void> {
    const { method, path } = this.settings.revoke;
    const res = await this.call('revoke', method, path, {
      keyId,
      headers: this.credentialHeaders(),
      // Already revoked or never known: the key is gone, which is what revoke promises.
      gone: [404, 410],
    });
    await discard(res);
  }

  private credentialHeaders(): Record<string, string> {
    const header = this.settings.credentialHeader;
    return header === undefined ? { authorization: `Bearer ${this.credential}` } : { [header]: this.credential };
  }

  private async call(
    step: HttpApiKeyStep,
    method: string,
    template: string,
    init: { keyId?: string | undefined; headers: Record<string, string>; body?: string | undefined; gone?: number[] },
  ): Promise<Response> {
    const what = stepLabel(step, method, template);
    if (init.keyId !== undefined && !isUsableKeyId(init.keyId)) {
      throw new ApiKeyProviderError(`${what}: the key id is not usable in a path`, step);
    }
    const path =
      init.keyId === undefined ? template : template.replaceAll(KEY_ID_PLACEHOLDER, encodeURIComponent(init.keyId));
    const base = new URL(this.settings.baseUrl);
    const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}${path}`;
    let res: Response;
    try {
      res = await this.fetch(url, {
        method,
        headers: init.headers,
        body: init.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (err) {
      throw unavailable(step, what, err);
    }
    if (res.ok || init.gone?.includes(res.status)) return res;
    await discard(res);
    const status = res.status;
    if (status >= 500 || status === 408 || status === 429) {
      throw new ApiKeyProviderUnavailableError(`${what}: HTTP ${status}`, step, status);
    }
    const reason =
      status >= 300 && status < 400
        ? ' (redirects are not followed)'
        : step === 'test' && (status === 401 || status === 403)
          ? ' (the provider rejected the pending key)'
          : step !== 'test' && (status === 401 || status === 403)
            ? ' (the provider rejected the credential from credentialSecret)'
            : '';
    throw new ApiKeyProviderError(`${what}: HTTP ${status}${reason}`, step, status);
  }
}

function stepLabel(step: HttpApiKeyStep, method: string, template: string): string {
  return `api-key-http ${step} (${method} ${template})`;
}

/** A network failure or timeout. The cause is left off: fetch errors may quote header values. */
function unavailable(step: HttpApiKeyStep, what: string, err: unknown): ApiKeyProviderUnavailableError {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new ApiKeyProviderUnavailableError(`${what}: timed out`, step);
  }
  const code = networkCode(err);
  return new ApiKeyProviderUnavailableError(`${what}: network error${code === undefined ? '' : ` (${code})`}`, step);
}

function isTransport(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || err instanceof TypeError);
}

/** The system error code behind a fetch failure (ECONNREFUSED, ECONNRESET, ...), if it has one. */
function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** Frees the connection without reading a body that may echo secrets. */
async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // The connection is being torn down anyway.
  }
}

/** The value at a dotted path of a JSON document (`data.id`), or undefined. */
export function pickField(document: unknown, path: string): unknown {
  let current = document;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
