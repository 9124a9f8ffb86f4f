import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureRepo, cofferToken, type FixtureRepo, password } from '../support/scan-fixture-repo.ts';
import { COFFER_BIN, tempDir } from '../support/server-process.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A validator for the official SARIF 2.1.0 (rtm.5) schema. It is a draft-04 schema, which Ajv 8 reads once its draft
 * markers (`$schema`, `id`) are taken off; its patterns are not Unicode regular expressions.
 */
function officialSarifValidator() {
  const file = path.join(ROOT, 'node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
  const { $schema: _draft, id: _id, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false, unicodeRegExp: false });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

interface Finding {
  ruleId: string;
  path: string;
  line: number;
  column: number;
  commit?: string;
  redacted: string;
  fingerprint: string;
}

interface Scan {
  code: number;
  stdout: string;
  stderr: string;
}

function scan(cwd: string, args: readonly string[]): Promise<Scan> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COFFER_BIN, 'scan', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function findingsOf(result: Scan): Finding[] {
  return (JSON.parse(result.stdout) as { findings: Finding[] }).findings;
}

/**
 * What GitHub code scanning requires of an uploaded SARIF file, as a JSON schema (draft-07) over the parts of the
 * SARIF 2.1.0 schema it reads: the log's version and schema, the tool's driver and rules, and each result's rule,
 * message, location (a relative URI, 1-based lines) and partial fingerprints; stricter than the official schema,
 * which the output is held to as well ({@link officialSarifValidator}).
 */
const SARIF_SUBSET_SCHEMA = {
  type: 'object',
  required: ['version', '$schema', 'runs'],
  properties: {
    version: { const: '2.1.0' },
    $schema: { type: 'string', format: 'uri' },
    runs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['tool', 'results'],
        properties: {
          tool: {
            type: 'object',
            required: ['driver'],
            properties: {
              driver: {
                type: 'object',
                required: ['name', 'rules'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  version: { type: 'string' },
                  rules: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['id', 'shortDescription', 'help', 'properties'],
                      properties: {
                        id: { type: 'string', minLength: 1 },
                        shortDescription: { $ref: '#/definitions/message' },
                        fullDescription: { $ref: '#/definitions/message' },
                        help: { $ref: '#/definitions/message' },
                        defaultConfiguration: {
                          type: 'object',
                          properties: { level: { enum: ['none', 'note', 'warning', 'error'] } },
                        },
                        properties: {
                          type: 'object',
                          required: ['tags', 'security-severity'],
                          properties: {
                            tags: { type: 'array', items: { type: 'string' }, contains: { const: 'security' } },
                            'security-severity': { type: 'string', pattern: '^(10(\\.0)?|[0-9](\\.[0-9])?)$' },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          results: {
            type: 'array',
            items: {
              type: 'object',
              required: ['ruleId', 'message', 'locations', 'partialFingerprints'],
              properties: {
                ruleId: { type: 'string', minLength: 1 },
                ruleIndex: { type: 'integer', minimum: 0 },
                level: { enum: ['none', 'note', 'warning', 'error'] },
                message: { $ref: '#/definitions/message' },
                partialFingerprints: {
                  type: 'object',
                  minProperties: 1,
                  additionalProperties: { type: 'string', minLength: 1 },
                },
                locations: {
                  type: 'array',
                  minItems: 1,
                  items: {
                    type: 'object',
                    required: ['physicalLocation'],
                    properties: {
                      physicalLocation: {
                        type: 'object',
                        required: ['artifactLocation', 'region'],
                        properties: {
                          artifactLocation: {
                            type: 'object',
                            required: ['uri'],
                            properties: { uri: { type: 'string', format: 'uri-reference', not: { pattern: '^/' } } },
                          },
                          region: {
                            type: 'object',
                            required: ['startLine'],
                            properties: {
                              startLine: { type: 'integer', minimum: 1 },
                              startColumn: { type: 'integer', minimum: 1 },
                              endLine: { type: 'integer', minimum: 1 },
                              endColumn: { type: 'integer', minimum: 1 },
                            },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
  definitions: {
    message: { type: 'object', required: ['text'], properties: { text: { type: 'string', minLength: 1 } } },
  },
};

/** Precision and recall per kind of planted secret, and the look-alikes matched, as a markdown table. */
function scoreTable(repo: FixtureRepo, findings: readonly Finding[]): { table: string; tp: number; fp: number } {
  const at = (p: { path: string; line: number }) => findings.filter((f) => f.path === p.path && f.line === p.line);
  const plantedAt = new Set(repo.planted.map((p) => `${p.path}:${p.line}`));
  const rows = repo.planted.map(
    (p) => `| ${p.kind} | ${p.path}:${p.line} | ${at(p).length > 0 ? 'found' : 'MISSED'} |`,
  );
  const lookRows = repo.lookAlikes.map(
    (l) => `| look-alike: ${l.kind} | ${l.path}:${l.line} | ${at(l).length > 0 ? 'MATCHED' : 'not matched'} |`,
  );
  const tp = repo.planted.filter((p) => at(p).length > 0).length;
  const fp = findings.filter((f) => !plantedAt.has(`${f.path}:${f.line}`)).length;
  const precision = findings.length === 0 ? 1 : (findings.length - fp) / findings.length;
  const recall = tp / repo.planted.length;
  const table = [
    '| case | where | result |',
    '| --- | --- | --- |',
    ...rows,
    ...lookRows,
    '',
    `| planted | found | look-alikes | matched | findings elsewhere | precision | recall |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${repo.planted.length} | ${tp} | ${repo.lookAlikes.length} | ${repo.lookAlikes.filter((l) => at(l).length > 0).length} | ${fp} | ${(precision * 100).toFixed(0)}% | ${(recall * 100).toFixed(0)}% |`,
  ].join('\n');
  return { table, tp, fp };
}

describe('coffer scan on a fixture repository', () => {
  let temp: { dir: string; cleanup: () => void };
  let repo: FixtureRepo;
  let history: Scan;
  let files: Scan;

  beforeAll(async () => {
    temp = tempDir('coffer-scan-');
    repo = buildFixtureRepo(path.join(temp.dir, 'repo'));
    [history, files] = await Promise.all([
      scan(repo.dir, ['--git-history', '--format', 'json']),
      scan(repo.dir, ['--format', 'json']),
    ]);
  });
  afterAll(() => temp.cleanup());

  it('finds every planted secret in the history, deleted ones included, and matches no look-alike', () => {
    expect(history.code).toBe(1);
    const findings = findingsOf(history);
    const { table, tp, fp } = scoreTable(repo, findings);
    // The table docs/scan.md records.
    console.log(`coffer scan --git-history on the fixture repository\n\n${table}\n`);
    expect(repo.planted.filter((p) => p.historyOnly).length).toBeGreaterThan(0);
    expect(tp).toBe(repo.planted.length);
    expect(fp).toBe(0);
    const head = repo.git('rev-list', '--max-parents=0', 'HEAD').trim();
    for (const finding of findings) expect(finding.commit).toBe(head);
  });

  it('finds the secrets of the files as they are, honouring .gitignore and skipping binary files', () => {
    expect(files.code).toBe(1);
    const findings = findingsOf(files);
    const current = repo.planted.filter((p) => !p.historyOnly);
    const { tp, fp } = scoreTable({ ...repo, planted: current }, findings);
    expect(tp).toBe(current.length);
    expect(fp).toBe(0);
    expect(findings.some((f) => f.path === 'local.env' || f.path === 'logo.bin')).toBe(false);
    expect(findings.every((f) => f.commit === undefined)).toBe(true);
    const stats = (JSON.parse(files.stdout) as { stats: { skippedBinary: number } }).stats;
    expect(stats.skippedBinary).toBe(1);
  });

  it('prints no planted secret in full, in any format or the baseline', async () => {
    const baselineFile = path.join(temp.dir, 'redaction-baseline.json');
    const outputs = [
      history,
      files,
      await scan(repo.dir, ['--git-history']),
      await scan(repo.dir, ['--git-history', '--format', 'sarif']),
      await scan(repo.dir, ['--git-history', '--write-baseline', baselineFile]),
    ].flatMap((result) => [result.stdout, result.stderr]);
    outputs.push(readFileSync(baselineFile, 'utf8'));
    for (const planted of repo.planted) {
      for (const output of outputs) expect(output.includes(planted.secret), planted.kind).toBe(false);
    }
    for (const finding of findingsOf(history)) expect(finding.redacted).toMatch(/^.{0,4}…\(\d+ chars\)$/);
  });

  it('prints path:line:col, the rule and a message per finding as text', async () => {
    const text = await scan(repo.dir, []);
    expect(text.code).toBe(1);
    const token = repo.planted.find((p) => p.kind === 'Coffer token') as { path: string; line: number };
    expect(text.stdout).toMatch(
      new RegExp(
        `^${token.path.replace('.', '\\.')}:${token.line}:14  coffer/coffer-credentials  found a Coffer token$`,
        'm',
      ),
    );
    expect(text.stderr).toMatch(
      /^\d+ secrets found in \d+ files scanned \(0 accepted by the baseline; skipped 1 binary, 0 too large\)$/m,
    );
  });

  it('writes SARIF 2.1.0 that fits what GitHub code scanning reads, one result per finding', async () => {
    const sarif = await scan(repo.dir, ['--git-history', '--format', 'sarif']);
    expect(sarif.code).toBe(1);
    const log = JSON.parse(sarif.stdout) as {
      runs: Array<{
        tool: { driver: { rules: Array<{ id: string }> } };
        results: Array<{ ruleId: string; partialFingerprints: Record<string, string>; locations?: unknown }>;
      }>;
    };
    const ajv = new Ajv({ allErrors: true });
    // ajv-formats is CommonJS: its plugin is the default export's `default`.
    addFormats.default(ajv);
    const validate = ajv.compile(SARIF_SUBSET_SCHEMA);
    expect(validate(log), ajv.errorsText(validate.errors)).toBe(true);
    const findings = findingsOf(history);
    const [run] = log.runs;
    expect(run?.results).toHaveLength(findings.length);
    const fingerprints = run?.results.map((r) => r.partialFingerprints['cofferSecret/v1']).sort();
    expect(fingerprints).toEqual(findings.map((f) => f.fingerprint).sort());
    // Every result's rule is described in the driver.
    const rules = new Set(run?.tool.driver.rules.map((rule) => rule.id));
    expect(run?.results.filter((r) => !rules.has(r.ruleId))).toEqual([]);
    // The official SARIF 2.1.0 schema (as published by OASIS, shipped in @microsoft/jest-sarif) accepts it too.
    const official = officialSarifValidator();
    expect(official(log), ajv.errorsText(official.errors)).toBe(true);
    // And the check has teeth: a result without a location is refused.
    delete run?.results[0]?.locations;
    expect(validate(log)).toBe(false);
    // The official schema has teeth as well: a result level SARIF does not define is refused.
    const broken = JSON.parse(sarif.stdout) as { runs: Array<{ results: Array<{ level?: string }> }> };
    broken.runs[0]!.results[0]!.level = 'catastrophic';
    expect(official(broken)).toBe(false);
  });

  it('accepts the findings of a baseline and reports only new ones', async () => {
    const baselineFile = path.join(temp.dir, 'baseline.json');
    const written = await scan(repo.dir, ['--git-history', '--write-baseline', baselineFile]);
    expect(written.code).toBe(0);
    const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as { findings: Array<{ fingerprint: string }> };
    expect(baseline.findings).toHaveLength(new Set(findingsOf(history).map((f) => f.fingerprint)).size);

    const accepted = await scan(repo.dir, ['--git-history', '--baseline', baselineFile, '--format', 'json']);
    expect(accepted.code).toBe(0);
    expect(findingsOf(accepted)).toEqual([]);
    expect(accepted.stderr).toContain(`(${findingsOf(history).length} accepted by the baseline;`);

    // A line moved down keeps its fingerprint; a new secret is reported.
    const envFile = path.join(repo.dir, '.env.production');
    const fresh = cofferToken();
    writeFileSync(envFile, `# moved\n${readFileSync(envFile, 'utf8')}EXTRA_TOKEN=${fresh}\n`);
    const after = await scan(repo.dir, ['--baseline', baselineFile, '--format', 'json']);
    expect(after.code).toBe(1);
    expect(findingsOf(after).map((f) => [f.path, f.ruleId])).toEqual([
      ['.env.production', 'coffer/coffer-credentials'],
    ]);
    expect(findingsOf(after)[0]?.line).toBe(7);
    repo.git('checkout', '--', '.env.production');
  });

  it('exits 2 on bad usage, with a message', async () => {
    const cases: Array<[string[], string]> = [
      [['--format', 'xml'], "argument 'xml' is invalid"],
      [['--git-history', '--staged'], 'cannot be combined'],
      [['no-such-folder'], 'no such file or directory: no-such-folder'],
      [['--max-size', 'lots'], '--max-size must be'],
      [['--baseline', 'missing.json'], 'cannot read baseline missing.json: ENOENT'],
    ];
    for (const [args, message] of cases) {
      const result = await scan(repo.dir, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
    writeFileSync(path.join(temp.dir, 'not-a-baseline.json'), '{"findings": [{"fingerprint": "secret"}]}');
    const bad = await scan(repo.dir, ['--baseline', path.join(temp.dir, 'not-a-baseline.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a coffer scan baseline');
  });

  it('exits 0 when there is nothing to find, and skips files over --max-size', async () => {
    const clean = path.join(temp.dir, 'clean');
    mkdirSync(clean);
    writeFileSync(path.join(clean, 'README.md'), '# Nothing to see\n');
    writeFileSync(path.join(clean, 'big.env'), `COFFER_TOKEN=${cofferToken()}\n${'#'.repeat(4096)}\n`);
    const result = await scan(clean, ['--max-size', '2k']);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain(
      '0 secrets found in 1 file scanned (0 accepted by the baseline; skipped 0 binary, 1 too large)',
    );
    expect((await scan(clean, [])).code).toBe(1);
  });

  it('--staged reports only the lines the commit would add', async () => {
    const staged = path.join(temp.dir, 'staged');
    const stagedRepo = buildFixtureRepo(staged);
    const newToken = cofferToken();
    const newPassword = password();
    writeFileSync(path.join(staged, 'src/new.ts'), `export const token = '${newToken}';\n`);
    const awsEnv = path.join(staged, 'config/aws.env');
    writeFileSync(awsEnv, `${readFileSync(awsEnv, 'utf8')}DATABASE_URL=postgres://app:${newPassword}@db:5432/app\n`);
    // Unstaged: a pre-commit hook must not see it.
    writeFileSync(path.join(staged, 'src/unstaged.ts'), `export const token = '${cofferToken()}';\n`);
    stagedRepo.git('add', 'src/new.ts', 'config/aws.env');
    const result = await scan(staged, ['--staged', '--format', 'json']);
    expect(result.code).toBe(1);
    expect(
      findingsOf(result)
        .map((f) => `${f.path}:${f.line}`)
        .sort(),
    ).toEqual(['config/aws.env:5', 'src/new.ts:1']);
    for (const secret of [newToken, newPassword]) expect(result.stdout + result.stderr).not.toContain(secret);

    stagedRepo.git('reset', '-q');
    const nothing = await scan(staged, ['--staged']);
    expect(nothing.code).toBe(0);
  });

  it('examples/pre-commit, installed as a git hook, refuses a commit that adds a secret and lets a clean one through', () => {
    const hooked = path.join(temp.dir, 'hooked');
    const hookedRepo = buildFixtureRepo(hooked);
    copyFileSync(path.join(ROOT, 'examples/pre-commit'), path.join(hooked, '.git/hooks/pre-commit'));
    chmodSync(path.join(hooked, '.git/hooks/pre-commit'), 0o755);
    const env = { ...process.env, COFFER: `${process.execPath} ${COFFER_BIN}` };
    const commit = (message: string) =>
      spawnSync('git', ['commit', '-q', '-m', message], { cwd: hooked, env, encoding: 'utf8' });

    const token = cofferToken();
    writeFileSync(path.join(hooked, 'src/leak.ts'), `export const token = '${token}';\n`);
    hookedRepo.git('add', 'src/leak.ts');
    const refused = commit('add a leak');
    expect(refused.status).toBe(1);
    // git runs hooks with their stdout on its stderr.
    expect(refused.stderr).toContain('src/leak.ts:1:23  coffer/coffer-credentials  found a Coffer token');
    expect(refused.stdout + refused.stderr).not.toContain(token);
    expect(hookedRepo.git('log', '--format=%s', '-1').trim()).toBe('remove legacy config');

    writeFileSync(path.join(hooked, 'src/leak.ts'), 'export const token = process.env.COFFER_TOKEN;\n');
    hookedRepo.git('add', 'src/leak.ts');
    expect(commit('read the token from the environment').status).toBe(0);
    expect(hookedRepo.git('log', '--format=%s', '-1').trim()).toBe('read the token from the environment');
  });
});
