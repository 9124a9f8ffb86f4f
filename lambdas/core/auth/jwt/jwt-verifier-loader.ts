/**
 * The JWT checks (`jwt-verifier.ts`, and jose under them) for the JWT and Kubernetes methods, loaded at their first
 * login, not when the broker starts: most brokers never see a JWT login, and a GET of a secret should not pay for
 * one (docs/BENCHMARKS.md, issue 15). A failed load is not kept, so the next login tries again.
 */
export type JwtVerifier = typeof import('./jwt-verifier.ts');

let verifier: Promise<JwtVerifier> | undefined;

export function loadJwtVerifier(): Promise<JwtVerifier> {
  verifier ??= import('./jwt-verifier.ts').catch((err: unknown) => {
    verifier = undefined;
    throw err;
  });
  return verifier;
}
