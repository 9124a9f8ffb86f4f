import type { TestProject } from 'vitest/node';
// @ts-expect-error -- plain ESM script shared with users (localstack/start-emulator.mjs); no type declarations.
import { startEmulator } from '../../localstack/start-emulator.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the AWS emulator, or '' when none could be started. Absent in projects without this set-up. */
    awsEndpoint: string;
    /** Why no emulator is available, when awsEndpoint is ''. */
    awsEmulatorError: string;
  }
}

interface Emulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

interface Shared {
  readonly emulator: Promise<Emulator>;
  users: number;
}

// Every project that needs AWS lists this set-up; vitest runs it once per project that has files in the run, each
// in its own module instance. The process-wide slot lets those projects share one emulator.
const SLOT = Symbol.for('coffer.test.awsEmulator');
const slots = globalThis as unknown as Record<typeof SLOT, Shared | undefined>;

/**
 * Provides an AWS emulator (moto on a free loopback port, unless LocalStack or AWS_ENDPOINT_URL provides one) to the
 * projects whose suites need it (vitest.config.ts); the last of them to finish stops it, and only when this run
 * started it. A failure does not fail the run's other suites: the AWS suites fail with the message that says how to
 * start one.
 */
export default async function setup(project: TestProject) {
  slots[SLOT] ??= { emulator: startEmulator() as Promise<Emulator>, users: 0 };
  const shared = slots[SLOT];
  shared.users++;
  const release = async () => {
    if (--shared.users > 0) return;
    slots[SLOT] = undefined;
    await (await shared.emulator).stop();
  };
  try {
    project.provide('awsEndpoint', (await shared.emulator).endpoint);
    project.provide('awsEmulatorError', '');
    return release;
  } catch (err) {
    project.provide('awsEndpoint', '');
    project.provide('awsEmulatorError', err instanceof Error ? err.message : String(err));
    slots[SLOT] = undefined;
    return undefined;
  }
}
