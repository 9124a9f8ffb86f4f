/**
 * A promise-chain mutex: sections passed to `run` execute one at a time, in call order; a section that fails does
 * not stop the next. For work on one resource that must not interleave (a file, a stream, quota counters).
 * @example await lock.run(async () => writeAndSync(batch));
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
