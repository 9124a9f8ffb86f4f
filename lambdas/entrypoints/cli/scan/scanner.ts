import { lintSource } from '@secretlint/core';
import type { SecretLintCoreResultMessage } from '@secretlint/types';
import { type Finding, fingerprintOf, redact } from './finding.ts';
import { DROPPED_MESSAGE_IDS, rulePriority, SCAN_CONFIG } from './rules/index.ts';

/** Text to scan: a file of the working tree, or a blob from git history or the index. */
export interface ScanTarget {
  readonly path: string;
  readonly content: string;
  readonly commit?: string;
  /** Only findings that touch one of these 1-based line ranges count (`--staged`: the lines the commit adds). */
  readonly lines?: ReadonlyArray<readonly [first: number, last: number]>;
}

/** Runs every rule over one text and answers its findings, one per secret, in the order they appear. */
export async function scanText(target: ScanTarget): Promise<Finding[]> {
  const result = await lintSource({
    source: { content: target.content, filePath: target.path, ext: extensionOf(target.path), contentType: 'text' },
    // Rules put the secret into their messages; masked, the messages can be shown.
    options: { config: SCAN_CONFIG, maskSecrets: true, noPhysicFilePath: true },
  });
  const reported = result.messages
    .filter((message) => !DROPPED_MESSAGE_IDS.has(message.messageId))
    .map((message) => ({ ...message, range: secretRange(message, target.content) }));
  const lines = new LineIndex(target.content);
  return withoutOverlaps(reported).flatMap((message) => {
    const [start, end] = message.range;
    const from = lines.position(start);
    // The end is exclusive; its position is that of the secret's last character, plus one column.
    const to = lines.position(Math.max(start, end - 1));
    if (!touches(from.line, to.line, target.lines)) return [];
    const secret = target.content.slice(start, end);
    return [
      {
        ruleId: message.ruleId,
        message: withoutSecret(message.message, secret),
        path: target.path,
        line: from.line,
        column: from.column,
        endLine: to.line,
        endColumn: to.column + 1,
        ...(target.commit === undefined ? {} : { commit: target.commit }),
        redacted: redact(secret),
        fingerprint: fingerprintOf(message.ruleId, target.path, secret),
      },
    ];
  });
}

/**
 * The text a message is about. The preset's AWS rule reports a secret access key with the range of the whole
 * `name = "key"` match cut to the key's length (it adds the key's length to the match's start), so the range starts at
 * the name; the key itself is the 40 characters after the assignment.
 */
function secretRange(message: SecretLintCoreResultMessage, content: string): readonly [number, number] {
  if (message.messageId !== 'AWSSecretAccessKey') return message.range;
  const from = message.range[0];
  const key = /(?::|=>|=)\s*["']?([A-Za-z0-9/+=]{40})/.exec(content.slice(from, from + 400));
  if (key?.[1] === undefined) return message.range;
  const start = from + key.index + key[0].length - key[1].length;
  return [start, start + key[1].length];
}

/** 1-based line and column of offsets in a text. */
class LineIndex {
  private readonly starts: number[] = [0];
  constructor(content: string) {
    for (let at = content.indexOf('\n'); at !== -1; at = content.indexOf('\n', at + 1)) this.starts.push(at + 1);
  }
  position(offset: number): { line: number; column: number } {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - (this.starts[low] as number) + 1 };
  }
}

/** Two rules can see the same text (an AWS secret key is also high-entropy): keep the most specific report. */
function withoutOverlaps<M extends Pick<SecretLintCoreResultMessage, 'ruleId' | 'range'>>(messages: M[]): M[] {
  const byPriority = [...messages].sort(
    (a, b) => rulePriority(a.ruleId) - rulePriority(b.ruleId) || a.range[0] - b.range[0],
  );
  const kept: M[] = [];
  for (const message of byPriority) {
    const overlaps = kept.some((other) => message.range[0] < other.range[1] && other.range[0] < message.range[1]);
    if (!overlaps) kept.push(message);
  }
  return kept.sort((a, b) => a.range[0] - b.range[0]);
}

function touches(startLine: number, endLine: number, lines: ScanTarget['lines']): boolean {
  if (lines === undefined) return true;
  return lines.some(([first, last]) => startLine <= last && first <= endLine);
}

/**
 * `maskSecrets` turns what a rule passes as data into asterisks, which say nothing; the redacted form says which secret.
 * A rule that wrote the secret into its text itself is masked here too.
 */
function withoutSecret(message: string, secret: string): string {
  const masked = message.replace(/\*{4,}/g, redact(secret));
  return secret.length === 0 ? masked : masked.split(secret).join(redact(secret));
}

function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot);
}
