import { readFile } from 'node:fs/promises';
import { setTimeout as wait } from 'node:timers/promises';
import type { Command } from 'commander';
import type * as z from 'zod';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type * as api from '../../../api/index.ts';
import { namePath } from '../../../sdk/name-path.ts';
import type { ApiClient } from '../api-client.ts';
import { client, columns, integer, listTable, print } from '../io.ts';
import { type Progress, progressOf } from '../progress.ts';

/** The wire shapes of `lambdas/api`: what the server answers, not a copy of it. */
type Rules = NonNullable<Config['rules']>;
type Config = z.infer<typeof api.RotationConfigured>;
export type Rotation = z.infer<typeof api.Rotation>;
type Started = z.infer<typeof api.RotationStarted>;
type Status = z.infer<typeof api.RotationCompliance>;
type Revocation = z.infer<typeof api.RevocationQueue>['revocations'][number];

/** A duration for people: `850ms`, `1.2s`, `3m 20s`, `2h 5m`, `3d 4h`. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86_400), Math.floor((s % 86_400) / 3600), Math.floor((s % 3600) / 60)];
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

function schedule(rules: Rules | undefined): string {
  if (rules === undefined) return 'on demand';
  const base =
    rules.automaticallyAfterDays !== undefined
      ? `every ${rules.automaticallyAfterDays}d`
      : (rules.scheduleExpression ?? 'on demand');
  return rules.duration === undefined ? base : `${base} (window ${rules.duration})`;
}

function configTable(c: Config): string {
  const rows: string[][] = [
    ['name', c.name],
    ['type', c.type],
    ['enabled', String(c.enabled)],
    ['schedule', schedule(c.rules)],
    ['settings', JSON.stringify(c.settings)],
  ];
  if (c.group !== undefined) rows.push(['group', c.group]);
  if (c.lastRotatedAt !== undefined) rows.push(['last rotated', c.lastRotatedAt]);
  if (c.lastStatus !== undefined) rows.push(['last status', c.lastStatus]);
  if (c.lastError !== undefined) rows.push(['last error', c.lastError]);
  if (c.nextRotationAt !== undefined) rows.push(['next rotation', c.nextRotationAt]);
  if (c.rotationId !== undefined) rows.push(['rotation started', c.rotationId]);
  return columns(rows);
}

function rotationsTable(rotations: readonly Rotation[]): string {
  return listTable(
    ['ROTATION', 'STARTED', 'TRIGGER', 'STATUS', 'TOOK', 'SECRETS'],
    rotations.map((r) => [
      r.rotationId,
      r.startedAt,
      r.trigger,
      r.status === 'failed' && r.step !== undefined ? `failed at ${r.step}` : r.status,
      r.durationMs === undefined ? '' : humanDuration(r.durationMs),
      r.secrets.join(','),
    ]),
  );
}

function rotationTable(r: Rotation): string {
  const rows: string[][] = [
    ['rotation', r.rotationId],
    ['secrets', r.secrets.join(', ')],
    ['trigger', r.trigger],
    ['status', r.status],
    ['started', r.startedAt],
  ];
  if (r.step !== undefined) rows.push(['step', r.step]);
  if (r.finishedAt !== undefined) rows.push(['finished', r.finishedAt]);
  if (r.durationMs !== undefined) rows.push(['took', humanDuration(r.durationMs)]);
  if (r.error !== undefined) rows.push(['error', r.error]);
  if (r.message !== undefined) rows.push(['message', r.message]);
  return columns(rows);
}

function statusTable(s: Status): string {
  const lines = [
    columns([
      ['secrets with rotation', String(s.secretsWithRotation)],
      ['on schedule', `${percent(s.onScheduleShare)} (${s.onSchedule} of ${s.secretsWithRotation})`],
      ['overdue', String(s.overdue.length)],
      [
        'success rate',
        `${s.rotations.successRate === null ? 'n/a' : percent(s.rotations.successRate)} ` +
          `(${s.rotations.succeeded} succeeded, ${s.rotations.failed} failed, ${s.rotations.running} running)`,
      ],
      ['mean time to rotate', s.meanTimeToRotateMs === null ? 'n/a' : humanDuration(s.meanTimeToRotateMs)],
      ['p95 time to rotate', s.p95TimeToRotateMs === null ? 'n/a' : humanDuration(s.p95TimeToRotateMs)],
    ]),
  ];
  if (s.overdue.length > 0) {
    lines.push(
      '',
      columns([
        ['OVERDUE', 'DUE', 'LATE BY'],
        ...s.overdue.map((o) => [o.name, o.dueAt, humanDuration(o.overdueByMs)]),
      ]),
    );
  }
  return lines.join('\n');
}

function startedLine(out: Started, what: string): string {
  return out.started
    ? `${what} ${out.rotationId} started: ${out.secrets.join(', ')}`
    : `${what} ${out.rotationId} already running: ${out.secrets.join(', ')}`;
}

async function readSettings(flags: { settings?: string; settingsFile?: string }): Promise<unknown> {
  if (flags.settings !== undefined && flags.settingsFile !== undefined) {
    throw new CliError('give --settings or --settings-file, not both', ExitCode.usage);
  }
  let text = flags.settings;
  if (flags.settingsFile !== undefined) {
    text = await readFile(flags.settingsFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read ${flags.settingsFile}: ${err.code ?? 'error'}`, ExitCode.usage);
    });
  }
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch {
    throw new CliError('settings must be a JSON object', ExitCode.usage);
  }
}

const TERMINAL = new Set(['succeeded', 'failed']);

/** The four steps every rotation runs, in order: the bar counts the steps behind the current one. */
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/** What a poll says about a rotation still going: its step, or the step a roll-back started from. */
function showProgress(progress: Progress, rotation: Rotation): void {
  if (rotation.step === undefined) return;
  progress.step(rotation.status === 'rolling-back' ? `rolling back from ${rotation.step}` : rotation.step, {
    done: STEPS.indexOf(rotation.step),
    total: STEPS.length,
  });
}

export interface WaitOptions {
  /** Shown each step as the polls see it; the caller ends it. */
  readonly progress?: Progress;
  /** @default timers/promises setTimeout */
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Polls a rotation until it ends. Resolves with it when it succeeded.
 * @throws CliError (exit 1) with the failure message when it failed, or when `timeoutMs` passes first
 */
export async function waitForRotation(
  api: Pick<ApiClient, 'call'>,
  rotationId: string,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<Rotation> {
  const { progress, sleep = wait, now = Date.now } = options;
  const deadline = now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const rotation = await api.call<Rotation>('GET', `/v1/rotation/rotations/${encodeURIComponent(rotationId)}`);
    if (TERMINAL.has(rotation.status)) {
      if (rotation.status === 'failed') {
        const at = rotation.step === undefined ? '' : ` at ${rotation.step}`;
        throw new CliError(
          `rotation ${rotationId} failed${at}: ${rotation.message ?? rotation.error ?? 'unknown error'}`,
          ExitCode.failure,
        );
      }
      progress?.count(STEPS.length, STEPS.length);
      return rotation;
    }
    if (progress !== undefined) showProgress(progress, rotation);
    if (now() >= deadline) {
      throw new CliError(
        `rotation ${rotationId} still ${rotation.status} after ${timeoutMs / 1000}s`,
        ExitCode.failure,
      );
    }
    await sleep(delay);
    // Rotations take from milliseconds (API keys) to seconds (databases): start fast, back off to 2 s.
    delay = Math.min(delay * 2, 2000);
  }
}

/** `coffer secret rotate`: registered on the `secret` command by `commands/secret.ts`. */
export function registerSecretRotate(secret: Command): void {
  secret
    .command('rotate <name>')
    .description('rotate a secret now with its rotation config (and the rest of its group); --wait for the end')
    .option('--request-token <token>', 'idempotency token (32-64 chars); becomes the new version id')
    .option('--wait', 'wait until the rotation ends; exit 1 with the failure message if it failed')
    .option('--wait-timeout <seconds>', 'give up waiting after this long (default 600)', integer('--wait-timeout'))
    .action(
      async (
        name: string,
        flags: { requestToken?: string; wait?: boolean; waitTimeout?: number },
        command: Command,
      ) => {
        const api = client(command);
        const out = await api.call<Started>('POST', '/v1/rotation/rotate', {
          body: { secretId: name, clientRequestToken: flags.requestToken },
        });
        if (flags.wait !== true) {
          print(command, out, () => startedLine(out, 'rotation'));
          return;
        }
        // The id comes first, so an interrupted wait can be picked up with `coffer rotation get`.
        const progress = progressOf(command, `rotating ${out.secrets.join(', ')}`, {
          step: `rotation ${out.rotationId} ${out.started ? 'started' : 'already running'}`,
        });
        const done = await progress.run(
          () => waitForRotation(api, out.rotationId, (flags.waitTimeout ?? 600) * 1000, { progress }),
          (rotation) => rotation.status,
        );
        print(command, done, () => `rotated ${done.secrets.join(', ')}: version ${done.versionId}`);
      },
    );
}

export function registerRotationCommands(program: Command): void {
  const rotation = program
    .command('rotation')
    .description('rotation configs, on-demand and breach rotations, history and compliance');

  rotation
    .command('configure <name>')
    .description('turn rotation on for a secret, or change its type, settings or schedule')
    .requiredOption('--type <type>', 'postgres-single, postgres-alternating, api-key-http, api-key-coffer, certificate')
    .option('--settings <json>', 'type-specific settings, a JSON object (names other secrets, never values)')
    .option('--settings-file <path>', 'read the settings from a JSON file')
    .option('--after-days <n>', 'rotate every N days (1-1000)', integer('--after-days'))
    .option('--schedule <expr>', 'rate(N days|hours) or cron(0 h dom month dow *)')
    .option('--window <duration>', 'the window a due rotation may start in, 1h-24h')
    .option('--now', 'rotate at once as well')
    .action(
      async (
        name: string,
        flags: {
          type: string;
          settings?: string;
          settingsFile?: string;
          afterDays?: number;
          schedule?: string;
          window?: string;
          now?: boolean;
        },
        command: Command,
      ) => {
        if (flags.afterDays !== undefined && flags.schedule !== undefined) {
          throw new CliError('give --after-days or --schedule, not both', ExitCode.usage);
        }
        const hasRules = flags.afterDays !== undefined || flags.schedule !== undefined || flags.window !== undefined;
        const body = {
          type: flags.type,
          settings: await readSettings(flags),
          rules: hasRules
            ? { automaticallyAfterDays: flags.afterDays, scheduleExpression: flags.schedule, duration: flags.window }
            : undefined,
          rotateImmediately: flags.now === true,
        };
        const config = await client(command).call<Config>('PUT', `/v1/rotation/configs/${namePath(name)}`, {
          body,
        });
        print(command, config, () => configTable(config));
      },
    );

  rotation
    .command('show <name>')
    .description("a secret's rotation config, last and next rotation")
    .action(async (name: string, _flags: unknown, command: Command) => {
      const config = await client(command).call<Config>('GET', `/v1/rotation/configs/${namePath(name)}`);
      print(command, config, () => configTable(config));
    });

  rotation
    .command('disable <name>')
    .description('turn rotation off for a secret (a rotation already running finishes)')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const config = await client(command).call<Config>('DELETE', `/v1/rotation/configs/${namePath(name)}`);
      print(command, config, () => `rotation disabled for ${config.name}`);
    });

  rotation
    .command('list')
    .description('every rotation config you may read')
    .action(async (_flags: unknown, command: Command) => {
      const { configs } = await client(command).call<{ configs: Config[] }>('GET', '/v1/rotation/configs');
      print(command, { configs }, () =>
        listTable(
          ['NAME', 'TYPE', 'ENABLED', 'SCHEDULE', 'LAST ROTATED', 'LAST STATUS', 'NEXT'],
          configs.map((c) => [
            c.name,
            c.type,
            String(c.enabled),
            schedule(c.rules),
            c.lastRotatedAt ?? '',
            c.lastStatus ?? '',
            c.nextRotationAt ?? '',
          ]),
        ),
      );
    });

  rotation
    .command('status')
    .description('compliance: share rotated on schedule, overdue secrets, success rate, time to rotate')
    .action(async (_flags: unknown, command: Command) => {
      const status = await client(command).call<Status>('GET', '/v1/rotation/status');
      print(command, status, () => statusTable(status));
    });

  rotation
    .command('history [name]')
    .description('rotations, newest first; of one secret when named')
    .option('--limit <n>', 'at most this many (default 100)', integer('--limit'))
    .action(async (name: string | undefined, flags: { limit?: number }, command: Command) => {
      const out = await client(command).call<{ rotations: Rotation[] }>('GET', '/v1/rotation/rotations', {
        query: { secretId: name, limit: flags.limit },
      });
      print(command, out, () => rotationsTable(out.rotations));
    });

  rotation
    .command('get <rotationId>')
    .description('one rotation: status, failed step and message, timings')
    .action(async (rotationId: string, _flags: unknown, command: Command) => {
      const out = await client(command).call<Rotation>(
        'GET',
        `/v1/rotation/rotations/${encodeURIComponent(rotationId)}`,
      );
      print(command, out, () => rotationTable(out));
    });

  rotation
    .command('compromised <name>')
    .description('report a secret compromised: rotate now and revoke the old credential at once, no grace period')
    .option('--reason <text>', 'recorded in the audit log and the event')
    .action(async (name: string, flags: { reason?: string }, command: Command) => {
      const out = await client(command).call<Started>('POST', '/v1/rotation/compromised', {
        body: { secretId: name, reason: flags.reason },
      });
      print(command, out, () => startedLine(out, 'breach rotation'));
    });

  rotation
    .command('group <group> <members...>')
    .description('rotate these secrets together: either all finish or all roll back')
    .action(async (group: string, members: string[], _flags: unknown, command: Command) => {
      const out = await client(command).call<{ name: string; members: string[] }>(
        'PUT',
        `/v1/rotation/groups/${encodeURIComponent(group)}`,
        { body: { members } },
      );
      print(command, out, () => `group ${out.name}: ${out.members.join(', ')}`);
    });

  rotation
    .command('revocations')
    .description('retired credentials waiting for their overlap to end, or whose revocation is failing')
    .action(async (_flags: unknown, command: Command) => {
      const out = await client(command).call<{ revocations: Revocation[] }>('GET', '/v1/rotation/revocations');
      print(command, out, () =>
        listTable(
          ['SECRET', 'TYPE', 'DUE', 'ATTEMPTS', 'LAST ERROR'],
          out.revocations.map((r) => [r.secretName, r.type, r.dueAt, String(r.attempts), r.lastError ?? '']),
        ),
      );
    });
}
