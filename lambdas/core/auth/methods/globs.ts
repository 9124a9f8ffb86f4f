/** The bound-value globs every login method's roles use (`bound_claims`, service-account names, SANs). */

/**
 * Vault's glob: `*` stands for any run of characters, `/` included (so `refs/heads/*` matches
 * `refs/heads/feature/x`); every other character matches itself. Iterative with one backtrack point, so a pattern of
 * many stars costs O(pattern × text), never exponential time.
 *
 * @example globMatch('octo-org/*', 'octo-org/api') // true
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
