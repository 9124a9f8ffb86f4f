import { type AllowedHostsOptions, boundHostName, isLoopbackName } from '../../core/auth/allowed-hosts.ts';
import type { LocalConfig } from './config.ts';

/** The SigV4 region the README's examples and the AWS tools' own default sign with. */
const AWS_DEFAULT_REGION = 'us-east-1';

/**
 * The `Host` names the local node answers to (and SigV4 signatures may name): `COFFER_ALLOWED_HOSTS`, the host of
 * `COFFER_PUBLIC_URL`, `COFFER_HOST` when it is a name or address rather than a wildcard, and loopback names when the
 * node listens on loopback or on every address. A node bound to one LAN address only is never reached as `localhost`,
 * so a request naming it was meant for another server.
 */
export function servedHosts(config: Pick<LocalConfig, 'host' | 'publicUrl' | 'allowedHosts'>): AllowedHostsOptions {
  const listen = boundHostName(config.host);
  const names = [...config.allowedHosts, new URL(config.publicUrl).host];
  if (listen !== undefined) names.push(listen);
  return { names, loopback: listen === undefined || isLoopbackName(listen) };
}

/**
 * The regions SigV4 credential scopes may name: `COFFER_SIGV4_REGIONS`, or else the node's own region (`COFFER_REGION`),
 * `us-east-1`, which the AWS tools sign with when no region is configured, and the regions it serves secrets in
 * (`COFFER_REGIONS`), whose clients sign for them.
 */
export function servedRegions(config: Pick<LocalConfig, 'region' | 'sigv4Regions' | 'regions'>): string[] {
  return config.sigv4Regions ?? [...new Set([config.region, AWS_DEFAULT_REGION, ...(config.regions ?? [])])];
}
