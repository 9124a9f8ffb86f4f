/** The part of a Powertools `Logger` a scheduled function uses. */
export interface PassLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** The SDK client options of a scheduled function: its region, and the emulator's endpoint where one is set. */
export function sdkClientOptions(config: { readonly region: string; readonly endpoint?: string | undefined }) {
  return { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
}

/**
 * A scheduled function's handler: one pass per invocation, its outcome logged. A pass that cannot run rejects, so it
 * shows in the function's errors metric and alarm; the log names the error, never a value (the passes' errors and the
 * SDK's never quote credentials).
 */
export function scheduledPass<T extends object>(
  logger: PassLogger,
  name: string,
  pass: () => Promise<T>,
): (event?: unknown) => Promise<T> {
  return async () => {
    try {
      const outcome = await pass();
      logger.info(`${name} finished`, { ...(outcome as object) });
      return outcome;
    } catch (err) {
      const error = err instanceof Error ? { name: err.name, message: err.message } : { name: 'unknown' };
      logger.error(`${name} failed`, { error });
      throw err;
    }
  };
}
