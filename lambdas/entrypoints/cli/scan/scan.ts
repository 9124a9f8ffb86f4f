import type { Finding } from './finding.ts';
import type { ScanReport } from './report.ts';
import { type ScanTarget, scanText } from './scanner.ts';
import { fileTargets, historyTargets, listFiles, newStats, type SourceStats, stagedTargets } from './sources.ts';

export interface ScanOptions {
  readonly paths: readonly string[];
  /** Scan every blob reachable in the repository's history instead of the work tree. @default false */
  readonly gitHistory: boolean;
  /** Scan the lines `git commit` would add instead of the work tree. @default false */
  readonly staged: boolean;
  /** Files (and blobs) larger than this are skipped, counted as `skippedLarge`. */
  readonly maxBytes: number;
  /** Fingerprints of accepted findings, left out of the report. */
  readonly baseline: ReadonlySet<string>;
  readonly cwd: string;
}

/** Scans what the options name and answers every finding not in the baseline. */
export async function scan(options: ScanOptions): Promise<ScanReport & { all: readonly Finding[] }> {
  const stats: SourceStats = newStats();
  const targets: AsyncIterable<ScanTarget> = options.gitHistory
    ? historyTargets(options.cwd, options.maxBytes, stats)
    : options.staged
      ? stagedTargets(options.cwd, options.maxBytes, stats)
      : fileTargets(await listFiles(options.paths, options.cwd), options.cwd, options.maxBytes, stats);
  const all: Finding[] = [];
  for await (const target of targets) all.push(...(await scanText(target)));
  const findings = all.filter((finding) => !options.baseline.has(finding.fingerprint));
  return { all, findings, baselined: all.length - findings.length, stats };
}
