/**
 * The shell blocks of a Markdown file, and what the README test does with each (test/e2e/readme.test.ts).
 *
 * A fenced block whose info string is `sh`, `bash` or `shell` is a shell block; every other fence (```text, ```json,
 * ```ts, …) is prose. An HTML comment on the line just before a shell block's fence, invisible on GitHub, annotates it:
 *
 * - `<!-- readme-test: server -->`: a long-running command (`npm start`). The test starts it in the background and
 *   waits until it prints `listening on`; a later server block of the same name replaces it. `server:<name>` names
 *   another process that runs beside it (`server:postgres` for `coffer dev postgres`).
 * - `<!-- readme-test: aws -->`: needs an AWS endpoint; runs against the emulator (test/e2e/readme-aws.test.ts). It
 *   combines with `server` (`aws server`).
 * - `<!-- readme-test: skip "reason" -->`: not run, for what genuinely cannot run in a test (an AWS account, the test
 *   suite itself). The README test lists these blocks and their reasons, so nothing slips into skip unnoticed.
 *
 * Anything else after `readme-test:` is an error, as is an annotation that is not followed by a shell block: a typo
 * must not silently turn into "run it".
 */

export type BlockMode =
  | { readonly kind: 'run'; readonly aws: boolean }
  | { readonly kind: 'server'; readonly name: string; readonly aws: boolean }
  | { readonly kind: 'skip'; readonly reason: string };

export interface ShellBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The nearest heading above the block (without its `#`s), '' before the first. */
  readonly heading: string;
  /** The block's text, without fences, its indentation removed; ends with a newline. */
  readonly code: string;
  readonly mode: BlockMode;
}

const SHELL_INFO = new Set(['sh', 'bash', 'shell']);
const ANNOTATION = /^\s*<!--\s*readme-test:(.*?)-->\s*$/;
const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;

/** Parses the words of an annotation (what follows `readme-test:`). */
export function parseAnnotation(text: string, line: number): BlockMode {
  const words = text.trim();
  const skip = /^skip\s+"([^"]+)"$/.exec(words);
  if (skip !== null) return { kind: 'skip', reason: skip[1]! };
  let aws = false;
  let server: string | undefined;
  for (const word of words.split(/\s+/).filter(Boolean)) {
    const named = /^server(?::([a-z][a-z0-9-]*))?$/.exec(word);
    if (word === 'aws' && !aws) aws = true;
    else if (named !== null && server === undefined) server = named[1] ?? 'server';
    else throw new Error(`line ${line}: unknown readme-test annotation "${words}" (server[:name], aws, skip "reason")`);
  }
  if (server === undefined && !aws) throw new Error(`line ${line}: empty readme-test annotation`);
  return server === undefined ? { kind: 'run', aws } : { kind: 'server', name: server, aws };
}

/** Every shell block of `markdown`, in order, with its annotation. */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  let heading = '';
  let pending: { mode: BlockMode; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const annotation = ANNOTATION.exec(text);
    if (annotation !== null) {
      if (pending !== undefined) throw new Error(`line ${pending.line}: readme-test annotation without a shell block`);
      pending = { mode: parseAnnotation(annotation[1]!, i + 1), line: i + 1 };
      continue;
    }
    const fence = FENCE.exec(text);
    if (fence === null) {
      if (pending !== undefined) throw new Error(`line ${pending.line}: readme-test annotation without a shell block`);
      const title = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
      if (title !== null) heading = title[1]!;
      continue;
    }
    // A fence: find its end (the same character, at least as long, nothing after it), whatever its language.
    const [, indent, marker, info] = fence as unknown as [string, string, string, string];
    const close = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end]!)) end++;
    if (end === lines.length) throw new Error(`line ${i + 1}: unclosed code fence`);
    const isShell = SHELL_INFO.has(info.toLowerCase());
    if (pending !== undefined && !isShell) {
      throw new Error(
        `line ${pending.line}: readme-test annotation before a ${info || 'plain'} block, not a shell one`,
      );
    }
    if (isShell) {
      const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
      blocks.push({
        line: i + 1,
        heading,
        code: `${body.join('\n')}\n`,
        mode: pending?.mode ?? { kind: 'run', aws: false },
      });
    }
    pending = undefined;
    i = end;
  }
  if (pending !== undefined) throw new Error(`line ${pending.line}: readme-test annotation without a shell block`);
  return blocks;
}

/** The first command of a block: its first line that is neither blank nor a comment, trimmed. */
export function firstCommand(block: ShellBlock): string {
  return (
    block.code
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '' && !l.startsWith('#')) ?? ''
  );
}
