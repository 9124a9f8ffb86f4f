import { CliError, ExitCode } from '../../../../agent/exit-codes.ts';
import type { ImportSource, SourceItem, SourceVersion } from '../source.ts';

/**
 * `aws-sm[:<name prefix>]`: AWS Secrets Manager through the AWS SDK and its default credential chain and region
 * (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL…). Every secret (not scheduled for deletion) with every version, labelled
 * or not, its labels, its description and its tags; string and binary values alike. Version ids are kept: they are
 * of Coffer's shape, so the restored history reads the same.
 */
export function awsSecretsManagerSource(prefix: string | undefined): ImportSource {
  return {
    label: prefix === undefined || prefix === '' ? 'aws-sm' : `aws-sm:${prefix}`,
    defaultTemplate: '{{name}}',
    async items() {
      // Loaded here: every other command of the CLI runs without the SDK.
      const sm = await import('@aws-sdk/client-secrets-manager');
      const client = new sm.SecretsManagerClient({});
      try {
        const items: SourceItem[] = [];
        const entries: Array<{ Name?: string | undefined; ARN?: string | undefined }> = [];
        let next: string | undefined;
        do {
          const page = await client.send(
            new sm.ListSecretsCommand({
              NextToken: next,
              MaxResults: 100,
              ...(prefix === undefined || prefix === '' ? {} : { Filters: [{ Key: 'name', Values: [prefix] }] }),
            }),
          );
          entries.push(...(page.SecretList ?? []));
          next = page.NextToken;
          // An empty token also ends a listing: some emulators send "" on the last page.
        } while (next !== undefined && next !== '');
        for (const entry of entries) {
          const id = entry.ARN ?? entry.Name!;
          // ListSecrets' name filter matches by prefix on AWS but by word in some emulators: check it here too.
          if (prefix !== undefined && prefix !== '' && !(entry.Name ?? '').startsWith(prefix)) continue;
          const described = await client.send(new sm.DescribeSecretCommand({ SecretId: id }));
          const ids: Array<{ VersionId?: string | undefined; CreatedDate?: Date | undefined }> = [];
          let vnext: string | undefined;
          do {
            const page = await client.send(
              new sm.ListSecretVersionIdsCommand({ SecretId: id, IncludeDeprecated: true, NextToken: vnext }),
            );
            ids.push(...(page.Versions ?? []));
            vnext = page.NextToken;
          } while (vnext !== undefined && vnext !== '');
          ids.sort((a, b) => (a.CreatedDate?.getTime() ?? 0) - (b.CreatedDate?.getTime() ?? 0));
          const stagesOf = described.VersionIdsToStages ?? {};
          const versions: SourceVersion[] = [];
          for (const { VersionId } of ids) {
            if (VersionId === undefined) continue;
            const got = await client.send(new sm.GetSecretValueCommand({ SecretId: id, VersionId }));
            const value =
              got.SecretString !== undefined
                ? { string: got.SecretString }
                : { binary: Buffer.from(got.SecretBinary ?? new Uint8Array()) };
            versions.push({ value, versionId: VersionId, stages: stagesOf[VersionId] ?? [] });
          }
          const name = described.Name ?? entry.Name!;
          items.push({
            key: name,
            vars: { source: 'aws-sm', name, key: name },
            versions,
            description: described.Description,
            tags: Object.fromEntries((described.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
          });
        }
        return items;
      } catch (err) {
        if (err instanceof CliError) throw err;
        const name = err instanceof Error ? err.name : 'Error';
        throw new CliError(
          `cannot read AWS Secrets Manager: ${name}${err instanceof Error ? `: ${err.message}` : ''}`,
          ExitCode.unavailable,
        );
      } finally {
        client.destroy();
      }
    },
  };
}
