import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compileTemplate, renderTemplate } from '../../../../../../lambdas/agent/template.ts';
import {
  applyItems,
  fileKind,
  planFile,
  withoutCollisions,
} from '../../../../../../lambdas/entrypoints/cli/scan/fix/plan.ts';
import { scanText } from '../../../../../../lambdas/entrypoints/cli/scan/scanner.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const random = (length: number) => [...randomBytes(length)].map((b) => ALNUM[b % ALNUM.length]).join('');
const naming = { prefix: 'app/', template: '{{key}}' };

async function plan(path: string, content: string, options = naming) {
  const findings = await scanText({ path, content });
  expect(findings.length).toBeGreaterThan(0);
  return planFile(path, content, findings, options);
}

/** What the agent renders from the rewritten file, given the values now in Coffer. */
function render(template: string, values: ReadonlyMap<string, string>): string {
  return renderTemplate(compileTemplate(template, 'test'), {
    secret: (ref) => values.get(ref.name) ?? '',
    env: () => undefined,
  });
}

describe('fileKind', () => {
  it.each([
    ['.env', 'dotenv'],
    ['deploy/.env.production', 'dotenv'],
    ['prod.env', 'dotenv'],
    ['config/app.yaml', 'template'],
    ['config/app.YML', 'template'],
    ['service.json', 'template'],
    ['application.properties', 'template'],
    ['keys/deploy.pem', 'template'],
    ['src/client.ts', 'manual'],
    ['main.py', 'manual'],
    ['Dockerfile', 'manual'],
  ])('%s is %s', (path, kind) => {
    expect(fileKind(path)).toBe(kind);
  });
});

describe('planFile: .env files', () => {
  it('replaces the whole value of each KEY=value holding a secret by a coffer:// reference, comments kept', async () => {
    const password = random(24);
    const url = `postgres://app:${random(16)}@db:5432/app`;
    const content = `APP=billing\nDB_PASSWORD='${password}'\nexport DATABASE_URL=${url} # primary\n`;
    const planned = await plan('.env', content);
    expect(planned.kind).toBe('dotenv');
    expect(planned.items.map((i) => [i.line, i.key, i.name, i.value, i.replacement])).toEqual([
      [2, 'DB_PASSWORD', 'app/db-password', password, 'coffer://app/db-password'],
      [3, 'DATABASE_URL', 'app/database-url', url, 'coffer://app/database-url'],
    ]);
    expect(applyItems(content, planned.items)).toBe(
      'APP=billing\nDB_PASSWORD=coffer://app/db-password\nexport DATABASE_URL=coffer://app/database-url # primary\n',
    );
  });

  it('imports the value as the .env file means it: double-quote escapes expanded, a multi-line PEM whole', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim();
    const content = `TLS_KEY="${pem.replaceAll('\n', '\\n')}"\nSIGNING_KEY='${pem}'\nNEXT=1\n`;
    const planned = await plan('.env', content);
    expect(planned.items.map((i) => [i.key, i.value])).toEqual([
      ['TLS_KEY', pem],
      ['SIGNING_KEY', pem],
    ]);
    expect(applyItems(content, planned.items)).toBe(
      'TLS_KEY=coffer://app/tls-key\nSIGNING_KEY=coffer://app/signing-key\nNEXT=1\n',
    );
  });

  it('keeps CRLF line ends', async () => {
    const content = `A=1\r\nAPI_TOKEN=${random(32)}\r\nB=2\r\n`;
    const planned = await plan('.env', content);
    expect(applyItems(content, planned.items)).toBe('A=1\r\nAPI_TOKEN=coffer://app/api-token\r\nB=2\r\n');
  });

  it('leaves a secret outside a KEY=value (a comment) to the user, and a file that does not parse', async () => {
    const commented = await plan('.env', `# old: postgres://app:${random(16)}@db/app\nA=1\n`);
    expect(commented.items.map((i) => [i.kind, i.replacement, i.note])).toEqual([
      ['manual', undefined, 'not the value of a KEY=value line'],
    ]);
    const broken = await plan('.env', `this is no env file\nDB_PASSWORD=${random(24)}\n`);
    expect(broken.kind).toBe('manual');
    expect(broken.items[0]?.note).toBe('not a .env file Coffer can parse');
  });
});

describe('planFile: config files become agent templates', () => {
  it('replaces each secret by a template action; rendered, the template is the file as it was', async () => {
    const secret = random(32);
    const token = randomBytes(24).toString('base64');
    const content = `oauth:\n  client_id: billing\n  client_secret: "${secret}"\nother:\n  api_token: ${token}\n`;
    const planned = await plan('config/app.yaml', content);
    expect(planned.kind).toBe('template');
    expect(planned.items.map((i) => [i.key, i.name, i.value, i.replacement])).toEqual([
      ['client_secret', 'app/client-secret', secret, '{{ secret "app/client-secret" }}'],
      ['api_token', 'app/api-token', token, '{{ secret "app/api-token" }}'],
    ]);
    const template = applyItems(content, planned.items);
    expect(template).toBe(
      'oauth:\n  client_id: billing\n  client_secret: "{{ secret "app/client-secret" }}"\nother:\n  api_token: {{ secret "app/api-token" }}\n',
    );
    const values = new Map(planned.items.map((i) => [i.name, i.value]));
    expect(render(template, values)).toBe(content);
  });

  it('makes a PEM file a template of one action, named after the file', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const content = `${privateKey.export({ format: 'pem', type: 'sec1' }).toString()}`;
    const planned = await plan('keys/signing_ec.pem', content);
    expect(planned.items.map((i) => [i.kind, i.name])).toEqual([['template', 'app/signing-ec']]);
    expect(render(applyItems(content, planned.items), new Map([['app/signing-ec', planned.items[0]!.value]]))).toBe(
      content,
    );
  });

  it('leaves to the user a file that already holds "{{" (a Helm or Jinja file), which would not render as it is', async () => {
    const planned = await plan('values.yaml', `image: {{ .Values.image }}\npassword: ${random(24)}\n`);
    expect(planned.kind).toBe('manual');
    expect(planned.items[0]?.replacement).toBeUndefined();
    expect(planned.items[0]?.note).toMatch(/already holds "\{\{"/);
  });
});

describe('planFile: source code', () => {
  it('names the secret after the variable and proposes no edit', async () => {
    const planned = await plan('src/client.ts', `export const authToken = '${random(32)}';\n`);
    expect(planned.items.map((i) => [i.kind, i.key, i.name, i.replacement])).toEqual([
      ['manual', 'authToken', 'app/auth-token', undefined],
    ]);
  });
});

describe('planFile: names', () => {
  it('follows --name-template and reports a name Coffer would refuse instead of importing it', async () => {
    const content = `DB_PASSWORD=${random(24)}\n`;
    const byFile = await plan('.env.production', content, { prefix: 'apps/', template: '{{source}}/{{key}}' });
    expect(byFile.items[0]?.name).toBe('apps/production/db-password');
    const invalid = await plan('.env', content, { prefix: 'has space/', template: '{{key}}' });
    expect(invalid.items[0]).toMatchObject({ name: '', replacement: undefined });
    expect(invalid.items[0]?.error).toMatch(/not a valid secret name/);
  });
});

describe('withoutCollisions', () => {
  it('moves one value found twice as one secret, and neither of two values planned under one name', async () => {
    const shared = random(24);
    const a = await plan('.env', `DB_PASSWORD=${shared}\nAPI_TOKEN=${random(32)}\n`);
    const b = await plan('deploy/.env', `DB_PASSWORD=${shared}\nAPI_TOKEN=${random(32)}\n`);
    const [first, second] = withoutCollisions([a, b]);
    const state = (items: typeof a.items) =>
      items.map((i) => [i.key, i.error === undefined, i.replacement !== undefined]);
    expect(state(first!.items)).toEqual([
      ['DB_PASSWORD', true, true],
      ['API_TOKEN', false, false],
    ]);
    expect(state(second!.items)).toEqual(state(first!.items));
    expect(first!.items[1]?.error).toMatch(/also named app\/api-token: choose names with --name-template/);
  });
});
