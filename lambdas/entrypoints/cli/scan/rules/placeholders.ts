/** Values that stand in for a secret in examples, templates and docs rather than being one. */
const TEMPLATE_SYNTAX = [
  /\$\{[^}]*\}/, // ${DB_PASSWORD}
  /\{\{[^}]*\}\}/, // {{ .password }}
  /\$\([^)]*\)/, // $(cat secret)
  /%\(?[A-Za-z_]+\)?[%s]/, // %PASSWORD%, %(password)s
  /^\$[A-Za-z_][A-Za-z0-9_]*$/, // $PASSWORD
  /<[^>]+>/, // <your-key>
  /^\*+$/,
];
const PLACEHOLDER_WORDS = /^(?:changeme|password|passwd|secret|token|none|null|nil|undefined|todo|fixme|test|sample)$/;
const PLACEHOLDER_PARTS =
  /example|placeholder|changeme|change_?me|redacted|dummy|your_?|xxxx|replace_?me|insert_?|fake/;

export function isPlaceholder(value: string): boolean {
  if (TEMPLATE_SYNTAX.some((pattern) => pattern.test(value))) return true;
  // The same character over and over: "xxxxxxxx", "00000000".
  if (/^(.)\1*$/.test(value)) return true;
  const lower = value.toLowerCase().replace(/[-.\s]/g, '_');
  return PLACEHOLDER_WORDS.test(lower) || PLACEHOLDER_PARTS.test(lower);
}
