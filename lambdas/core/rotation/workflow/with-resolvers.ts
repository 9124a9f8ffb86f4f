/**
 * `Promise.withResolvers` (ES2024) for Node 20, which lacks it: `aws-local-stepfunctions` calls it while running a
 * state machine. Import this module (for its side effect) before that library. On Node ≥ 22 it changes nothing.
 *
 * @example
 * import './with-resolvers.ts';
 * const { StateMachine } = await import('aws-local-stepfunctions');
 */

/** What `Promise.withResolvers()` returns. */
export interface PromiseResolvers<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T | PromiseLike<T>) => void;
  readonly reject: (reason?: unknown) => void;
}

/** The same as `Promise.withResolvers`, usable whether or not the runtime has it. */
export function withResolvers<T>(): PromiseResolvers<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const PromiseConstructor = Promise as unknown as { withResolvers?: <T>() => PromiseResolvers<T> };
if (typeof PromiseConstructor.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    value: withResolvers,
    writable: true,
    configurable: true,
  });
}
