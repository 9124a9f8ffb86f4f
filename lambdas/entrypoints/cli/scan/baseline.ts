import { readFile, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { Finding } from './finding.ts';

/**
 * A baseline: the findings a team has looked at and accepted (test fixtures, revoked keys kept in history), so that
 * only new ones fail the scan. It names each by fingerprint (rule + path + hash of the secret) and never holds the
 * secret; rule, path and line are there for the reviewer of the file.
 */
const Baseline = z.object({
  version: z.literal(1),
  findings: z.array(
    z.object({
      fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'a fingerprint is 64 hex characters'),
      ruleId: z.string(),
      path: z.string(),
      line: z.number().int().positive().optional(),
      commit: z.string().optional(),
    }),
  ),
});
export type Baseline = z.infer<typeof Baseline>;

export async function readBaseline(file: string): Promise<ReadonlySet<string>> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read baseline ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`baseline ${file} is not JSON`, ExitCode.usage);
  }
  const parsed = Baseline.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(
      `baseline ${file} is not a coffer scan baseline: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
      ExitCode.usage,
    );
  }
  return new Set(parsed.data.findings.map((finding) => finding.fingerprint));
}

export async function writeBaseline(file: string, findings: readonly Finding[]): Promise<void> {
  const unique = new Map<string, Baseline['findings'][number]>();
  for (const finding of findings) {
    if (unique.has(finding.fingerprint)) continue;
    unique.set(finding.fingerprint, {
      fingerprint: finding.fingerprint,
      ruleId: finding.ruleId,
      path: finding.path,
      line: finding.line,
      ...(finding.commit === undefined ? {} : { commit: finding.commit }),
    });
  }
  const baseline: Baseline = { version: 1, findings: [...unique.values()] };
  await writeFile(file, `${JSON.stringify(baseline, null, 2)}\n`).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot write baseline ${file}: ${err.code ?? 'error'}`, ExitCode.failure);
  });
}
