import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import {
  DIGITS,
  generatePassword as generateFromClasses,
  LOWERCASE,
  passwordClasses,
  UPPERCASE,
} from '../../../core/crypto/password.ts';

/**
 * Printable ASCII punctuation without `/ @ " ' \`, as AWS's rotation templates exclude by default: those are the
 * characters that most often break connection strings and shell quoting. Passwords reach PostgreSQL escaped, so
 * none of them is needed for safety here.
 */
const PUNCTUATION = '!#$%&()*+,-.:;<=>?[]^_`{|}~';
/** One character of each class is guaranteed, unless `exclude` empties the class. */
const CLASSES = [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION].map((characters) => ({ characters, min: 1 }));

/** Every character a password may contain under `exclude`. */
export function passwordAlphabet(exclude?: string): string {
  return passwordClasses(CLASSES, exclude)
    .map((c) => c.characters)
    .join('');
}

/**
 * A random password: one character of each class left after `exclude` (lower, upper, digit, punctuation), the rest
 * uniform over all of them.
 * @example generatePassword(32, '%;') // 32 characters, never '%' or ';'
 */
export function generatePassword(length: number, exclude?: string): string {
  return generateFromClasses({ length, classes: CLASSES, exclude });
}

/** A password nobody is ever told: what `revoke` and a rollback without a previous value set. */
export function unusablePassword(): string {
  return randomBytes(48).toString('base64url');
}

const SCRAM_ITERATIONS = 4096;

// On the thread pool: 4,096 rounds of SHA-256 held the event loop (and every other rotation on it) for milliseconds.
const pbkdf2Async = promisify(pbkdf2);

/**
 * What `ALTER ROLE ... PASSWORD` is given: a SCRAM-SHA-256 verifier computed here, so the plaintext never reaches
 * the server (nor its statement log, nor `pg_stat_statements`). PostgreSQL stores a verifier as it is and uses SCRAM
 * for it even where `pg_hba.conf` says `md5`.
 *
 * The server SASLprep-normalises a password before hashing it, which leaves pure ASCII untouched; other passwords
 * (a restored previous value may be anything) are sent as they are and hashed by the server.
 */
export async function passwordForAlterRole(password: string): Promise<string> {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is "ASCII only"
  if (!/^[\x00-\x7f]*$/.test(password)) return password;
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
