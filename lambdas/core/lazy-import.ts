/**
 * A module loaded at its first use rather than at start (docs/BENCHMARKS.md, issue 15: what a broker rarely needs
 * should not cost every cold start). `load` runs once and every caller shares its answer; a failed load is not kept,
 * so the next call tries again. `load` must call `import()` with a literal specifier, so that bundlers see it and put
 * the module in a chunk of its own.
 *
 * @example
 * const loadLdapts = lazyImport(() => import('ldapts'));
 * const { Client } = await loadLdapts();
 */
export function lazyImport<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
}
