import { readFileSync } from 'node:fs';

/** One instruction of a Dockerfile: its keyword (upper case) and the rest of its (joined) line. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** A build stage: its base image, its name (`AS …`) and its instructions after FROM. */
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/**
 * The stages of a Dockerfile, read the way Docker reads the instructions the repository's Dockerfile uses: comment
 * lines dropped, `\` continuations joined, one instruction per line, a stage per FROM. No maintained npm package
 * parses Dockerfiles, and this subset needs no more (heredocs and parser directives other than `syntax` are refused).
 */
export function readDockerfile(file: string): Stage[] {
  const lines = readFileSync(file, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    if (line.includes('<<')) throw new Error(`heredocs are not read here: ${line}`);
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (match === null) throw new Error(`unexpected FROM: ${line}`);
      stages.push({ from: match[1]!, name: match[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`an instruction before FROM: ${line}`);
    stage.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

/** An instruction's JSON (exec) form, e.g. ENTRYPOINT ["node", "app.mjs"]. */
export function execForm(instruction: Instruction): string[] {
  const parsed: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`${instruction.keyword} is not in exec form: ${instruction.args}`);
  }
  return parsed;
}

/** A COPY: the stage it copies from (undefined: the build context), its sources and its destination. */
export function copyOf(instruction: Instruction): { from: string | undefined; sources: string[]; destination: string } {
  const words = instruction.args.split(/\s+/);
  const flags = words.filter((word) => word.startsWith('--'));
  const paths = words.filter((word) => !word.startsWith('--'));
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  if (flags.some((flag) => !flag.startsWith('--from='))) throw new Error(`COPY flags not read here: ${flags}`);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

/** `ENV a=b c=d` as its variables (values without spaces or quotes, as the repository's Dockerfile writes them). */
export function envOf(instruction: Instruction): Record<string, string> {
  return Object.fromEntries(
    instruction.args.split(/\s+/).map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1 || /["']/.test(pair)) throw new Error(`ENV not read here: ${instruction.args}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
