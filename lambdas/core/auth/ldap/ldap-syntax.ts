/**
 * The LDAP syntax the method builds from user input: filter values (RFC 4515), DN attribute values (RFC 4514) and
 * Vault's `{{.Username}}` templates. Every value a caller supplies goes through an escape here, so a username such as
 * `*)(uid=*` stays a username and never becomes filter syntax.
 */

/** Escapes a value for use inside an LDAP filter (RFC 4515): `*`, `(`, `)`, `\`, NUL and other controls as `\XX`. */
export function escapeFilterValue(value: string): string {
  // Non-ASCII text stays as it is (filters are UTF-8); only the characters with a meaning in filter syntax change.
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    out += FILTER_SPECIAL.has(char) || isControl(code) ? `\\${code.toString(16).padStart(2, '0')}` : char;
  }
  return out;
}

const FILTER_SPECIAL = new Set(['*', '(', ')', '\\']);

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

/** Whether `text` holds a control character (C0 or DEL): never part of a name. */
export function hasControlCharacters(text: string): boolean {
  for (const char of text) if (isControl(char.codePointAt(0)!)) return true;
  return false;
}

/** Escapes a value for use as an attribute value in a DN (RFC 4514). */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** The placeholders Vault's filters know, as they appear in a template. */
export const FILTER_FIELDS = ['UserAttr', 'Username', 'UserDN'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
const PLACEHOLDER = /\{\{\s*\.([A-Za-z]+)\s*\}\}/g;

/**
 * Why `template` cannot be a filter template whose fields are `allowed`, or undefined when it can: balanced
 * parentheses, wrapped in one, and no placeholder other than `allowed` (a typo would otherwise search for the
 * literal text).
 */
export function filterTemplateProblem(template: string, allowed: readonly FilterField[]): string | undefined {
  const unknown = [...template.matchAll(PLACEHOLDER)]
    .map((m) => m[1]!)
    .filter((f) => !(allowed as string[]).includes(f));
  if (unknown.length > 0)
    return `unknown placeholder {{.${unknown[0]}}}; use ${allowed.map((f) => `{{.${f}}}`).join(', ')}`;
  if (template.replace(PLACEHOLDER, '').includes('{{')) return 'malformed placeholder: write {{.Username}}';
  const bare = template.replace(PLACEHOLDER, 'x').replace(/\\./g, 'x');
  if (!bare.startsWith('(') || !bare.endsWith(')')) return 'must be wrapped in parentheses';
  let depth = 0;
  for (const char of bare) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth < 0) return 'unbalanced parentheses';
  }
  return depth === 0 ? undefined : 'unbalanced parentheses';
}

/**
 * Fills a filter template. `UserAttr` is an attribute name the configuration validated and goes in as it is; every
 * other value is filter-escaped, so nothing a caller types can change the filter's structure.
 */
export function renderFilter(template: string, values: Partial<Record<FilterField, string>>): string {
  return template.replace(PLACEHOLDER, (_match, field: string) => {
    const value = values[field as FilterField];
    if (value === undefined) throw new Error(`filter placeholder {{.${field}}} has no value`);
    return field === 'UserAttr' ? value : escapeFilterValue(value);
  });
}

/**
 * The first value of the `cn` (or `attribute`) RDN of a DN, as Vault reads group names from `memberOf` values:
 * `cn=engineers,ou=groups,dc=example,dc=org` → `engineers`. A value that is not a DN is returned as it is.
 */
export function groupNameOf(value: string, attribute = 'cn'): string {
  if (!value.includes('=')) return value;
  for (const rdn of splitDn(value)) {
    for (const part of splitUnescaped(rdn, '+')) {
      const eq = part.indexOf('=');
      if (eq <= 0) return value;
      if (part.slice(0, eq).trim().toLowerCase() === attribute.toLowerCase())
        return unescapeDnValue(part.slice(eq + 1));
    }
  }
  return value;
}

function splitDn(dn: string): string[] {
  return splitUnescaped(dn, ',').map((s) => s.trim());
}

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\' && i + 1 < text.length) {
      current += char + text[i + 1]!;
      i += 1;
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

function unescapeDnValue(value: string): string {
  const bytes: number[] = [];
  const text = value.trim();
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (char === '\\' && i + 1 < text.length) {
      bytes.push(...Buffer.from(text[i + 1]!, 'utf8'));
      i += 1;
    } else bytes.push(...Buffer.from(char, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}
