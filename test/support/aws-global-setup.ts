import type { TestProject } from 'vitest/node';
// @ts-expect-error -- plain ESM script shared with users (localstack/start-emulator.mjs); no type declarations.
import { startEmulator } from '../../localstack/start-emulator.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the AWS emulator, or '' when none could be started. */
    awsEndpoint: string;
    /** Why no emulator is available, when awsEndpoint is ''. */
    awsEmulatorError: string;
  }
}

/**
 * Starts one AWS emulator (moto, unless LocalStack or AWS_ENDPOINT_URL is there already) for the whole run. A failure
 * does not fail unrelated suites: the AWS suites fail with the message that says how to start one.
 */
export default async function setup(project: TestProject) {
  try {
    const emulator = (await startEmulator()) as { endpoint: string; stop: () => Promise<void> };
    project.provide('awsEndpoint', emulator.endpoint);
    project.provide('awsEmulatorError', '');
    return () => emulator.stop();
  } catch (err) {
    project.provide('awsEndpoint', '');
    project.provide('awsEmulatorError', err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
