/**
 * What certificate rotation needs of X.509 beyond its settings: reading and checking certificate values, and building
 * a CSR for a key of the rotation's own. `certificate-rotator.ts` loads this module at the first rotation step of a
 * certificate secret (it brings @peculiar/x509), so a broker that never rotates a certificate never evaluates it.
 */
export { generateLeafKey, leafSigningAlgorithm } from '../../pki/leaf-keys.ts';
export { Name, PemConverter, Pkcs10CertificateRequestGenerator } from '../../pki/x509.ts';
export {
  certificateFacts,
  certificateValue,
  readCertificateValue,
  verifyChain,
  verifyKeyMatch,
} from './certificate-value.ts';
