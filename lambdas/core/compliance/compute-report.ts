import { lazyImport } from '../lazy-import.ts';
import type { ComputeReport } from './compliance-service.ts';

const loadReport = lazyImport(() => import('./compliance-report.ts'));

/**
 * The report's computation, loaded at the first report rather than at start (docs/BENCHMARKS.md), for the runtimes
 * that compute reports: the local node. Kept apart from `compliance-service.ts`, which every runtime composes, so a
 * bundle that does not import this module does not carry the figures.
 */
export const computeReportLazily: ComputeReport = async (sources, window) => {
  const { buildReport } = await loadReport();
  return buildReport(sources, window);
};
