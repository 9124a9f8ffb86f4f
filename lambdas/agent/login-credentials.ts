import { rm, stat } from 'node:fs/promises';
import { readCredentialFile } from '../sdk/login.ts';
import type { LoginAutoAuth } from './config.ts';

/** How the agent logs in: where, and the body with its credentials read afresh at each login. */
export interface AgentLogin {
  readonly method: LoginAutoAuth['method'];
  readonly mount: string;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /** The body of `POST /v1/auth/<mount>/login`. @throws Error naming an unreadable or empty file, never its content */
  body(): Promise<Record<string, string>>;
}

const missing = (file: string): Promise<boolean> =>
  stat(file).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );

/**
 * The credential readers of `auto_auth`'s login methods. Files are read at every login, so a rotated JWT, a new
 * service-account token or a changed password is used without restarting the agent.
 *
 * AppRole's secret id file is deleted once read (unless `remove_secret_id_file_after_reading` is false) and the
 * secret id kept in memory for later logins, as Vault Agent does: the credential stays on disk for as short a time as
 * possible, and a new file put in place (a fresh secret id) replaces the remembered one at the next login.
 */
/** Opens a response-wrapped answer (`sys/wrapping/lookup` then `unwrap`); no token needed. */
export interface Unwrapper {
  lookup(token: string): Promise<{ creation_path: string }>;
  unwrap(token: string): Promise<Record<string, unknown>>;
}

export function agentLogin(config: LoginAutoAuth, log: (message: string) => void, unwrapper?: Unwrapper): AgentLogin {
  const common = { method: config.method, mount: config.mount, minBackoffMs: config.min_backoff };
  const maxBackoffMs = Math.max(config.max_backoff, config.min_backoff);
  switch (config.method) {
    case 'approle': {
      let remembered: string | undefined;
      return {
        ...common,
        maxBackoffMs,
        async body() {
          const roleId = await readCredentialFile(config.role_id_file, 'the role id');
          if (remembered !== undefined && (await missing(config.secret_id_file))) {
            return { role_id: roleId, secret_id: remembered };
          }
          const read = await readCredentialFile(config.secret_id_file, 'the secret id');
          const secretId =
            config.secret_id_response_wrapping_path === undefined
              ? read
              : await unwrapSecretId(read, config.secret_id_response_wrapping_path, unwrapper);
          remembered = secretId;
          if (config.remove_secret_id_file_after_reading) {
            await rm(config.secret_id_file, { force: true });
            log(`read and removed the secret id file ${config.secret_id_file}`);
          }
          return { role_id: roleId, secret_id: secretId };
        },
      };
    }
    case 'jwt':
      return {
        ...common,
        maxBackoffMs,
        body: async () => ({ role: config.role, jwt: await readCredentialFile(config.path, 'the JWT') }),
      };
    case 'kubernetes':
      return {
        ...common,
        maxBackoffMs,
        body: async () => ({
          role: config.role,
          jwt: await readCredentialFile(config.token_path, 'the service-account token'),
        }),
      };
    case 'cert':
      // The credential travels in the TLS handshake (the agent's client presents `client_cert`): the body names the role.
      return {
        ...common,
        maxBackoffMs,
        body: async (): Promise<Record<string, string>> => (config.name === undefined ? {} : { name: config.name }),
      };
    case 'ldap':
      return {
        ...common,
        maxBackoffMs,
        body: async () => ({
          username: config.username,
          password: await readCredentialFile(config.password_file, 'the password'),
        }),
      };
  }
}

/**
 * The secret id inside a wrapping token, after checking the token wraps what it should: a token an attacker made for
 * some other answer (their own secret id, logging the agent in as them) has another creation path.
 */
async function unwrapSecretId(token: string, expectedPath: string, unwrapper: Unwrapper | undefined): Promise<string> {
  if (unwrapper === undefined) throw new Error('cannot unwrap the secret id: no connection to the server');
  const expected = expectedPath.replace(/^\/+|\/+$/g, '');
  const { creation_path: made } = await unwrapper.lookup(token);
  if (made !== expected) {
    throw new Error(`the wrapping token in the secret id file was made at ${made}, not ${expected}: refused`);
  }
  const answer = await unwrapper.unwrap(token);
  if (typeof answer.secret_id !== 'string' || answer.secret_id === '') {
    throw new Error('the wrapping token in the secret id file does not wrap a secret id');
  }
  return answer.secret_id;
}
