import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { client, collect, nameList, print, readSecretInput } from '../io.ts';

/** What `explainDecision` reads of the answer to `POST /v1/sys/policy-test`. */
export type Decision = Pick<
  z.infer<typeof api.PolicyTestResult>,
  'allowed' | 'reason' | 'decidedBy' | 'hiddenPolicies' | 'readableOnly'
>;

export function explainDecision(decision: Decision): string {
  const by = decision.decidedBy;
  const rule = by === undefined ? '' : `\ndecided by: policy "${by.policy}" rule #${by.rule} (${by.path})`;
  const lines = [`${decision.allowed ? 'ALLOWED' : 'DENIED'}: ${decision.reason}${rule}`];
  if (decision.hiddenPolicies !== undefined && decision.hiddenPolicies.length > 0) {
    lines.push(`policies you may not read took part: ${decision.hiddenPolicies.join(', ')}`);
  }
  const alone = decision.readableOnly;
  if (alone !== undefined) {
    const aloneBy =
      alone.decidedBy === undefined ? '' : ` (policy "${alone.decidedBy.policy}" rule #${alone.decidedBy.rule})`;
    lines.push(`the policies you may read alone: ${alone.allowed ? 'ALLOWED' : 'DENIED'}: ${alone.reason}${aloneBy}`);
  }
  return lines.join('\n');
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('manage path policies');

  policy
    .command('put <name>')
    .description('create or replace a policy from a JSON document on stdin or --file')
    .option('--file <path>')
    .action(async (name: string, flags: { file?: string }, command: Command) => {
      const raw = await readSecretInput(flags.file);
      let document: unknown;
      try {
        document = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new CliError('the policy document is not valid JSON', ExitCode.usage);
      }
      const saved = await client(command).call('PUT', `/v1/sys/policies/${encodeURIComponent(name)}`, {
        body: document,
      });
      print(command, saved, () => `saved policy ${name}`);
    });

  policy.command('get <name>').action(async (name: string, _flags: unknown, command: Command) => {
    print(command, await client(command).call('GET', `/v1/sys/policies/${encodeURIComponent(name)}`));
  });

  policy.command('list').action(async (_flags: unknown, command: Command) => {
    const listed = await client(command).call<{ policies: string[] }>('GET', '/v1/sys/policies');
    print(command, listed, () => nameList(listed.policies));
  });

  policy.command('delete <name>').action(async (name: string, _flags: unknown, command: Command) => {
    const result = await client(command).call('DELETE', `/v1/sys/policies/${encodeURIComponent(name)}`);
    print(command, result, () => `deleted policy ${name}`);
  });

  policy
    .command('test')
    .description('explain whether a request would be allowed, naming the rule that decided')
    .requiredOption('--path <path>', 'policy path, e.g. secrets/prod/db')
    .requiredOption('--capability <cap>', 'create, read, update, delete, list, rotate or sudo')
    .option('--policy <name>', 'evaluate these policies instead of your own, repeatable', collect)
    .option('--source-ip <ip>')
    .option('--at <iso-time>', 'evaluate time conditions at this instant')
    .action(async (flags: Record<string, unknown>, command: Command) => {
      const body = {
        path: flags.path,
        capability: flags.capability,
        policies: flags.policy,
        sourceIp: flags.sourceIp,
        at: flags.at,
      };
      const decision = await client(command).call<Decision>('POST', '/v1/sys/policy-test', { body });
      print(command, decision, () => explainDecision(decision));
      // A denial is an answer, not a failure of the command; scripts can still test it via the exit code.
      if (!decision.allowed) process.exitCode = ExitCode.denied;
    });
}
