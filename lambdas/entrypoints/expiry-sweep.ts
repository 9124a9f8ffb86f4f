import type { Clock } from '../core/ports/clock.ts';
import type { Store } from '../core/ports/store.ts';
import type { ExpiryEventPublisher } from '../core/secrets/expiration/expiry-events.ts';
import { ExpirySweep } from '../core/secrets/expiration/expiry-sweep.ts';
import { secretExpirySources } from '../core/secrets/expiration/secret-expiry-source.ts';
import type { RegionalSecrets } from '../core/secrets/regional-secrets.ts';
import { certificateExpirySource } from '../engines/pki/certificate-expiry.ts';

/**
 * The expiry sweep of both runtimes: every region's secrets and the issued certificates, published through the events
 * port. The local node runs it on a timer, AWS from a scheduled function; the broker never builds it.
 */
export function composeExpirySweep(options: {
  readonly store: Store;
  readonly clock: Clock;
  readonly secrets: Pick<RegionalSecrets, 'regions' | 'partitionsOf'>;
  readonly events: ExpiryEventPublisher;
  readonly onError?: (err: unknown) => void;
}): ExpirySweep {
  const { store, clock, secrets } = options;
  return new ExpirySweep({
    store,
    clock,
    events: options.events,
    sources: async () => [...(await secretExpirySources(secrets, store, clock)), certificateExpirySource(store)],
    ...(options.onError !== undefined && { onError: options.onError }),
  });
}
