/**
 * Documented exit codes of `coffer` (see README): scripts can tell "not there" from "not allowed" from "someone
 * else changed it first" without parsing messages. They live with the agent, which `coffer agent` and `coffer run`
 * run and which exits with the same codes, because the agent is a client and may not import the CLI.
 */
export const ExitCode = {
  ok: 0,
  /** Anything else, including server errors. */
  failure: 1,
  /** Bad command-line usage or a request the server rejected as invalid (HTTP 400/413). */
  usage: 2,
  notFound: 3,
  /** Missing/invalid token (401) or a policy denied the request (403). */
  denied: 4,
  /** Check-and-set failed, the resource already exists, or a request token was reused (409). */
  conflict: 5,
  /** The server could not be reached, or it refused service (503: sealed, audit log unavailable). */
  unavailable: 6,
  /** `audit verify`: the records verified, but no anchor proves the file's end, so a cut tail cannot be ruled out. */
  unanchored: 7,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeForStatus(status: number): ExitCodeValue {
  if (status === 400 || status === 413 || status === 405) return ExitCode.usage;
  if (status === 404) return ExitCode.notFound;
  if (status === 401 || status === 403) return ExitCode.denied;
  if (status === 409) return ExitCode.conflict;
  if (status === 503) return ExitCode.unavailable;
  return ExitCode.failure;
}

/** An error the CLI reports as one line on stderr, then exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
