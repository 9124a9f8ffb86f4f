import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { client, integer, print, readSecretInput } from '../io.ts';

// Loaded by the commands that read the file, so the rest of the CLI starts without them.
const auditFileSink = () => import('../../../adapters/local/audit-file/file-audit-sink.ts');

async function auditFile(flags: { file?: string; dataDir?: string }): Promise<string> {
  if (flags.file !== undefined) return flags.file;
  const { dataPaths, loadLocalConfig } = await import('../../local/config.ts');
  return dataPaths(loadLocalConfig(process.env, { dataDir: flags.dataDir }).dataDir).auditLog;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('verify, read and search the audit log');

  audit
    .command('verify')
    .description('check the hash chain; names the first changed, deleted or reordered record')
    .option('--file <path>', 'audit log file (default: <data dir>/audit/audit.log)')
    .option('--data-dir <dir>')
    .option('--remote', 'ask the server to verify its own log instead of reading the file')
    .action(async (flags: { file?: string; dataDir?: string; remote?: boolean }, command: Command) => {
      const result =
        flags.remote === true
          ? await client(command).call<{ ok: boolean; records: number; line?: number; reason?: string }>(
              'GET',
              '/v1/sys/audit/verify',
            )
          : await (await auditFileSink())
              .verifyAuditFile(await auditFile(flags))
              .catch((err: NodeJS.ErrnoException) => {
                throw new CliError(`cannot read the audit log: ${err.code ?? err.message}`, ExitCode.notFound);
              });
      print(command, result, () =>
        result.ok ? `ok: ${result.records} records, chain intact` : `TAMPERED at line ${result.line}: ${result.reason}`,
      );
      if (!result.ok) process.exitCode = ExitCode.failure;
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
