import { AndFilter, EqualityFilter, type Filter, FilterParser, NotFilter, OrFilter, PresenceFilter } from 'ldapts';
import {
  LdapBindRejectedError,
  type LdapDirectory,
  type LdapEntry,
  type LdapSession,
} from '../../lambdas/core/ports/ldap-directory.ts';

/** A person or group of a {@link fakeLdapDirectory}. */
export interface FakeLdapEntry {
  readonly dn: string;
  /** Binds as this DN succeed with it; absent: the entry cannot bind. */
  readonly password?: string;
  readonly attributes: Readonly<Record<string, readonly string[]>>;
}

/** What a fake directory was asked, for tests that check the method's requests. */
export interface FakeLdapLog {
  readonly binds: string[];
  readonly filters: string[];
}

/**
 * An in-memory LDAP directory for unit tests and the authorisation harness, where no slapd runs: binds check the
 * entry's password, searches evaluate the filter with ldapts's own parser (so a filter the method builds is parsed as
 * a real client would send it). The LDAP behaviour itself is tested against a real slapd (test/support/slapd.ts).
 */
export function fakeLdapDirectory(entries: readonly FakeLdapEntry[]): LdapDirectory & { readonly log: FakeLdapLog } {
  const log: FakeLdapLog = { binds: [], filters: [] };
  const byDn = new Map(entries.map((entry) => [entry.dn.toLowerCase(), entry]));
  return {
    log,
    async open(options) {
      const session: LdapSession = {
        url: options.urls[0]!,
        async bind(dn, password) {
          log.binds.push(dn);
          const entry = byDn.get(dn.toLowerCase());
          if (entry?.password === undefined || entry.password !== password) {
            throw new LdapBindRejectedError('InvalidCredentials (49)');
          }
        },
        async search(request): Promise<LdapEntry[]> {
          log.filters.push(request.filter);
          const filter = FilterParser.parseString(request.filter);
          const base = request.base.toLowerCase();
          return entries
            .filter((entry) => {
              const dn = entry.dn.toLowerCase();
              return request.scope === 'base' ? dn === base : dn.endsWith(`,${base}`) || dn === base;
            })
            .filter((entry) => matches(filter, entry.attributes))
            .slice(0, request.sizeLimit)
            .map((entry) => ({
              dn: entry.dn,
              attributes: Object.fromEntries(
                Object.entries(entry.attributes)
                  .filter(([name]) => request.attributes.some((a) => a.toLowerCase() === name.toLowerCase()))
                  .map(([name, values]) => [name.toLowerCase(), [...values]]),
              ),
            }));
        },
        async close() {},
      };
      return session;
    },
  };
}

/** Evaluates the filters the method sends, over multi-valued attributes (names and values case-insensitive). */
function matches(filter: Filter, attributes: FakeLdapEntry['attributes']): boolean {
  const values = (name: string) =>
    Object.entries(attributes)
      .filter(([key]) => key.toLowerCase() === name.toLowerCase())
      .flatMap(([, list]) => list.map((v) => v.toLowerCase()));
  if (filter instanceof AndFilter) return filter.filters.every((f) => matches(f, attributes));
  if (filter instanceof OrFilter) return filter.filters.some((f) => matches(f, attributes));
  if (filter instanceof NotFilter) return !matches(filter.filter, attributes);
  if (filter instanceof PresenceFilter) return values(filter.attribute).length > 0;
  if (filter instanceof EqualityFilter) return values(filter.attribute).includes(String(filter.value).toLowerCase());
  throw new Error(`the fake directory does not evaluate ${filter.constructor.name}`);
}

/** The directory of the authorisation harness: one user, `alice` (password `alice-password`), in `engineers`. */
export const LDAP_FIXTURE_ENTRIES: readonly FakeLdapEntry[] = [
  {
    dn: 'uid=alice,ou=people,dc=example,dc=org',
    password: 'alice-password',
    attributes: { uid: ['alice'], objectClass: ['inetOrgPerson'] },
  },
  {
    dn: 'cn=engineers,ou=groups,dc=example,dc=org',
    attributes: { cn: ['engineers'], member: ['uid=alice,ou=people,dc=example,dc=org'] },
  },
];
