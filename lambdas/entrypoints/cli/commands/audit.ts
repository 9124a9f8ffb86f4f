import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { ChainHead, VerifyResult } from '../../../core/audit/hash-chain.ts';
import { client, integer, print, readSecretInput } from '../io.ts';

// Loaded by the commands that read the file, so the rest of the CLI starts without them.
const auditFileSink = () => import('../../../adapters/local/audit-file/file-audit-sink.ts');

interface VerifyFlags {
  file?: string;
  dataDir?: string;
  anchor?: string;
  remote?: boolean;
}

/** What the file verifier and `GET /v1/sys/audit/verify` answer (a server from before issue 18 omits `anchored`). */
type Verified = VerifyResult & { anchored?: boolean; anchor?: ChainHead };

async function dataDirLog(dataDir: string | undefined): Promise<string> {
  const { dataPaths, loadLocalConfig } = await import('../../local/config.ts');
  return dataPaths(loadLocalConfig(process.env, { dataDir }).dataDir).auditLog;
}

async function auditFile(flags: { file?: string; dataDir?: string }): Promise<string> {
  return flags.file ?? (await dataDirLog(flags.dataDir));
}

const VERIFY_HELP = `
A file alone cannot prove that no records were cut from its end: an anchor
(the seq and hash of a last record) can. The first of these is checked:
  --anchor <seq>:<hash>  the "anchor:" line (JSON: "last") of an earlier verify
  --data-dir <dir>       the anchor the node keeps beside its log
  <file>.head            an anchor file beside the file, as the node's log has
The file must hold every record up to the anchor, unaltered; records after it
are verified but not anchored. A log rotated away ends before any later anchor.

Exit codes:
  0  chain intact, and the file reaches its anchor
  1  tampered: records changed, deleted, reordered, inserted, or cut before
     the anchor (the message says how many are missing)
  2  usage, e.g. a malformed --anchor
  3  the log or its anchor file cannot be read
  7  the records present are intact, but no anchor covers the end:
     a cut tail cannot be ruled out
`;

/** Lines for people; the JSON form carries the same facts as fields (`anchored`, `anchor`, `last`). */
function verifiedText(result: Verified, hint: string): string {
  if (!result.ok) return `TAMPERED at line ${result.line}: ${result.reason}`;
  const { records, last, anchor } = result;
  const intact = `ok: ${records} records, chain intact${last === undefined ? '' : ` up to record ${last.seq}`}`;
  if (result.anchored === false) {
    const why =
      anchor === undefined || last === undefined
        ? ''
        : ` (the anchor, record ${anchor.seq}, precedes this file's first record, ${last.seq - records + 1})`;
    // No "anchor:" line: an end that nothing vouches for is no anchor to record.
    return `${intact}; its end is not anchored${why} (truncation cannot be ruled out): ${hint}`;
  }
  const after = last !== undefined && anchor !== undefined ? last.seq - anchor.seq : 0;
  const reach =
    anchor === undefined
      ? '' // an empty log whose anchor records none, or a server from before issue 18 (which does not say)
      : after > 0
        ? `; it holds the anchor, record ${anchor.seq}, and the ${after} record${after === 1 ? '' : 's'} after it are not anchored`
        : '; it reaches its anchor';
  return `${intact}${reach}${last === undefined ? '' : `\nanchor: ${last.seq}:${last.hash}`}`;
}

async function verifyLocal(flags: VerifyFlags): Promise<{ result: Verified; hint: string }> {
  const sink = await auditFileSink();
  const file = await auditFile(flags);
  let anchor: ChainHead | undefined;
  if (flags.anchor !== undefined) {
    anchor = sink.parseAnchor(flags.anchor);
    if (anchor === undefined) {
      throw new CliError(
        '--anchor must be <seq>:<64 hex digits>, as the "anchor:" line of `coffer audit verify` prints it',
        ExitCode.usage,
      );
    }
  }
  // An explicit data dir is the operator naming whose anchor applies, even to a copy kept elsewhere.
  const anchorPath = flags.dataDir !== undefined ? sink.headAnchorPath(await dataDirLog(flags.dataDir)) : undefined;
  const result = await sink
    .verifyAuditFile(file, { ...(anchor !== undefined && { anchor }), ...(anchorPath !== undefined && { anchorPath }) })
    .catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read the audit log: ${err.code ?? err.message}`, ExitCode.notFound);
    });
  const hint =
    flags.file !== undefined && flags.dataDir === undefined
      ? 'pass --anchor or --data-dir'
      : `no head anchor at ${anchorPath ?? sink.headAnchorPath(file)}; pass --anchor`;
  return { result, hint };
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('verify, read and search the audit log');

  audit
    .command('verify')
    .description('check the hash chain; names the first changed, deleted or reordered record, and missing ones')
    .option('--file <path>', 'audit log file, e.g. a copy (default: <data dir>/audit/audit.log)')
    .option('--data-dir <dir>', "the node's data dir: its log, or its anchor for --file")
    .option('--anchor <seq:hash>', 'the end the file must reach, as an earlier verify printed it')
    .option('--remote', 'ask the server to verify its own log against its own anchor instead of reading the file')
    .addHelpText('after', VERIFY_HELP)
    .action(async (flags: VerifyFlags, command: Command) => {
      if (flags.remote === true && flags.anchor !== undefined) {
        throw new CliError(
          '--anchor checks a file here; with --remote the server checks its log against its own anchor',
          ExitCode.usage,
        );
      }
      const { result, hint } =
        flags.remote === true
          ? {
              result: await client(command).call<Verified>('GET', '/v1/sys/audit/verify'),
              hint: "the server's log has no head anchor",
            }
          : await verifyLocal(flags);
      print(command, result, () => verifiedText(result, hint));
      if (!result.ok) process.exitCode = ExitCode.failure;
      else if (result.anchored === false) process.exitCode = ExitCode.unanchored;
    });

  audit
    .command('tail')
    .description('print the last records (values are already HMAC-redacted)')
    .option('-n, --lines <n>', 'how many', integer('--lines'), 20)
    .option('-f, --follow', 'keep printing new records')
    .option('--file <path>')
    .option('--data-dir <dir>')
    .action(async (flags: { lines: number; follow?: boolean; file?: string; dataDir?: string }) => {
      const file = await auditFile(flags);
      const { readAuditTail } = await auditFileSink();
      for (const line of await readAuditTail(file, flags.lines)) process.stdout.write(`${line}\n`);
      if (flags.follow === true) await follow(file);
    });

  audit
    .command('hash')
    .description('HMAC a value (read from stdin or --file) with the audit salt, to search the log for it')
    .option('--file <path>')
    .action(async (flags: { file?: string }, command: Command) => {
      const input = (await readSecretInput(flags.file)).toString('utf8');
      const result = await client(command).call<{ hash: string }>('POST', '/v1/sys/audit/hash', { body: { input } });
      print(command, result, () => result.hash);
    });
}

/** Polls the file for appended bytes; the log is append-only, so the offset only moves forward. */
async function follow(file: string): Promise<never> {
  const handle = await open(file, 'r');
  let offset = (await handle.stat()).size;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { size } = await handle.stat();
    if (size <= offset) continue;
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    offset = size;
    process.stdout.write(buffer);
  }
}
