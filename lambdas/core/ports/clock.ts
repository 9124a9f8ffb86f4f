/** Time as a port, so expiry, recovery windows and policy time windows are testable. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
