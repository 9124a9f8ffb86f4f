/**
 * The DER structures the PKI engine builds itself rather than through @peculiar/x509: a subject key identifier
 * (cheaper than the library's), the CRL number extension's INTEGER, and a CN-only subject name.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../../core/errors.ts';
import { Name, SubjectKeyIdentifierExtension } from './x509.ts';

/**
 * RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING. Computed here rather than by the library,
 * which parses and re-exports the key for it (a sixth of the cost of an issue).
 */
export function subjectKeyIdentifier(spki: Uint8Array): SubjectKeyIdentifierExtension {
  let offset = 0;
  const header = (): number => {
    offset++; // tag
    const first = spki[offset++]!;
    if (first < 0x80) return first;
    let length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = (length << 8) | spki[offset++]!;
    return length;
  };
  header(); // SubjectPublicKeyInfo SEQUENCE
  const algorithmLength = header(); // AlgorithmIdentifier, skipped (read first: `offset += header()` reads stale offset)
  offset += algorithmLength;
  const bitStringLength = header();
  const key = spki.subarray(offset + 1, offset + bitStringLength); // after the unused-bits byte
  return new SubjectKeyIdentifierExtension(createHash('sha1').update(key).digest('hex'));
}

/** DER INTEGER of a non-negative safe integer (the CRL number). */
export function derInteger(value: number): ArrayBuffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.unshift(rest % 256);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  if (bytes[0]! >= 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]).buffer;
}

/** A subject holding only a CN, built structurally so a CN with ',' or '=' cannot inject other attributes. */
export function subjectName(commonName: string): Name {
  if (commonName.length === 0 || commonName.length > 64) {
    throw new ValidationError('common_name must be 1–64 characters');
  }
  return new Name([{ CN: [commonName] }]);
}
