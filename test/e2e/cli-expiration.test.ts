import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultClockFile } from '../../lambdas/entrypoints/local/fault-clock.ts';
import { readJsonLines } from '../support/json-lines.js';
import { runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

// The node's clock is moved through the fault-injection clock file (an injected clock, not the machine's), and the
// expiry sweep runs every 50 ms so an event falls due without waiting out a real day.
const current = useServer({ COFFER_FAULT_INJECTION: '1', COFFER_EXPIRY_SWEEP_INTERVAL_MS: '50' });

const cli = (args: string[], input?: string) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken }, input });

const DAY = 86_400_000;
const HOUR = 3_600_000;

function events(): { 'detail-type': string; detail: Record<string, unknown> }[] {
  try {
    return readJsonLines<{ 'detail-type': string; detail: Record<string, unknown> }>(
      path.join(current().dataDir, 'events.jsonl'),
    );
  } catch {
    return [];
  }
}

const about = (name: string) => events().filter((e) => e.detail.secretName === name);

/** Moves the node's clock to `offsetMs` past the wall clock, and waits until the node reads `name` in `state`. */
async function moveClock(offsetMs: number, name: string, state: string): Promise<void> {
  writeFileSync(faultClockFile(current().dataDir), String(offsetMs));
  await waitFor(
    `the node to read ${name} as ${state}`,
    async () => {
      const described = JSON.parse((await cli(['secret', 'describe', name, '-o', 'json'])).stdout);
      return described.expiration?.state === state;
    },
    { intervalMs: 200 },
  );
}

const kinds = (name: string) =>
  about(name)
    .map((e) => `${e['detail-type']}${e.detail.leadTimeSeconds === undefined ? '' : `:${e.detail.leadTimeSeconds}`}`)
    .sort();

describe('coffer secret: expiration policies against the real server', () => {
  it('announces each lead time, warns during grace, refuses after, and shows the policy', async () => {
    const name = 'exp/api-key';
    const created = await cli(
      ['secret', 'create', name, '--ttl', '2d', '--grace', '1h', '--notify-before', '1d,1h', '-o', 'json'],
      'the-value',
    );
    expect(created.code, created.stderr).toBe(0);
    const described = JSON.parse((await cli(['secret', 'describe', name, '-o', 'json'])).stdout);
    expect(described.expiration).toMatchObject({ grace: 3600, notifyBefore: [86_400, 3600], state: 'active' });

    await moveClock(DAY + 60_000, name, 'expiring');
    await waitFor('the 1-day SecretExpiring event', () => about(name).length >= 1);
    expect(kinds(name)).toEqual(['SecretExpiring:86400']);

    await moveClock(2 * DAY + 60_000, name, 'grace');
    const read = await cli(['secret', 'get', name]);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toBe('the-value\n');
    expect(read.stderr).toMatch(/^warning: secret exp\/api-key expired at .*; reads are refused from .*\n$/);
    // The sweep's events and the read's, in whichever order they came; each once.
    await waitFor('the expiry and grace-read events', () => about(name).length >= 4);
    expect(kinds(name)).toEqual([
      'SecretExpired',
      'SecretExpiring:3600',
      'SecretExpiring:86400',
      'SecretReadDuringGrace',
    ]);

    await moveClock(2 * DAY + HOUR + 60_000, name, 'expired');
    const refused = await cli(['secret', 'get', name]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('secret exp/api-key has expired: its expiration time passed at');
    expect(refused.stdout).toBe('');
    expect(readFileSync(path.join(current().dataDir, 'events.jsonl'), 'utf8')).not.toContain('the-value');
  });

  it('refuses the read after --max-reads, and update --clear-expiration lifts it', async () => {
    const name = 'exp/once';
    expect((await cli(['secret', 'create', name, '--max-reads', '1'], 'v')).code).toBe(0);
    expect((await cli(['secret', 'get', name])).stdout).toBe('v\n');
    const spent = await cli(['secret', 'get', name]);
    expect(spent.code).not.toBe(0);
    expect(spent.stderr).toContain('its read limit is spent');
    expect((await cli(['secret', 'update', name, '--clear-expiration'])).code).toBe(0);
    expect((await cli(['secret', 'get', name])).stdout).toBe('v\n');
  });

  it('refuses --expires-at with --ttl before asking the server', async () => {
    const both = await cli(
      ['secret', 'create', 'exp/both', '--ttl', '1d', '--expires-at', '2030-01-01T00:00:00Z'],
      'v',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('use --expires-at or --ttl, not both');
  });
});
