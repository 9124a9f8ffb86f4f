/** What a probe answers while the awaited condition does not hold yet. */
type NotYet = undefined | null | false;

export interface WaitForOptions {
  /**
   * How long the condition may take. Generous: the machines that run the tests are small and shared.
   * @default 30_000
   */
  readonly timeoutMs?: number;
  /**
   * Pause between probes. Short, because most probes read a buffer or a file; probes that start a process or a
   * query pass a longer one, so polling does not compete with the work it waits for.
   * @default 25
   */
  readonly intervalMs?: number;
  /** Context for the failure message (a child's output, say), read only when the wait fails. */
  readonly detail?: () => string;
}

/**
 * Polls `probe` until it answers something other than `undefined`, `null` or `false`, and resolves to that answer.
 * Rejects, naming `what`, once `timeoutMs` has passed; an error thrown by the probe rejects at once (an assertion
 * inside it fails the test as usual).
 *
 * @example
 * await waitFor('the server to print its address', () => /listening on (\S+)/.exec(output())?.[1]);
 * const rotation = await waitFor('the rotation to end', async () => {
 *   const res = await api(address, token, 'GET', `/v1/rotation/rotations/${id}`);
 *   return res.body.status === 'succeeded' || res.body.status === 'failed' ? res.body : undefined;
 * }, { intervalMs: 100 });
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Exclude<T, NotYet>> {
  const { timeoutMs = 30_000, intervalMs = 25, detail } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== null && answer !== false) return answer as Exclude<T, NotYet>;
    if (Date.now() >= deadline) {
      const context = detail === undefined ? '' : `\n${detail()}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
