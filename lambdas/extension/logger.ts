import type { Logger } from '../sdk/secrets-server.ts';
import type { LogLevel } from './config.ts';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, none: 4 };

/**
 * The extension's log lines go to stderr, which Lambda forwards to CloudWatch. They never carry secret values.
 * A logger writing `[Coffer Extension] LEVEL message` lines at or above `level`, the format of AWS's extension.
 * @example const log = createLogger('info'); log.warn('SECRETS_MANAGER_TTL exceeds the maximum');
 */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const at =
    (name: Exclude<LogLevel, 'none'>) =>
    (message: string): void => {
      if (RANK[name] >= RANK[level]) write(`[Coffer Extension] ${name.toUpperCase()} ${message}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
