import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import type { RotatorRegistry } from '../../core/rotation/rotation-types.ts';
import type { PkiService } from '../pki/pki-service.ts';
import type { PostgresSessions } from '../shared/postgres/postgres-sessions.ts';
import { cofferApiKeyRotator, httpApiKeyRotator } from './api-key/index.ts';
import { certificateRotator } from './certificate/index.ts';
import { postgresAlternatingRotator, postgresSingleRotator } from './postgres/index.ts';

export interface RotatorDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly pki: PkiService;
  readonly fetch?: typeof fetch;
  /** The node's PostgreSQL sessions (pools and timeouts), owned by the composition root. */
  readonly postgres: PostgresSessions;
}

/** Every rotation engine, one per type; the mapped registry type makes a forgotten one a compile error. */
export function createRotators(deps: RotatorDeps): RotatorRegistry {
  return {
    'postgres-single': postgresSingleRotator(deps.postgres),
    'postgres-alternating': postgresAlternatingRotator(deps.postgres),
    'api-key-http': httpApiKeyRotator(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    'api-key-coffer': cofferApiKeyRotator({ store: deps.store, clock: deps.clock }),
    certificate: certificateRotator({ pki: deps.pki, clock: deps.clock }),
  } satisfies RotatorRegistry;
}
