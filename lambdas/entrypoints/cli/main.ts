import { Command, CommanderError } from 'commander';
import packageJson from '../../../package.json' with { type: 'json' };
import { CliError, ExitCode } from '../../agent/exit-codes.ts';
import { isCofferError } from '../../core/errors.ts';
import { WrappedAnswer } from './api-client.ts';
import { registerAccessKeyCommands } from './commands/access-key.ts';
import { registerAgentCommand } from './commands/agent.ts';
import { registerAuditCommands } from './commands/audit.ts';
import { registerAuthCommands } from './commands/auth.ts';
import { registerAwsCommands } from './commands/aws.ts';
import { registerCompletionCommand } from './commands/completion.ts';
import { registerComplianceCommands } from './commands/compliance.ts';
import { registerCredsCommands } from './commands/creds.ts';
import { registerDbCommands } from './commands/db.ts';
import { registerDevCommands } from './commands/dev.ts';
import { registerIamCommands } from './commands/iam.ts';
import { registerImportCommands } from './commands/import.ts';
import { registerInjectorCommand } from './commands/injector.ts';
import { registerKubernetesCommands } from './commands/kubernetes.ts';
import { registerLeaseCommands } from './commands/lease.ts';
import { registerOAuthCommands } from './commands/oauth.ts';
import { registerPkiCommands } from './commands/pki.ts';
import { registerPolicyCommands } from './commands/policy.ts';
import { registerQuotaCommands } from './commands/quota.ts';
import { registerRotationCommands } from './commands/rotation.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerScanCommand } from './commands/scan.ts';
import { registerSecretCommands } from './commands/secret.ts';
import { registerServerCommands } from './commands/server.ts';
import { registerSshCommands } from './commands/ssh.ts';
import { registerTokenCommands } from './commands/token.ts';
import { registerWrappingCommands } from './commands/wrapping.ts';

export function buildProgram(): Command {
  const program = new Command('coffer')
    .description('Coffer: secrets management for AWS and a local single node')
    .option('-o, --output <format>', 'json or table', 'table')
    .option('--address <url>', 'server address (default COFFER_ADDR or http://127.0.0.1:8270)')
    .option('--token <token>', 'prefer COFFER_TOKEN: flags show up in process listings')
    .option('--region <region>', "region to act in (default COFFER_REGION, else the node's home region)")
    .option('-q, --quiet', 'no progress on stderr for long operations (errors are still printed)')
    .option(
      '--wrap-ttl <duration>',
      'answer with a single-use wrapping token instead of the credential (COFFER_WRAP_TTL); `coffer unwrap` opens it',
    )
    // As `vault version` and `gh --version` do: the program's name, then the package's version.
    .version(`coffer ${packageJson.version}`, '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError();
  registerServerCommands(program);
  registerSecretCommands(program);
  registerPolicyCommands(program);
  registerTokenCommands(program);
  registerWrappingCommands(program);
  registerAuthCommands(program);
  registerKubernetesCommands(program);
  registerAuditCommands(program);
  registerAccessKeyCommands(program);
  registerPkiCommands(program);
  registerSshCommands(program);
  registerOAuthCommands(program);
  registerCredsCommands(program);
  registerDbCommands(program);
  registerAwsCommands(program);
  registerLeaseCommands(program);
  registerRotationCommands(program);
  registerComplianceCommands(program);
  registerIamCommands(program);
  registerQuotaCommands(program);
  registerRunCommand(program);
  registerScanCommand(program);
  registerAgentCommand(program);
  registerCompletionCommand(program);
  registerDevCommands(program);
  registerImportCommands(program);
  registerInjectorCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    // The wrapping token has been printed: that is the answer.
    if (err instanceof WrappedAnswer) return ExitCode.ok;
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    if (isCofferError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.code === 'validation'
        ? ExitCode.usage
        : err.code === 'sealed'
          ? ExitCode.unavailable
          : ExitCode.failure;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.failure;
  }
}
