/**
 * OpenSSH keys and certificates with sshpk: loaded by `ssh-service.ts` at the first signing, so a broker that never
 * signs never evaluates it (docs/ARCHITECTURE.md, lazyImport).
 */
import { createPublicKey } from 'node:crypto';
import sshpk from 'sshpk';
import { ValidationError } from '../../core/errors.ts';
import type { SshUserKeyType } from './ssh-role.ts';

export interface UserKey {
  readonly type: SshUserKeyType;
  readonly bits: number;
  /** The key as one OpenSSH line, without its comment. */
  readonly line: string;
  readonly fingerprint: string;
}

/** Parses the caller's OpenSSH public key; a certificate or a private key is refused. */
export function parseUserKey(text: string): UserKey {
  let key: sshpk.Key;
  try {
    key = sshpk.parseKey(text.trim(), 'ssh');
  } catch {
    throw new ValidationError('public_key is not an OpenSSH public key (e.g. the contents of ~/.ssh/id_ed25519.pub)');
  }
  if (key.type !== 'ed25519' && key.type !== 'ecdsa' && key.type !== 'rsa') {
    throw new ValidationError(`public_key: key type ${key.type} is not accepted (ed25519, ecdsa or rsa)`);
  }
  return {
    type: key.type,
    bits: key.size,
    line: key.toString('ssh').split(' ').slice(0, 2).join(' '),
    fingerprint: key.fingerprint('sha256').toString(),
  };
}

/** The OpenSSH line of a DER SubjectPublicKeyInfo (the CA's key as `TrustedUserCAKeys` holds it). */
export function openSshLine(spki: Uint8Array): string {
  const pem = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({
    format: 'pem',
    type: 'spki',
  });
  return sshpk.parseKey(pem, 'pem').toString('ssh').split(' ').slice(0, 2).join(' ');
}

export interface CertificateInput {
  readonly subjectKey: string;
  readonly caPublicKey: string;
  readonly principals: readonly string[];
  readonly keyId: string;
  /** 8 bytes, big-endian. */
  readonly serial: Buffer;
  readonly validFrom: number;
  readonly validUntil: number;
  readonly criticalOptions: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, string>>;
}

/**
 * Builds a user certificate and has `sign` sign its to-be-signed blob, returning the certificate line. `sign` answers
 * the signature as the CA key's family produces it: raw for Ed25519 and RSA (PKCS #1 v1.5 with SHA-256, so
 * `rsa-sha2-256`, which OpenSSH accepts where it refuses SHA-1's `ssh-rsa`), DER for ECDSA.
 */
export async function signCertificate(
  input: CertificateInput,
  sign: (blob: Buffer) => Promise<Uint8Array>,
): Promise<string> {
  const caKey = sshpk.parseKey(input.caPublicKey, 'ssh');
  const cert = new sshpk.Certificate({
    subjects: input.principals.map((principal) => sshpk.identityForUser(principal)),
    subjectKey: sshpk.parseKey(input.subjectKey, 'ssh'),
    // OpenSSH certificates name no issuer, only its key.
    issuer: sshpk.identityForHost('**'),
    issuerKey: caKey,
    signatures: {
      openssh: {
        keyId: input.keyId,
        exts: [
          // Sorted by name, as OpenSSH requires of both lists.
          ...Object.keys(input.criticalOptions)
            .sort()
            .map((name) => ({ critical: true, name, data: optionData(input.criticalOptions[name]!) })),
          ...Object.keys(input.extensions)
            .sort()
            .map((name) => ({ critical: false, name, data: optionData(input.extensions[name]!) })),
        ],
      },
    } as never,
    serial: input.serial,
    validFrom: new Date(input.validFrom),
    validUntil: new Date(input.validUntil),
    purposes: [],
  });
  const openssh = sshpk.Certificate.formats.openssh as unknown as {
    signAsync(
      cert: sshpk.Certificate,
      signer: (blob: Buffer, done: (err: Error | undefined, signature?: sshpk.Signature) => void) => void,
      done: (err?: Error) => void,
    ): void;
  };
  await new Promise<void>((resolve, reject) => {
    openssh.signAsync(
      cert,
      (blob, done) => {
        sign(blob).then(
          (raw) => {
            try {
              done(undefined, toSshSignature(caKey, Buffer.from(raw)));
            } catch (err) {
              done(err as Error);
            }
          },
          (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
        );
      },
      (err) => (err === undefined ? resolve() : reject(err)),
    );
  });
  return cert.toString('openssh');
}

/** A critical option's or extension's data: empty for a flag, else the value as an SSH string. */
function optionData(value: string): Buffer {
  if (value === '') return Buffer.alloc(0);
  const text = Buffer.from(value, 'utf8');
  const out = Buffer.alloc(4 + text.length);
  out.writeUInt32BE(text.length, 0);
  text.copy(out, 4);
  return out;
}

function toSshSignature(caKey: sshpk.Key, raw: Buffer): sshpk.Signature {
  if (caKey.type === 'ed25519') return sshpk.parseSignature(raw, 'ed25519', 'raw');
  const signature = sshpk.parseSignature(raw, caKey.type as 'rsa' | 'ecdsa', 'asn1') as sshpk.Signature & {
    hashAlgorithm?: string;
    curve?: string;
  };
  if (caKey.type === 'rsa') {
    signature.hashAlgorithm = 'sha256';
  } else {
    signature.hashAlgorithm = caKey.curve === 'nistp384' ? 'sha384' : 'sha256';
    signature.curve = caKey.curve as 'nistp256' | 'nistp384';
  }
  return signature;
}
