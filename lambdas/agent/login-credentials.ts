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
export function agentLogin(config: LoginAutoAuth, log: (message: string) => void): AgentLogin {
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
          const secretId = await readCredentialFile(config.secret_id_file, 'the secret id');
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
