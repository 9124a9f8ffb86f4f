import { createHash, createHmac, pbkdf2Sync, randomBytes, randomInt } from 'node:crypto';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/**
 * Printable ASCII punctuation without `/ @ " ' \`, as AWS's rotation templates exclude by default: those are the
 * characters that most often break connection strings and shell quoting. Passwords reach PostgreSQL escaped, so
 * none of them is needed for safety here.
 */
const PUNCTUATION = '!#$%&()*+,-.:;<=>?[]^_`{|}~';
const CLASSES = [LOWER, UPPER, DIGITS, PUNCTUATION] as const;

/** The characters a password is drawn from, per class, once `exclude` is removed (empty classes dropped). */
function classes(exclude = ''): string[] {
  const excluded = new Set(exclude);
  return CLASSES.map((chars) => [...chars].filter((c) => !excluded.has(c)).join('')).filter((c) => c.length > 0);
}

/** Every character a password may contain under `exclude`. */
export function passwordAlphabet(exclude?: string): string {
  return classes(exclude).join('');
}

/**
 * A random password (`crypto.randomInt`): one character of each class left after `exclude` (lower, upper, digit,
 * punctuation), the rest uniform over all of them, then shuffled (Fisher–Yates).
 * @example generatePassword(32, '%;') // 32 characters, never '%' or ';'
 */
export function generatePassword(length: number, exclude?: string): string {
  const groups = classes(exclude);
  const all = groups.join('');
  const chars: string[] = groups.map((g) => g[randomInt(0, g.length)]!);
  while (chars.length < length) chars.push(all[randomInt(0, all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.slice(0, length).join('');
}

/** A password nobody is ever told: what `revoke` and a rollback without a previous value set. */
export function unusablePassword(): string {
  return randomBytes(48).toString('base64url');
}

const SCRAM_ITERATIONS = 4096;

/**
 * What `ALTER ROLE ... PASSWORD` is given: a SCRAM-SHA-256 verifier computed here, so the plaintext never reaches
 * the server (nor its statement log, nor `pg_stat_statements`). PostgreSQL stores a verifier as it is and uses SCRAM
 * for it even where `pg_hba.conf` says `md5`.
 *
 * The server SASLprep-normalises a password before hashing it, which leaves pure ASCII untouched; other passwords
 * (a restored previous value may be anything) are sent as they are and hashed by the server.
 */
export function passwordForAlterRole(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is "ASCII only"
  if (!/^[\x00-\x7f]*$/.test(password)) return password;
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
