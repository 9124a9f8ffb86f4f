import type { SecretDescribed, SecretRead } from '../api/secrets.ts';
import { namePath } from '../sdk/name-path.ts';
import { CliError, ExitCode } from './exit-codes.ts';

/** The one call the agent and `coffer run` make to the native API; `ApiClient.call` has this shape. */
export type ApiCall = <T = Record<string, unknown>>(
  method: string,
  path: string,
  options?: { body?: unknown; query?: Record<string, string | number | boolean | undefined> },
) => Promise<T>;

/** One fetched SecretString at the version a staging label pointed to. */
export interface FetchedSecret {
  readonly versionId: string;
  readonly value: string;
}

/**
 * Reads SecretStrings over the native API.
 *
 * `currentVersion` is the cheap check: `GET /v1/secret/metadata/{name}` returns the version-to-stage map without
 * decrypting anything, so a poll costs one metadata read per secret and a value is fetched (and decrypted) only
 * when a label has moved.
 */
export class SecretSource {
  /** @param api resolved per call, so a token the agent renews or re-reads is always the one used. */
  constructor(private readonly api: () => ApiCall) {}

  /**
   * The version id a staging label points to now.
   * @throws CliError (not found) when no version carries the label.
   */
  async currentVersion(name: string, stage: string): Promise<string> {
    const described = await this.api()<SecretDescribed>('GET', `/v1/secret/metadata/${namePath(name)}`);
    for (const [versionId, stages] of Object.entries(described.versionIdsToStages ?? {})) {
      if (stages.includes(stage)) return versionId;
    }
    throw new CliError(`secret ${name} has no version with staging label ${stage}`, ExitCode.notFound);
  }

  /**
   * Reads one version (by id, or the version a label points to).
   * @throws CliError (usage) for a binary secret: environment variables and text templates carry strings only.
   */
  async read(name: string, at: { versionId: string } | { stage: string }): Promise<FetchedSecret> {
    const got = await this.api()<SecretRead>('GET', `/v1/secret/data/${namePath(name)}`, {
      query: 'versionId' in at ? { versionId: at.versionId } : { stage: at.stage },
    });
    if (got.value === undefined) {
      throw new CliError(`secret ${name} holds a binary value; only string secrets can be injected`, ExitCode.usage);
    }
    return { versionId: got.versionId, value: got.value };
  }
}
