import { isIP } from 'node:net';
import { PermissionDeniedError, ValidationError } from '../../core/errors.ts';
import type { PkiRole } from './pki-role.ts';

/** A DNS name as a certificate may carry it: LDH labels, optionally a leading `*` label (wildcard). */
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lower-cases and checks the syntax of a requested DNS name. */
export function normaliseDnsName(name: string): string {
  const lower = name.trim().toLowerCase().replace(/\.$/, '');
  const labels = lower.split('.');
  const ok =
    lower.length > 0 &&
    lower.length <= 253 &&
    labels.every((label, i) => (i === 0 && label === '*' && labels.length > 1) || LABEL.test(label));
  if (!ok) throw new ValidationError(`"${name.slice(0, 80)}" is not a valid DNS name`);
  return lower;
}

/** `*` matches any run of characters (dots included), as Vault's `allow_glob_domains` does. */
function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
  return regex.test(name);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Which rule of the role lets `name` through, or undefined. Checked per allowed domain, in Vault's order:
 * bare domain, subdomain (a wildcard `*.d` counts as a subdomain name of `d`), glob.
 */
export function allowingRule(role: PkiRole, name: string): string | undefined {
  for (const domain of role.allowed_domains) {
    if (role.allow_bare_domains && name === domain) return `allow_bare_domains (${domain})`;
    // Covers the wildcard `*.domain` too: it names subdomains only, never the bare domain.
    if (role.allow_subdomains && !domain.includes('*') && name.endsWith(`.${domain}`)) {
      return `allow_subdomains (${domain})`;
    }
    if (role.allow_glob_domains && domain.includes('*') && globMatch(domain, name)) {
      return `allow_glob_domains (${domain})`;
    }
  }
  return undefined;
}

/** Throws `PermissionDeniedError` naming the name and the rules it failed. */
export function checkDnsName(role: PkiRole, name: string): void {
  if (allowingRule(role, name) !== undefined) return;
  const enabled = [
    role.allow_bare_domains ? 'allow_bare_domains' : undefined,
    role.allow_subdomains ? 'allow_subdomains' : undefined,
    role.allow_glob_domains ? 'allow_glob_domains' : undefined,
  ].filter((r) => r !== undefined);
  throw new PermissionDeniedError(
    `name "${name}" is not allowed by the role: allowed_domains [${role.allowed_domains.join(', ')}] with ` +
      `${enabled.length === 0 ? 'no allow_* rule enabled' : enabled.join(', ')}`,
  );
}

/** Checks and normalises an IP SAN. */
export function checkIpSan(role: PkiRole, ip: string): string {
  const trimmed = ip.trim();
  if (isIP(trimmed) === 0) throw new ValidationError(`"${ip.slice(0, 60)}" is not an IP address`);
  if (!role.allow_ip_sans)
    throw new PermissionDeniedError(`IP SAN ${trimmed} refused: the role has allow_ip_sans false`);
  return trimmed;
}
