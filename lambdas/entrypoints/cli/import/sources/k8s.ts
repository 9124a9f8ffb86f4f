import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import * as z from 'zod';
import { CliError, ExitCode } from '../../../../agent/exit-codes.ts';
import type { ImportSource, SourceItem } from '../source.ts';

const KubernetesSecret = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: z.object({ name: z.string().min(1), namespace: z.string().min(1).optional() }),
  type: z.string().optional(),
  data: z.record(z.string(), z.string().nullable()).nullable().optional(),
  stringData: z.record(z.string(), z.string().nullable()).nullable().optional(),
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * `k8s:<manifest.yaml>`: every `Secret` of a (multi-document) manifest, one Coffer secret per key. `data` is base64
 * (kept as bytes when it is not UTF-8 text); `stringData` wins over `data` for the same key, as the API server merges
 * them. Other kinds (a Deployment in the same file) are passed over. `{{namespace}}` (`default` when absent) and
 * `{{name}}` are the Secret's; `{{source}}` is `namespace/name`.
 */
export function k8sSource(file: string): ImportSource {
  return {
    label: `k8s:${file}`,
    defaultTemplate: '{{namespace}}/{{name}}/{{key}}',
    async items() {
      const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
      });
      return parseKubernetesSecrets(text, file);
    },
  };
}

export function parseKubernetesSecrets(text: string, file = 'manifest'): SourceItem[] {
  const items: SourceItem[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    // The parser's messages quote the offending text, which may be a value: only its position is shown.
    if (doc.errors.length > 0) {
      const where = doc.errors[0]!.linePos?.[0];
      throw new CliError(
        `${file}: document ${index + 1} is not valid YAML${where === undefined ? '' : ` (line ${where.line})`}`,
        ExitCode.usage,
      );
    }
    const object: unknown = doc.toJS();
    if (typeof object !== 'object' || object === null || (object as { kind?: unknown }).kind !== 'Secret') return;
    const parsed = KubernetesSecret.safeParse(object);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CliError(
        `${file}: document ${index + 1} is not a Secret manifest: ${issue.path.join('.')} ${issue.message}`,
        ExitCode.usage,
      );
    }
    const secret = parsed.data;
    const namespace = secret.metadata.namespace ?? 'default';
    const name = secret.metadata.name;
    const values = new Map<string, { string: string } | { binary: Buffer }>();
    for (const [key, encoded] of Object.entries(secret.data ?? {})) {
      if (encoded === null) continue;
      const compact = encoded.replace(/\s+/g, '');
      if (!BASE64.test(compact) || compact.length % 4 !== 0) {
        throw new CliError(`${file}: ${namespace}/${name}: data.${key} is not base64`, ExitCode.usage);
      }
      const bytes = Buffer.from(compact, 'base64');
      const text = new TextDecoder('utf-8', { fatal: true });
      try {
        values.set(key, { string: text.decode(bytes) });
      } catch {
        values.set(key, { binary: bytes });
      }
    }
    for (const [key, value] of Object.entries(secret.stringData ?? {})) {
      if (value !== null) values.set(key, { string: value });
    }
    for (const [key, value] of values) {
      const empty = 'string' in value ? value.string === '' : value.binary.length === 0;
      items.push({
        key: `${namespace}/${name}#${key}`,
        vars: { source: `${namespace}/${name}`, namespace, name, key },
        versions: empty ? [] : [{ value }],
        unavailable: empty ? ['empty value'] : undefined,
        tags: { 'k8s.namespace': namespace, 'k8s.secret': name },
      });
    }
  });
  return items;
}
