import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { RateLimitQuota } from '../../../api/quotas.ts';
import { client, listTable, print } from '../io.ts';

interface PutFlags {
  rate: string;
  interval?: string;
  path?: string;
  per?: string;
  burst?: string;
  blockInterval?: string;
}

const enc = encodeURIComponent;

function positiveNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!(value.trim() !== '' && Number.isFinite(parsed) && parsed > 0)) {
    throw new CliError(`${flag} must be a positive number`, ExitCode.usage);
  }
  return parsed;
}

function describeQuotas(quotas: readonly RateLimitQuota[]): string {
  return listTable(
    ['NAME', 'PATH', 'RATE', 'INTERVAL', 'BURST', 'PER', 'BLOCK'],
    quotas.map((q) => [
      q.name,
      q.path === '' ? '(all)' : q.path,
      String(q.rate),
      `${q.interval}s`,
      String(q.burst),
      q.per,
      q.block_interval === 0 ? '-' : `${q.block_interval}s`,
    ]),
  );
}

export function registerQuotaCommands(program: Command): void {
  const quota = program
    .command('quota')
    .description('rate-limit quotas: requests per interval under a policy path, per source, principal or globally');

  quota
    .command('put <name>')
    .description('create or replace a rate-limit quota (the most specific path wins: path beats mount beats global)')
    .requiredOption('--rate <n>', 'requests allowed per interval')
    .option('--interval <duration>', 'the interval, e.g. 1s, 1m (default 1s)')
    .option('--path <prefix>', "policy-path prefix it limits, e.g. secrets/prod/ or auth/approle/ (default '': all)")
    .option('--per <dimension>', 'source (default), principal or global: whose requests share one bucket')
    .option('--burst <n>', 'requests a full bucket allows at once (default: the rate)')
    .option('--block-interval <duration>', 'once exceeded, refuse everything for this long')
    .action(async (name: string, flags: PutFlags, command: Command) => {
      const body = {
        rate: positiveNumber('--rate', flags.rate),
        interval: flags.interval,
        path: flags.path,
        per: flags.per,
        burst: flags.burst === undefined ? undefined : positiveNumber('--burst', flags.burst),
        block_interval: flags.blockInterval,
      };
      const saved = await client(command).call<RateLimitQuota>('POST', `/v1/sys/quotas/rate-limit/${enc(name)}`, {
        body,
      });
      print(command, saved, () => describeQuotas([saved]));
    });

  quota
    .command('get <name>')
    .description('show a rate-limit quota')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const saved = await client(command).call<RateLimitQuota>('GET', `/v1/sys/quotas/rate-limit/${enc(name)}`);
      print(command, saved, () => describeQuotas([saved]));
    });

  quota
    .command('list')
    .description('list the rate-limit quotas')
    .action(async (_flags: unknown, command: Command) => {
      const listed = await client(command).call<{ quotas: RateLimitQuota[] }>('GET', '/v1/sys/quotas/rate-limit');
      print(command, listed, () => describeQuotas(listed.quotas));
    });

  quota
    .command('delete <name>')
    .description('delete a rate-limit quota')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const result = await client(command).call('DELETE', `/v1/sys/quotas/rate-limit/${enc(name)}`);
      print(command, result, () => `deleted quota ${name}`);
    });
}
