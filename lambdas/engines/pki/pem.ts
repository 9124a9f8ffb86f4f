/** Reading certificates and requests a caller sends, and writing PEM that concatenates safely. */
import { ValidationError } from '../../core/errors.ts';
import { Pkcs10CertificateRequest, X509Certificate } from './x509.ts';

/** PEM ending in a newline, so concatenated chains stay parseable. */
export function pemText(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

export async function parseCsr(pem: string): Promise<Pkcs10CertificateRequest> {
  try {
    return new Pkcs10CertificateRequest(pem);
  } catch {
    throw new ValidationError('csr is not a PEM or DER PKCS#10 certificate request');
  }
}

export function parseCertificate(pem: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ValidationError(`${field} is not a PEM X.509 certificate`);
  }
}
