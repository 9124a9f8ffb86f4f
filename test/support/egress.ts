import { DnsEgressGuard } from '../../lambdas/adapters/egress/dns-egress-guard.ts';
import { EgressPolicy } from '../../lambdas/core/egress/egress-policy.ts';

/** The allow-list the tests' real servers need: the PostgreSQL, key service and listeners they start on loopback. */
export const LOOPBACK_EGRESS = '127.0.0.0/8,[::1]';

/** An egress guard that lets engines reach loopback only, as a test node configured with {@link LOOPBACK_EGRESS}. */
export function loopbackEgress(): DnsEgressGuard {
  return new DnsEgressGuard(EgressPolicy.parse(LOOPBACK_EGRESS));
}
