import { redact } from '../finding.ts';

/** A span of a file: replaced by `replacement` when it has one, otherwise a secret left where it is. */
export interface DiffSpan {
  readonly start: number;
  readonly end: number;
  readonly replacement?: string | undefined;
}

const CONTEXT = 3;

/**
 * The secret of a span as a diff may show it: redacted, on as many lines as it had, so line numbers stay true; a
 * removed line that held nothing but the middle of a secret is then left out of the diff (see `unifiedDiff`).
 * @example redactedLines('-----BEGIN\nabc\n-----END') // '----…(23 chars, 3 lines)\n…\n…'
 */
export function redactedLines(secret: string): string {
  const lines = secret.split('\n');
  if (lines.length === 1) return redact(secret);
  return [redact(secret).replace(/\)$/, `, ${lines.length} lines)`), ...lines.slice(1).map(() => '…')].join('\n');
}

/**
 * A unified diff (`--- a/path`, `+++ b/path`, hunks with 3 lines of context) of the replacements in one file, for a
 * person to review. Every secret in it is redacted, on both sides, so it cannot be applied with `git apply`:
 * `coffer scan --fix --write` makes the change. The lines a multi-line secret being replaced covers after its first
 * are not shown (its first line says how many it had): a hunk's old count is of the lines shown, its start the line in
 * the file. Empty when nothing is replaced.
 */
export function unifiedDiff(filePath: string, content: string, spans: readonly DiffSpan[]): string {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const edits = sorted.filter((span) => span.replacement !== undefined);
  if (edits.length === 0) return '';
  const shown = (span: DiffSpan) => redactedLines(content.slice(span.start, span.end));
  const oldLines = splitLines(
    replaceSpans(
      content,
      sorted.map((span) => ({ ...span, text: shown(span) })),
    ),
  );
  const lineOf = lineIndex(content);

  // Blocks of whole lines that change: each edit's lines, merged when they touch.
  const blocks: Array<{ first: number; last: number }> = [];
  for (const edit of edits) {
    const first = lineOf(edit.start);
    const last = lineOf(Math.max(edit.start, edit.end - 1));
    const previous = blocks.at(-1);
    if (previous !== undefined && first <= previous.last + 1) previous.last = Math.max(previous.last, last);
    else blocks.push({ first, last });
  }

  const lineStarts = [0];
  for (let at = content.indexOf('\n'); at !== -1; at = content.indexOf('\n', at + 1)) lineStarts.push(at + 1);
  const lineStart = (line: number) => lineStarts[line - 1] ?? content.length;
  /** A line wholly inside a replaced secret, not its first: nothing of it would be read in the diff. */
  const hidden = (line: number) => {
    const from = lineStart(line);
    const to = line < lineStarts.length ? lineStart(line + 1) - 1 : content.length;
    return edits.some((edit) => edit.start < from && to <= edit.end);
  };
  const newBlock = (block: { first: number; last: number }) => {
    const from = lineStart(block.first);
    const to = block.last < lineStarts.length ? lineStart(block.last + 1) : content.length;
    const inside = sorted
      .filter((span) => span.start >= from && span.end <= to)
      .map((span) => ({ start: span.start - from, end: span.end - from, text: span.replacement ?? shown(span) }));
    return splitLines(replaceSpans(content.slice(from, to), inside));
  };

  // Hunks: blocks closer than twice the context share one.
  const out: string[] = [`--- a/${filePath}`, `+++ b/${filePath}`];
  let delta = 0;
  let index = 0;
  while (index < blocks.length) {
    const group = [blocks[index]!];
    while (index + 1 < blocks.length && blocks[index + 1]!.first - group.at(-1)!.last <= 2 * CONTEXT + 1) {
      group.push(blocks[++index]!);
    }
    index++;
    const first = Math.max(1, group[0]!.first - CONTEXT);
    const last = Math.min(oldLines.length, group.at(-1)!.last + CONTEXT);
    const body: string[] = [];
    let oldShown = 0;
    let oldCount = 0;
    let newCount = 0;
    let line = first;
    for (const block of group) {
      for (; line < block.first; line++, oldShown++, oldCount++, newCount++) body.push(` ${oldLines[line - 1]!}`);
      for (; line <= block.last; line++, oldCount++) {
        if (hidden(line)) continue;
        body.push(`-${oldLines[line - 1]!}`);
        oldShown++;
      }
      for (const added of newBlock(block)) {
        body.push(`+${added}`);
        newCount++;
      }
    }
    for (; line <= last; line++, oldShown++, oldCount++, newCount++) body.push(` ${oldLines[line - 1]!}`);
    out.push(`@@ -${first},${oldShown} +${first + delta},${newCount} @@`, ...body);
    delta += newCount - oldCount;
  }
  return `${out.join('\n')}\n`;
}

function replaceSpans(text: string, spans: ReadonlyArray<{ start: number; end: number; text: string }>): string {
  let out = '';
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + span.text;
    at = span.end;
  }
  return out + text.slice(at);
}

/** A file's lines without their terminators (a last line without one is still a line). */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function lineIndex(content: string): (offset: number) => number {
  return (offset) => {
    let line = 1;
    for (let at = content.indexOf('\n'); at !== -1 && at < offset; at = content.indexOf('\n', at + 1)) line++;
    return line;
  };
}
