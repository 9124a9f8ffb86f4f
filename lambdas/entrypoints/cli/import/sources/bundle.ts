import { readFile } from 'node:fs/promises';
import { CliError, ExitCode } from '../../../../agent/exit-codes.ts';
import { openBundle } from '../bundle.ts';
import type { ImportSource } from '../source.ts';

/**
 * `bundle:<file>`: a backup written by `coffer export`, opened with the passphrase. Every version with its id,
 * labels, the description and tags come back as they were.
 */
export function bundleSource(file: string, passphrase: () => Promise<string>): ImportSource {
  return {
    label: `bundle:${file}`,
    defaultTemplate: '{{name}}',
    async items() {
      const data = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
      });
      const content = await openBundle(data, await passphrase());
      return content.secrets.map((secret) => ({
        key: secret.name,
        vars: { source: 'bundle', name: secret.name, key: secret.name },
        description: secret.description,
        tags: secret.tags,
        versions: secret.versions.map((v) => ({
          versionId: v.versionId,
          stages: v.stages,
          value: 'binary' in v ? { binary: Buffer.from(v.binary, 'base64') } : { string: v.value },
        })),
      }));
    },
  };
}
