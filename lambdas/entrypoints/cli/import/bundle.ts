import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';

/**
 * The backup bundle `coffer export` writes and `coffer import bundle:<file>` restores:
 *
 *   COFFER-BUNDLE\n  <header JSON>\n  <AES-256-GCM ciphertext><16-byte tag>
 *
 * The key is derived from a passphrase with scrypt (node:crypto); the magic line and the header (format version, KDF
 * parameters, salt, IV) are the cipher's additional authenticated data, so a header changed to weaken the KDF or
 * swap the IV is refused like a changed ciphertext. The plaintext is the JSON of `BundleContent`.
 */
const MAGIC = Buffer.from('COFFER-BUNDLE\n');
export const BUNDLE_FORMAT = 1;
const TAG_BYTES = 16;

/** scrypt at N=2^17, r=8 (OWASP's recommendation for scrypt): ~128 MiB and a fraction of a second per open. */
const DEFAULT_COST = { N: 2 ** 17, r: 8, p: 1 };
/** A bundle names its own cost: bounded, so a crafted file cannot make an open take minutes or gigabytes. */
const MAX_LOG_N = 20;

const Header = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    kdf: z
      .object({
        name: z.literal('scrypt'),
        N: z
          .number()
          .int()
          .refine((n) => n >= 2 ** 14 && n <= 2 ** MAX_LOG_N && (n & (n - 1)) === 0, 'N out of range'),
        r: z.number().int().min(1).max(32),
        p: z.number().int().min(1).max(16),
        salt: z.string().min(16),
      })
      .strict(),
    cipher: z.literal('aes-256-gcm'),
    iv: z.string().min(16),
    createdAt: z.string(),
  })
  .strict();
type Header = z.infer<typeof Header>;

const Value = z.union([z.object({ value: z.string() }).strict(), z.object({ binary: z.string() }).strict()]);
const BundleVersion = z.intersection(
  z.object({ versionId: z.string(), stages: z.array(z.string()), createdAt: z.string() }),
  Value,
);
const BundleSecret = z.object({
  name: z.string(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  /** Oldest first. */
  versions: z.array(BundleVersion),
});
export const BundleContent = z.object({ secrets: z.array(BundleSecret) });
export type BundleContent = z.infer<typeof BundleContent>;
export type BundleSecret = z.infer<typeof BundleSecret>;

function deriveKey(passphrase: string, kdf: Header['kdf']): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      passphrase.normalize('NFKC'),
      Buffer.from(kdf.salt, 'base64'),
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 },
      (err, key) => (err === null ? resolve(key) : reject(err)),
    ),
  );
}

export async function sealBundle(
  content: BundleContent,
  passphrase: string,
  options: { now?: Date; cost?: { N: number; r: number; p: number } } = {},
): Promise<Buffer> {
  const header: Header = {
    format: BUNDLE_FORMAT,
    kdf: { name: 'scrypt', ...(options.cost ?? DEFAULT_COST), salt: randomBytes(16).toString('base64') },
    cipher: 'aes-256-gcm',
    iv: randomBytes(12).toString('base64'),
    createdAt: (options.now ?? new Date()).toISOString(),
  };
  const head = Buffer.concat([MAGIC, Buffer.from(`${JSON.stringify(header)}\n`)]);
  const key = await deriveKey(passphrase, header.kdf);
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'));
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

const notABundle = (why: string) => new CliError(`not a Coffer bundle: ${why}`, ExitCode.usage);

export async function openBundle(file: Buffer, passphrase: string): Promise<BundleContent> {
  if (!file.subarray(0, MAGIC.length).equals(MAGIC)) throw notABundle('the file does not start with COFFER-BUNDLE');
  const newline = file.indexOf(0x0a, MAGIC.length);
  if (newline === -1) throw notABundle('no header');
  const head = file.subarray(0, newline + 1);
  let raw: unknown;
  try {
    raw = JSON.parse(file.subarray(MAGIC.length, newline).toString('utf8'));
  } catch {
    throw notABundle('the header is not JSON');
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (typeof format === 'number' && format !== BUNDLE_FORMAT) {
    throw new CliError(
      `bundle format ${format} is not supported by this coffer (it reads ${BUNDLE_FORMAT})`,
      ExitCode.usage,
    );
  }
  const parsed = Header.safeParse(raw);
  if (!parsed.success) throw notABundle(`bad header (${parsed.error.issues[0]!.path.join('.')})`);
  const header = parsed.data;
  const sealed = file.subarray(newline + 1);
  if (sealed.length < TAG_BYTES) throw notABundle('truncated');
  const key = await deriveKey(passphrase, header.kdf);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'));
  decipher.setAAD(head);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CliError(
      'cannot open the bundle: the passphrase is wrong, or the bundle was altered or truncated',
      ExitCode.denied,
    );
  }
  const content = BundleContent.safeParse(JSON.parse(plain.toString('utf8')));
  if (!content.success) throw notABundle('its content does not have the bundle shape');
  return content.data;
}
