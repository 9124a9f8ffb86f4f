import { lazyImport } from '../../lazy-import.ts';

/**
 * The JWT checks (`jwt-verifier.ts`, and jose under them) for the JWT and Kubernetes methods, loaded at their first
 * login, not when the broker starts: most brokers never see a JWT login, and a GET of a secret should not pay for
 * one (docs/BENCHMARKS.md, issue 15). A failed load is not kept, so the next login tries again.
 */
export type JwtVerifier = typeof import('./jwt-verifier.ts');

export const loadJwtVerifier: () => Promise<JwtVerifier> = lazyImport(() => import('./jwt-verifier.ts'));
