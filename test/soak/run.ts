import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SoakCampaign, SoakResult, SoakScale } from './campaign.ts';

/**
 * `npm run soak`: the endurance campaigns of `test/soak/campaigns/`, one after another, each inside its share of the
 * scale's time budget, so the run always stops by itself. Exits 1 when a campaign reports a failure (or throws, or
 * overruns its share by more than the grace).
 */

/** The whole run's budget; `default` must stay within the 10 minutes the issue allows. */
const BUDGET_MS: Record<SoakScale, number> = { ci: 3 * 60_000, default: 9.5 * 60_000, long: 90 * 60_000 };
/** How long past its deadline a campaign may take to wind down (stop servers, final checks) before it counts as hung. */
const GRACE_MS = 60_000;

const CAMPAIGN_DIR = path.join(import.meta.dirname, 'campaigns');

/**
 * A campaign's share of the budget relative to the others (1 unless listed): kill-cycles restarts the server, about
 * a second of CPU each time, so its counts grow with the time it gets.
 */
const WEIGHT: Readonly<Record<string, number>> = { 'kill-cycles': 3 };
const weightOf = (campaign: SoakCampaign) => WEIGHT[campaign.name] ?? 1;

function parseScale(value: string | undefined): SoakScale {
  if (value === undefined) return 'default';
  if (value === 'ci' || value === 'default' || value === 'long') return value;
  throw new Error(`--scale must be ci, default or long (got ${JSON.stringify(value)})`);
}

export async function loadCampaigns(only?: string): Promise<SoakCampaign[]> {
  const files = readdirSync(CAMPAIGN_DIR)
    .filter((file) => file.endsWith('.ts'))
    .sort();
  const campaigns: SoakCampaign[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(CAMPAIGN_DIR, file)).href)) as { campaign?: SoakCampaign };
    if (mod.campaign === undefined) throw new Error(`${file} exports no campaign`);
    if (only === undefined || mod.campaign.name === only) campaigns.push(mod.campaign);
  }
  if (only !== undefined && campaigns.length === 0) {
    throw new Error(`no campaign named ${only} in ${CAMPAIGN_DIR} (${files.join(', ')})`);
  }
  return campaigns;
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 19);
}

/** Runs one campaign inside its deadline (plus the grace); a throw or an overrun becomes a failure, not a crash. */
async function runOne(campaign: SoakCampaign, scale: SoakScale, deadline: number): Promise<SoakResult> {
  const log = (line: string) => process.stdout.write(`${timestamp()} [${campaign.name}] ${line}\n`);
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<SoakResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ counts: {}, failures: [`still running ${GRACE_MS / 1000} s after its deadline`] }),
      Math.max(0, deadline - Date.now()) + GRACE_MS,
    );
    timer.unref();
  });
  try {
    return await Promise.race([
      campaign.run({ scale, log, deadline }).catch((error: unknown) => ({
        counts: {},
        failures: [`threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`],
      })),
      overrun,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { scale: { type: 'string' }, only: { type: 'string' } },
    strict: true,
  });
  const scale = parseScale(values.scale);
  const campaigns = await loadCampaigns(values.only);
  const started = Date.now();
  const end = started + BUDGET_MS[scale];
  process.stdout.write(
    `soak: scale ${scale}, ${campaigns.length} campaign(s), budget ${BUDGET_MS[scale] / 1000} s, ` +
      `node ${process.version}, ${process.platform}/${process.arch}\n`,
  );
  const summary: { name: string; seconds: number; result: SoakResult }[] = [];
  for (const [index, campaign] of campaigns.entries()) {
    // Its weighted share of what is left: a campaign that finishes early leaves its time to the ones after it.
    const weightLeft = campaigns.slice(index).reduce((sum, each) => sum + weightOf(each), 0);
    const deadline = Date.now() + (Math.max(0, end - Date.now()) * weightOf(campaign)) / weightLeft;
    const t0 = Date.now();
    process.stdout.write(`\n== ${campaign.name}: ${campaign.title} (until ${new Date(deadline).toISOString()})\n`);
    const result = await runOne(campaign, scale, deadline);
    const seconds = (Date.now() - t0) / 1000;
    summary.push({ name: campaign.name, seconds, result });
    process.stdout.write(`== ${campaign.name}: ${seconds.toFixed(1)} s, ${result.failures.length} failure(s)\n`);
  }
  process.stdout.write(`\nsoak summary (scale ${scale}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  for (const { name, seconds, result } of summary) {
    const counts = Object.entries(result.counts)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
    process.stdout.write(
      `  ${result.failures.length === 0 ? 'ok  ' : 'FAIL'} ${name} (${seconds.toFixed(1)} s) ${counts}\n`,
    );
    for (const failure of result.failures.slice(0, 20)) process.stdout.write(`       - ${failure}\n`);
    if (result.failures.length > 20) process.stdout.write(`       … and ${result.failures.length - 20} more\n`);
  }
  return summary.some(({ result }) => result.failures.length > 0) ? 1 : 0;
}

if (import.meta.filename === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
