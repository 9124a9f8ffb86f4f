import type { EncryptionContext } from '../ports/key-provider.ts';

/**
 * The one byte-exact rendering of an encryption context: a JSON object with its keys sorted by UTF-16 code unit.
 *
 * Wrapping authenticates these bytes and the data-key cache keys on them, so two contexts with the same entries must
 * render the same whatever their insertion order. The object is assembled by hand because `JSON.stringify` puts
 * integer-like keys ("2", "10") first in numeric order, whatever order they were added in.
 *
 * @example
 * ```ts
 * canonicalContext({ versionId: 'v1', secretId: 's' }); // '{"secretId":"s","versionId":"v1"}'
 * ```
 * @throws TypeError when a value is not a string (a programming error: the port's type forbids it)
 */
export function canonicalContext(context: EncryptionContext): string {
  const entries = Object.keys(context)
    .sort()
    .map((key) => {
      const value: unknown = context[key];
      if (typeof value !== 'string') throw new TypeError(`encryption context value of "${key}" must be a string`);
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
  return `{${entries.join(',')}}`;
}
