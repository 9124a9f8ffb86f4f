import type * as z from 'zod';
import { ValidationError } from '../../../core/errors.ts';
import { type RevocationHandle, RotationStepError } from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import type { IssuedApiKey } from './api-key-provider.ts';

/**
 * The value of an API-key secret, shared by every API-key rotator: a JSON object with `keyId` and `apiKey`, plus
 * whatever other fields the owner keeps beside them (an endpoint, a client id), which rotation carries over.
 *
 * @example {"keyId":"k-123","apiKey":"…","endpoint":"https://api.example.com"}
 */
export interface ApiKeyValue {
  readonly keyId: string;
  readonly apiKey: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** The overlap bounds shared by the API-key rotators: none up to 30 days. */
export const MAX_OVERLAP_SECONDS = 30 * 24 * 3600;
export const DEFAULT_OVERLAP_SECONDS = 3600;

/** Parses rotation settings, naming the first offending setting (never echoing input). @throws ValidationError */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input, { reportInput: false });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const at = issue.path.length === 0 ? '' : ` ${issue.path.map(String).join('.')}`;
  throw new ValidationError(`invalid ${what}${at}: ${issue.message}`);
}

/**
 * The JSON object held by a value (`which` names it in errors: "current", "pending"). An absent value is an empty
 * object, so the first rotation of a secret that has no value yet starts from nothing.
 * @throws RotationStepError when the value is binary or not a JSON object
 */
export function valueFields(value: SecretValue | undefined, which: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value.kind !== 'string') throw new RotationStepError(`the ${which} value is binary; expected a JSON object`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.string);
  } catch {
    // The parser's message may quote the value: say only what was wrong.
    throw new RotationStepError(`the ${which} value is not JSON; expected an object with keyId and apiKey`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RotationStepError(`the ${which} value is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** The key held by a value, or undefined when it holds none (a secret being rotated for the first time). */
export function keyOf(value: SecretValue | undefined, which: string): ApiKeyValue | undefined {
  const fields = valueFields(value, which);
  const { keyId, apiKey } = fields;
  if (keyId === undefined && apiKey === undefined) return undefined;
  if (typeof keyId !== 'string' || keyId === '' || typeof apiKey !== 'string' || apiKey === '') {
    throw new RotationStepError(`the ${which} value must have string fields keyId and apiKey`);
  }
  return { keyId, apiKey, fields };
}

/** Like {@link keyOf}, for values that must hold a key (the pending one). @throws RotationStepError */
export function requireKey(value: SecretValue, which: string): ApiKeyValue {
  const key = keyOf(value, which);
  if (key === undefined) throw new RotationStepError(`the ${which} value has no keyId and apiKey`);
  return key;
}

/** The new value: the current value's other fields, with the new key id and key. */
export function withKey(current: SecretValue | undefined, issued: IssuedApiKey): SecretValue {
  const fields = valueFields(current, 'current');
  return { kind: 'string', string: JSON.stringify({ ...fields, keyId: issued.keyId, apiKey: issued.apiKey }) };
}

/** retire(): revoke the previous key by id once the overlap has passed. */
export function retireAfter(
  previous: SecretValue,
  overlapSeconds: number,
): { handle: RevocationHandle; afterMs: number } | undefined {
  const key = keyOf(previous, 'previous');
  return key === undefined ? undefined : { handle: { keyId: key.keyId }, afterMs: overlapSeconds * 1000 };
}

/** The key id of a revocation handle. @throws RotationStepError when the handle has none */
export function handleKeyId(handle: RevocationHandle): string {
  const keyId = handle.keyId;
  if (typeof keyId !== 'string' || keyId === '') throw new RotationStepError('the revocation handle has no keyId');
  return keyId;
}
