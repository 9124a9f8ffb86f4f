import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';

/** The expiration flags of `secret create` and `secret update`, as commander parses them. */
export interface ExpirationFlags {
  expiresAt?: string;
  ttl?: string;
  grace?: string;
  maxReads?: string;
  expireWhenRotated?: string;
  expireWhenLeaseRevoked?: string;
  notifyBefore?: string;
}

/** Adds the flags of an expiration policy (docs/expiration.md) to `command`. */
export function withExpirationOptions(command: Command): Command {
  return command
    .option('--expires-at <time>', 'expire at this ISO-8601 time (e.g. 2030-01-31T18:00:00Z)')
    .option('--ttl <duration>', 'expire this long from now (e.g. 30d, 12h)')
    .option('--max-reads <n>', 'expire after this many reads of the value')
    .option('--expire-when-rotated <secret>', 'expire when this secret rotates (needs read on it)')
    .option('--expire-when-lease-revoked <lease-id>', 'expire when this lease is revoked or expires')
    .option('--grace <duration>', 'after expiry, reads still succeed this long with a warning (e.g. 1h)')
    .option('--notify-before <durations>', 'lead times of SecretExpiring events (default 30d,7d,1d)');
}

/** The `expiration` member of the request body, or undefined when no expiration flag was given. */
export function expirationBody(flags: ExpirationFlags): Record<string, unknown> | undefined {
  const given = [
    flags.expiresAt,
    flags.ttl,
    flags.grace,
    flags.maxReads,
    flags.expireWhenRotated,
    flags.expireWhenLeaseRevoked,
    flags.notifyBefore,
  ].some((flag) => flag !== undefined);
  if (!given) return undefined;
  if (flags.expiresAt !== undefined && flags.ttl !== undefined) {
    throw new CliError('use --expires-at or --ttl, not both', ExitCode.usage);
  }
  let maxReads: number | undefined;
  if (flags.maxReads !== undefined) {
    maxReads = Number(flags.maxReads);
    if (!/^\d+$/.test(flags.maxReads) || maxReads < 1) {
      throw new CliError('--max-reads must be a whole number of at least 1', ExitCode.usage);
    }
  }
  return {
    expiresAt: flags.expiresAt,
    ttl: flags.ttl,
    grace: flags.grace,
    maxReads,
    expireWhenRotated: flags.expireWhenRotated,
    expireWhenLeaseRevoked: flags.expireWhenLeaseRevoked,
    notifyBefore: flags.notifyBefore
      ?.split(',')
      .map((lead) => lead.trim())
      .filter((lead) => lead !== ''),
  };
}
