/**
 * What every import source yields: items, each one Coffer secret to be, with its versions oldest first. A source never
 * writes and never prints a value; it only reads its origin (a file, the environment, a remote API).
 */
export type SourceValue = { readonly string: string } | { readonly binary: Buffer };

export interface SourceVersion {
  readonly value: SourceValue;
  /**
   * The version's own id where the origin has one of Coffer's shape (AWS Secrets Manager, a Coffer bundle): kept, so
   * the restored history reads the same and a retried write is recognised by the server as the same version.
   */
  readonly versionId?: string | undefined;
  /** Staging labels to restore; absent: the version simply becomes current, as a plain write does. */
  readonly stages?: readonly string[] | undefined;
}

export interface SourceItem {
  /** Identifies the item within its source (never a value): `DB_URL`, `prod/api#token`, `secret/app`. */
  readonly key: string;
  /** The name template's variables (`{{source}}`, `{{key}}`, and the source's own such as `{{namespace}}`). */
  readonly vars: Readonly<Record<string, string>>;
  readonly versions: readonly SourceVersion[];
  readonly description?: string | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** Versions the origin holds but cannot give (deleted or destroyed in Vault), reported and not imported. */
  readonly unavailable?: readonly string[] | undefined;
}

export interface ImportSource {
  /** How the summary names the source, e.g. `dotenv:.env`. */
  readonly label: string;
  /** The name template used when `--name-template` is not given. */
  readonly defaultTemplate: string;
  items(): Promise<SourceItem[]>;
}

export const stringValue = (string: string): SourceValue => ({ string });
