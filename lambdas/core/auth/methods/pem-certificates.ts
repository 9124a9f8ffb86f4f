import { X509Certificate } from 'node:crypto';
import * as z from 'zod';

/**
 * A setting holding one or more PEM certificates (a CA bundle a method dials a server with), each of which must parse.
 * @param error what the refusal says (each method names what the certificates are for)
 */
export function pemCertificatesSchema(maxLength: number, error: string) {
  return z
    .string()
    .max(maxLength)
    .refine(
      (pem) => {
        const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        if (blocks.length === 0) return false;
        try {
          for (const block of blocks) new X509Certificate(block);
          return true;
        } catch {
          return false;
        }
      },
      { error },
    );
}
