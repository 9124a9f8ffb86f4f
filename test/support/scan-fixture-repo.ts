import { execFileSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A git repository with planted secrets and look-alikes, for `coffer scan`. Every value is drawn at random when the
 * repository is built, so no secret-shaped literal sits in Coffer's own sources for a scanner to trip on.
 */

/** A planted secret: the scan must report it at `path:line`. */
export interface Planted {
  readonly kind: string;
  readonly path: string;
  readonly line: number;
  /** The secret itself (for a URL, its password): it must appear in no output. */
  readonly secret: string;
  /** Deleted in a later commit: only `--git-history` can find it. */
  readonly historyOnly: boolean;
}

/** A look-alike: the scan must report nothing at `path:line`. */
export interface LookAlike {
  readonly kind: string;
  readonly path: string;
  readonly line: number;
}

export interface FixtureRepo {
  readonly dir: string;
  readonly planted: readonly Planted[];
  readonly lookAlikes: readonly LookAlike[];
  git(...args: string[]): string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomFrom(alphabet: string, length: number): string {
  return [...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

export function cofferToken(): string {
  return `cft_${randomBytes(32).toString('base64url')}`;
}

export function cofferAccessKeyId(): string {
  return `AKCF${randomFrom(BASE32, 16)}`;
}

export function cofferSecretAccessKey(): string {
  return randomBytes(30).toString('base64');
}

export function signedJwt(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: randomUUID(), iat: 1_700_000_000 })}`;
  const signature = createHmac('sha256', randomBytes(32)).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

export function password(): string {
  return randomFrom(ALNUM, 20);
}

/** One file: its lines, each either plain text, a planted secret or a look-alike. */
type Line = string | { text: string; planted: string; secret: string } | { text: string; lookAlike: string };

interface FileSpec {
  readonly path: string;
  readonly lines: readonly Line[];
  readonly historyOnly?: boolean;
}

function pem(kind: 'rsa' | 'ec' | 'ed25519'): { text: string; body: string } {
  const { privateKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const text = privateKey
    .export({ format: 'pem', type: kind === 'ec' ? 'sec1' : 'pkcs8' })
    .toString()
    .trim();
  return { text, body: text.split('\n')[1] as string };
}

function publicPem(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return publicKey.export({ format: 'pem', type: 'spki' }).toString().trim();
}

function files(): FileSpec[] {
  const awsId = `AKIA${randomFrom('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
  const awsSecret = randomBytes(30).toString('base64');
  const rsa = pem('rsa');
  const ec = pem('ec');
  const ed25519 = pem('ed25519');
  const jwt = signedJwt();
  const pgPassword = password();
  const redisPassword = password();
  const amqpPassword = password();
  const token = cofferToken();
  const wrapping = `cwr.${randomBytes(32).toString('base64url')}`;
  const keyId = cofferAccessKeyId();
  const keySecret = cofferSecretAccessKey();
  const clientSecret = randomFrom(ALNUM, 32);
  const signingKey = randomBytes(24).toString('base64');
  const oldAwsId = `AKIA${randomFrom(BASE32, 16)}`;
  const oldJwt = signedJwt();
  const mysqlPassword = password();
  const oldToken = cofferToken();
  const sha256 = randomBytes(32).toString('hex');
  const sha1 = randomBytes(20).toString('hex');
  const integrity = `sha512-${randomBytes(64).toString('base64')}`;
  const textAsBase64 = Buffer.from('Welcome to the staging environment; nothing here is confidential.').toString(
    'base64',
  );
  return [
    {
      path: 'config/aws.env',
      lines: [
        '# deploy credentials',
        { text: `AWS_ACCESS_KEY_ID=${awsId}`, planted: 'AWS access key id', secret: awsId },
        { text: `AWS_SECRET_ACCESS_KEY=${awsSecret}`, planted: 'AWS secret access key', secret: awsSecret },
        'AWS_REGION=eu-west-1',
      ],
    },
    {
      path: 'keys/deploy_rsa.pem',
      lines: [{ text: rsa.text, planted: 'private key (PEM, RSA PKCS#8)', secret: rsa.body }],
    },
    {
      path: 'keys/signing_ec.pem',
      lines: [{ text: ec.text, planted: 'private key (PEM, EC SEC1)', secret: ec.body }],
    },
    {
      path: 'keys/ed25519.key',
      lines: ['# host key', { text: ed25519.text, planted: 'private key (PEM, Ed25519 PKCS#8)', secret: ed25519.body }],
    },
    {
      path: 'src/client.ts',
      lines: [
        "import { fetch } from 'undici';",
        { text: `const SERVICE_JWT = '${jwt}';`, planted: 'JWT', secret: jwt },
        { text: `const sessionToken = '${randomUUID()}';`, lookAlike: 'UUID assigned to a token name' },
        { text: `const tokenSha256 = '${sha256}';`, lookAlike: 'sha256 hex digest' },
        { text: 'const dbPassword = process.env.ORDERS_DB_PASSWORD;', lookAlike: 'code reading the secret' },
        {
          text: "const unsigned = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.';",
          lookAlike: 'unsigned JWT (alg none, no signature)',
        },
      ],
    },
    {
      path: '.env.production',
      lines: [
        {
          text: `DATABASE_URL=postgres://app:${pgPassword}@db.internal:5432/app`,
          planted: 'PostgreSQL URL',
          secret: pgPassword,
        },
        {
          text: `REDIS_URL=redis://:${redisPassword}@cache.internal:6379/0`,
          planted: 'Redis URL',
          secret: redisPassword,
        },
        {
          text: `BROKER_URL=amqps://orders:${amqpPassword}@mq.internal:5671/orders`,
          planted: 'AMQP URL',
          secret: amqpPassword,
        },
        { text: `COFFER_TOKEN=${token}`, planted: 'Coffer token', secret: token },
        { text: `COFFER_WRAPPED=${wrapping}`, planted: 'Coffer wrapping token', secret: wrapping },
      ],
    },
    {
      path: 'ci/coffer-key.json',
      lines: [
        '{',
        { text: `  "accessKeyId": "${keyId}",`, planted: 'Coffer access key id', secret: keyId },
        { text: `  "secretAccessKey": "${keySecret}",`, planted: 'Coffer secret access key', secret: keySecret },
        '  "principal": "ci"',
        '}',
      ],
    },
    {
      path: 'deploy/settings.yaml',
      lines: [
        'oauth:',
        { text: `  client_secret: ${clientSecret}`, planted: 'high-entropy client_secret', secret: clientSecret },
        { text: `  signing_key: "${signingKey}"`, planted: 'high-entropy signing_key', secret: signingKey },
        '  client_id: orders-service',
        { text: `  secret_message: ${textAsBase64}`, lookAlike: 'base64 of readable text' },
        { text: `  password_hash: ${sha256}`, lookAlike: 'hex digest under a password name' },
        { text: `  password: changeme`, lookAlike: 'placeholder "changeme"' },
        { text: `  api_key: <your-key>`, lookAlike: 'placeholder <your-key>' },
        { text: '  token: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', lookAlike: 'placeholder xxxx…' },
      ],
    },
    {
      path: 'deploy/template.env',
      lines: [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell-style placeholders are the look-alike itself
        { text: 'DB_PASSWORD=${DB_PASSWORD}', lookAlike: 'placeholder ${DB_PASSWORD}' },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell-style placeholders are the look-alike itself
        { text: 'DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/app', lookAlike: 'URL with ${VAR}' },
        { text: 'REDIS_URL=redis://:<password>@localhost:6379', lookAlike: 'URL with <password>' },
        { text: `SESSION_SECRET_ID=${randomUUID()}`, lookAlike: 'UUID under a secret name' },
        { text: `BUILD_COMMIT=${sha1}`, lookAlike: 'git commit sha1' },
      ],
    },
    {
      path: 'docs/aws.md',
      lines: [
        '# Configure AWS',
        { text: 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE', lookAlike: "AWS's documented example key id" },
        {
          text: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
          lookAlike: "AWS's documented example secret key",
        },
        { text: '-----BEGIN PRIVATE KEY-----', lookAlike: 'PEM placeholder' },
        '...',
        '-----END PRIVATE KEY-----',
        { text: publicPem(), lookAlike: 'public key (PEM)' },
        {
          text: `Your token looks like cft_… and its accessor acc_${randomBytes(18).toString('base64url')}.`,
          lookAlike: 'Coffer accessor',
        },
      ],
    },
    {
      path: 'package-lock.json',
      lines: [
        '{',
        '  "packages": {',
        '    "node_modules/left-pad": {',
        '      "version": "1.3.0",',
        { text: `      "integrity": "${integrity}"`, lookAlike: 'lockfile integrity hash' },
        '    }',
        '  }',
        '}',
      ],
    },
    {
      path: 'legacy/aws-old.env',
      historyOnly: true,
      lines: [{ text: `aws_access_key_id=${oldAwsId}`, planted: 'AWS access key id (history only)', secret: oldAwsId }],
    },
    {
      path: 'legacy/auth.js',
      historyOnly: true,
      lines: [
        '// TODO remove',
        { text: `module.exports = '${oldJwt}';`, planted: 'JWT (history only)', secret: oldJwt },
      ],
    },
    {
      path: 'legacy/db.properties',
      historyOnly: true,
      lines: [
        {
          text: `jdbc.url=mysql://reporting:${mysqlPassword}@mysql.internal:3306/reports`,
          planted: 'MySQL URL (history only)',
          secret: mysqlPassword,
        },
        { text: `coffer.token=${oldToken}`, planted: 'Coffer token (history only)', secret: oldToken },
      ],
    },
  ];
}

/**
 * Builds the repository in `dir`: one commit with everything, a second that deletes `legacy/` (its secrets stay in
 * history), a `.gitignore`d file with a secret, and a binary file with a secret (neither may be reported).
 */
export function buildFixtureRepo(dir: string): FixtureRepo {
  mkdirSync(dir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'dev@example.test');
  git('config', 'user.name', 'Dev');
  git('config', 'commit.gpgsign', 'false');
  const planted: Planted[] = [];
  const lookAlikes: LookAlike[] = [];
  for (const spec of files()) {
    const text: string[] = [];
    for (const line of spec.lines) {
      // An entry may span lines (a PEM block): it starts on the line after everything before it.
      const lineNumber = text.length === 0 ? 1 : text.join('\n').split('\n').length + 1;
      if (typeof line === 'string') text.push(line);
      else if ('planted' in line) {
        planted.push({
          kind: line.planted,
          path: spec.path,
          line: lineNumber,
          secret: line.secret,
          historyOnly: spec.historyOnly === true,
        });
        text.push(line.text);
      } else {
        lookAlikes.push({ kind: line.lookAlike, path: spec.path, line: lineNumber });
        text.push(line.text);
      }
    }
    mkdirSync(path.dirname(path.join(dir, spec.path)), { recursive: true });
    writeFileSync(path.join(dir, spec.path), `${text.join('\n')}\n`);
  }
  writeFileSync(path.join(dir, '.gitignore'), 'local.env\n');
  writeFileSync(path.join(dir, 'local.env'), `COFFER_TOKEN=${cofferToken()}\n`);
  writeFileSync(
    path.join(dir, 'logo.bin'),
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), Buffer.from(`token=${cofferToken()}`)]),
  );
  git('add', '-A');
  git('commit', '-q', '-m', 'initial import');
  git('rm', '-q', '-r', 'legacy');
  git('commit', '-q', '-m', 'remove legacy config');
  return { dir, planted, lookAlikes, git };
}
