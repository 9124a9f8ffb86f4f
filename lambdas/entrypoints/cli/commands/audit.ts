import { open, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { AuditDevice } from '../../../api/audit-devices.ts';
import type { ChainHead, VerifyResult } from '../../../core/audit/hash-chain.ts';
import { client, collect, integer, listTable, print, readSecretInput } from '../io.ts';

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
    .description("HMAC a value (read from stdin or --file) with an audit device's key, to search its log for it")
    .option('--file <path>')
    .option('--path <device>', "the device whose key to use (each has its own; default: the built-in device's)")
    .action(async (flags: { file?: string; path?: string }, command: Command) => {
      const input = (await readSecretInput(flags.file)).toString('utf8');
      const body = { input, ...(flags.path !== undefined && { path: flags.path }) };
      const result = await client(command).call<{ hash: string }>('POST', '/v1/sys/audit/hash', { body });
      print(command, result, () => result.hash);
    });

  registerDeviceCommands(audit);
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

interface EnableFlags {
  path?: string;
  description?: string;
  collector?: string;
  transport?: string;
  facility?: string;
  appName?: string;
  caFile?: string;
  serverName?: string;
  socketType?: string;
  fileName?: string;
  excludeOperation?: string[];
  excludePath?: string[];
  dropRequestKey?: string[];
  dropResponseKey?: string[];
}

const DEVICE_TYPES = ['file', 'syslog', 'socket', 's3'];

const ENABLE_HELP = `
Types and their options:
  file    --file-name <name.log>  a log in the node's audit directory (default <path>.log)
  syslog  --collector host:port --transport udp|tcp|tls (RFC 5424; TCP/TLS octet-counted)
          --facility auth --app-name coffer --ca-file <pem> --server-name <name>
  socket  --collector host:port --socket-type tcp|udp (JSON lines)
  s3      the built-in device on AWS (re-enables it at path s3)
Network addresses must be on the egress allow-list (COFFER_EGRESS_ALLOW).

A request succeeds when at least one enabled device records it. A record that
every device's filters exclude is written nowhere: that is the operator's choice.

Examples:
  coffer audit enable syslog --collector logs.internal:6514 --transport tls --ca-file ca.pem
  coffer audit enable socket --path siem --collector 10.0.0.5:9000 --exclude-path 'sys/*'
  coffer audit enable file --path reads --file-name reads.log --exclude-operation sys.health
`;

function deviceOptions(type: string, flags: EnableFlags, caPem: string | undefined): Record<string, unknown> {
  const defined = (entries: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
  switch (type) {
    case 'file':
      return defined({ file_name: flags.fileName });
    case 'syslog':
      return defined({
        address: flags.collector,
        transport: flags.transport,
        facility: flags.facility,
        app_name: flags.appName,
        ca_pem: caPem,
        server_name: flags.serverName,
      });
    case 'socket':
      return defined({ address: flags.collector, socket_type: flags.socketType });
    default:
      return {};
  }
}

function iso(time: string | undefined): string {
  return time ?? '-';
}

function registerDeviceCommands(audit: Command): void {
  audit
    .command('enable <type>')
    .description('enable an audit device (file, syslog, socket, s3) with its own HMAC key, filters and format')
    .option('--path <name>', 'where it is enabled (default: its type)')
    .option('--description <text>')
    // Not --address: that is the server's, a global option.
    .option('--collector <host:port>', 'syslog, socket: where records go (on the egress allow-list)')
    .option('--transport <udp|tcp|tls>', 'syslog (default udp)')
    .option('--facility <name>', 'syslog (default auth)')
    .option('--app-name <name>', 'syslog: the RFC 5424 APP-NAME (default coffer)')
    .option('--ca-file <pem>', "syslog over TLS: the CA certificates the collector's must chain to")
    .option('--server-name <name>', "syslog over TLS: the name the collector's certificate must carry")
    .option('--socket-type <tcp|udp>', 'socket (default tcp)')
    .option('--file-name <name.log>', 'file: the log in the audit directory (default <path>.log)')
    .option('--exclude-operation <op>', 'leave out records of this operation (repeatable)', collect)
    .option('--exclude-path <glob>', 'leave out records on paths matching this policy glob (repeatable)', collect)
    .option('--drop-request-key <key>', 'remove this key from request data, at any depth (repeatable)', collect)
    .option('--drop-response-key <key>', 'remove this key from response data, at any depth (repeatable)', collect)
    .addHelpText('after', ENABLE_HELP)
    .action(async (type: string, flags: EnableFlags, command: Command) => {
      if (!DEVICE_TYPES.includes(type)) {
        throw new CliError(`the device type must be one of ${DEVICE_TYPES.join(', ')}`, ExitCode.usage);
      }
      const caPem =
        flags.caFile === undefined
          ? undefined
          : await readFile(flags.caFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
              throw new CliError(`cannot read ${flags.caFile}: ${err.code ?? 'error'}`, ExitCode.usage);
            });
      const body = {
        type,
        options: deviceOptions(type, flags, caPem),
        ...(flags.description !== undefined && { description: flags.description }),
        filters: {
          exclude_operations: flags.excludeOperation ?? [],
          exclude_paths: flags.excludePath ?? [],
          drop_request_keys: flags.dropRequestKey ?? [],
          drop_response_keys: flags.dropResponseKey ?? [],
        },
      };
      const path = flags.path ?? type;
      const device = await client(command).call<AuditDevice>(
        'PUT',
        `/v1/sys/audit-devices/${encodeURIComponent(path)}`,
        { body },
      );
      print(command, device, () => `enabled the ${device.type} audit device at ${device.path}`);
    });

  audit
    .command('list')
    .description("the enabled audit devices, with this node's view of each: records, failures, last error class")
    .action(async (_flags: unknown, command: Command) => {
      const { devices } = await client(command).call<{ devices: AuditDevice[] }>('GET', '/v1/sys/audit-devices');
      print(command, { devices }, () =>
        listTable(
          ['PATH', 'TYPE', 'RECORDED', 'FAILURES', 'FAILING', 'LAST SUCCESS', 'LAST ERROR', 'DESCRIPTION'],
          devices.map((d) => [
            d.path,
            d.type,
            String(d.health?.recorded ?? 0),
            String(d.health?.failures ?? 0),
            (d.health?.consecutiveFailures ?? 0) > 0 ? 'yes' : 'no',
            iso(d.health?.lastSuccessAt),
            d.health?.lastError ?? '-',
            d.description,
          ]),
        ),
      );
    });

  audit
    .command('disable <path>')
    .description('disable an audit device; the last enabled one cannot be (Coffer never runs unaudited)')
    .action(async (path: string, _flags: unknown, command: Command) => {
      await client(command).call('DELETE', `/v1/sys/audit-devices/${encodeURIComponent(path)}`);
      print(command, { disabled: path }, () => `disabled the audit device at ${path}`);
    });
}
