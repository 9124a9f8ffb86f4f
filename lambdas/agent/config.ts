import os from 'node:os';
import path from 'node:path';
import * as z from 'zod';
import { hostName } from '../core/auth/allowed-hosts.ts';
import { KUBERNETES_TOKEN_PATH } from '../sdk/login-options.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { ENV_NAME, parseSecretRef, type SecretRef } from './secret-ref.ts';

/**
 * A duration in milliseconds, written as seconds (`30`) or a string with one unit: `'250ms'`, `'30s'`, `'5m'`, `'1h'`.
 * Milliseconds are allowed because tests and tight loops need sub-second polling.
 */
const Duration = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+(ms|s|m|h)$/, "e.g. '250ms', '30s', '5m', '1h'")])
  .transform((value) => {
    if (typeof value === 'number') return value * 1000;
    const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(value)!;
    return Number(amount) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  });

const SIGNAL_NAMES = Object.keys(os.constants.signals) as [NodeJS.Signals, ...NodeJS.Signals[]];
const SignalName = z.enum(SIGNAL_NAMES);

/** File modes as octal strings (`"0640"`, `"640"`); JSON has no octal numbers. */
const Perms = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'an octal mode such as "0600"')
  .transform((mode) => Number.parseInt(mode, 8));

const Argv = z.array(z.string().min(1)).min(1);

const SecretRefText = z.string().transform((text, ctx): SecretRef => {
  try {
    return parseSecretRef(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid secret reference' });
    return z.NEVER;
  }
});

/** An auth mount: one path segment, as the server names mounts. */
const Mount = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'one path segment of a-z, 0-9, _ and -');

/**
 * What every login method shares: how long to wait between failed logins. The waits double from `min_backoff` up to
 * `max_backoff`, each shortened by up to a quarter at random so that many agents refused together (a server restart)
 * do not come back in step. Vault Agent's defaults.
 */
const LoginBackoff = {
  /** @default "1s" */
  min_backoff: Duration.default(1000),
  /** @default "5m" */
  max_backoff: Duration.default(300_000),
};

const AutoAuth = z.discriminatedUnion('method', [
  /** A token in a file (a Kubernetes secret mount, a file an init step wrote); re-read when it changes. */
  z.strictObject({ method: z.literal('token_file'), path: z.string().min(1) }),
  /** A token in an environment variable of the agent. */
  z.strictObject({ method: z.literal('env'), variable: z.string().regex(ENV_NAME).default('COFFER_TOKEN') }),
  /** AppRole: a role id and a secret id from files (an init step or an orchestrator delivers them). */
  z.strictObject({
    method: z.literal('approle'),
    mount: Mount.default('approle'),
    role_id_file: z.string().min(1),
    secret_id_file: z.string().min(1),
    /**
     * Delete the secret id file once read, as Vault Agent does: the secret id then lives in the agent's memory only,
     * and a new file (a fresh secret id) is read at the next login. @default true
     */
    remove_secret_id_file_after_reading: z.boolean().default(true),
    /**
     * The secret id file holds a wrapping token (`coffer approle secret-id create --wrap-ttl`), not the secret id: the
     * agent checks it was made at this path (e.g. `auth/approle/role/web/secret-id`: a token wrapping something else
     * is refused) and unwraps it, as Vault Agent's option of the same name. @default the file holds the secret id
     */
    secret_id_response_wrapping_path: z.string().min(1).optional(),
    ...LoginBackoff,
  }),
  /** A JWT (CI, an OIDC provider) in a file, read again at each login so a rotated token is picked up. */
  z.strictObject({
    method: z.literal('jwt'),
    mount: Mount.default('jwt'),
    role: z.string().min(1),
    path: z.string().min(1),
    ...LoginBackoff,
  }),
  /** A pod's projected service-account token, read again at each login (the kubelet rotates it). */
  z.strictObject({
    method: z.literal('kubernetes'),
    mount: Mount.default('kubernetes'),
    role: z.string().min(1),
    /** @default "/var/run/secrets/kubernetes.io/serviceaccount/token" */
    token_path: z.string().min(1).default(KUBERNETES_TOKEN_PATH),
    ...LoginBackoff,
  }),
  /** LDAP / Active Directory: the user's name and a file holding the password, read at each login. */
  z.strictObject({
    method: z.literal('ldap'),
    mount: Mount.default('ldap'),
    username: z.string().min(1),
    password_file: z.string().min(1),
    ...LoginBackoff,
  }),
  /**
   * A TLS client certificate: the credential is the connection's certificate (every request of the agent presents
   * it, so it also passes a listener that requires one), the body only names the role to try.
   */
  z.strictObject({
    method: z.literal('cert'),
    mount: Mount.default('cert'),
    /** The cert role to try. @default every role of the mount, in name order */
    name: z.string().min(1).optional(),
    client_cert: z.string().min(1),
    client_key: z.string().min(1),
    ...LoginBackoff,
  }),
]);

/** The login methods of `auto_auth` (the other choices hand the agent a token). */
export type LoginAutoAuth = Extract<z.output<typeof AutoAuth>, { min_backoff: number }>;

const Template = z
  .strictObject({
    /** A template file, or… */
    source: z.string().min(1).optional(),
    /** …the template inline. Exactly one of the two. */
    contents: z.string().optional(),
    destination: z.string().min(1),
    /** @default "0600" */
    perms: Perms.default(0o600),
    /**
     * Run (argv, no shell) after the output changed, in the config file's directory: a relative program or argument
     * (`./reload.sh`) means the same as a relative `source` or `destination`.
     */
    command: Argv.optional(),
    /** @default "30s" */
    command_timeout: Duration.default(30_000),
    /** Send a signal to the process in `pid_file` after the output changed. */
    signal: z.strictObject({ name: SignalName.default('SIGHUP'), pid_file: z.string().min(1) }).optional(),
  })
  .refine((t) => (t.source === undefined) !== (t.contents === undefined), {
    error: 'give exactly one of source or contents',
  });

const Exec = z.strictObject({
  /**
   * The child, in the agent's working directory (as `coffer run`'s and Vault Agent's): it is the application the
   * agent stands in front of, started from where the application expects to be (a container's WORKDIR).
   */
  command: Argv,
  /** @default "always" */
  restart_on_secret_changes: z.enum(['always', 'never']).default('always'),
  /** @default "SIGTERM" */
  restart_stop_signal: SignalName.default('SIGTERM'),
  /** How long a restart waits for the child after the stop signal before SIGKILL. @default "10s" */
  restart_kill_timeout: Duration.default(10_000),
  /** Environment variables of the child: `NAME: "secret[#field][@stage]"`. */
  env: z.record(z.string().regex(ENV_NAME, 'an environment variable name'), SecretRefText).default({}),
  /**
   * A `.env` file of the child's variables, as `coffer run --env-file` reads it: a value
   * `coffer://secret[#field][@stage]` (what `coffer scan --fix` writes) is a secret kept current like `env`'s, any
   * other value is passed as it is. A variable may not be in both. Read once, at start.
   */
  env_file: z.string().min(1).optional(),
});

/** The agent's configuration file (JSON). Relative paths are resolved against the file's directory. */
export const AgentConfigSchema = z
  .strictObject({
    /** @default the global --address / COFFER_ADDR */
    address: z.url().optional(),
    /** @default the global --token / COFFER_TOKEN, without renewal of a changed value */
    auto_auth: AutoAuth.optional(),
    /**
     * Write the agent's current token to a file whenever it changes (a login, a new token file), as Vault Agent's
     * file sink does, for processes that call Coffer themselves.
     */
    sink: z
      .strictObject({
        path: z.string().min(1),
        /** @default "0600" */
        mode: Perms.default(0o600),
      })
      .optional(),
    /** How often secret versions are checked. @default "30s" */
    poll_interval: Duration.default(30_000),
    templates: z.array(Template).default([]),
    exec: Exec.optional(),
    /**
     * A local secrets cache sidecar speaking the AWS Parameters and Secrets Lambda Extension protocol; callers send
     * the agent's `AWS_SESSION_TOKEN` in `X-Aws-Parameters-Secrets-Token` when it is set.
     */
    cache: z
      .strictObject({
        port: z.number().int().min(0).max(65_535),
        /** @default "127.0.0.1" */
        host: z.string().min(1).default('127.0.0.1'),
        /** `Host` names callers may use besides loopback and `host` (DNS rebinding guard). @default none */
        allowed_hosts: z
          .array(z.string().refine((value) => hostName(value) !== undefined, 'must be a host name'))
          .default([]),
        /** Serve HTTPS with this certificate chain (PEM file), with `tls_key`. @default plain HTTP */
        tls_cert: z.string().min(1).optional(),
        /** The private key of `tls_cert` (PEM file). */
        tls_key: z.string().min(1).optional(),
        /** The oldest TLS version accepted. @default "1.3" */
        tls_min_version: z.enum(['1.2', '1.3']).optional(),
      })
      .refine((cache) => (cache.tls_cert === undefined) === (cache.tls_key === undefined), {
        message: 'tls_cert and tls_key go together',
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    const idle = config.templates.length === 0 && config.exec === undefined && config.cache === undefined;
    if (idle && config.sink === undefined) {
      ctx.addIssue({ code: 'custom', message: 'nothing to do: give templates, exec, cache or sink' });
    }
    if (config.poll_interval < 10) ctx.addIssue({ code: 'custom', path: ['poll_interval'], message: 'at least 10ms' });
  });

/** A parsed configuration: its relative paths resolved. */
export type AgentConfig = z.output<typeof AgentConfigSchema> & {
  /** The config file's directory: relative paths were resolved against it, and templates' commands run in it. */
  readonly directory: string;
};
export type TemplateConfig = AgentConfig['templates'][number];
export type ExecConfig = NonNullable<AgentConfig['exec']>;

/**
 * Parses and validates a configuration, resolving relative paths against `baseDir` (the config file's directory).
 * @throws CliError (usage) listing each invalid field.
 */
export function parseAgentConfig(input: unknown, baseDir: string): AgentConfig {
  const result = AgentConfigSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 8)
      .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`));
    throw new CliError(`invalid agent config: ${issues.join('; ')}`, ExitCode.usage);
  }
  const config = result.data;
  const directory = path.resolve(baseDir);
  const resolve = (p: string) => path.resolve(directory, p);
  const seen = new Set<string>();
  for (const t of config.templates) {
    const destination = resolve(t.destination);
    if (seen.has(destination)) {
      throw new CliError(`invalid agent config: two templates write ${destination}`, ExitCode.usage);
    }
    seen.add(destination);
  }
  return {
    ...config,
    directory,
    auto_auth: resolveAutoAuth(config.auto_auth, resolve),
    ...(config.sink === undefined ? {} : { sink: { ...config.sink, path: resolve(config.sink.path) } }),
    ...(config.exec?.env_file === undefined
      ? {}
      : { exec: { ...config.exec, env_file: resolve(config.exec.env_file) } }),
    templates: config.templates.map((t) => ({
      ...t,
      destination: resolve(t.destination),
      ...(t.source === undefined ? {} : { source: resolve(t.source) }),
      ...(t.signal === undefined ? {} : { signal: { ...t.signal, pid_file: resolve(t.signal.pid_file) } }),
    })),
    cache:
      config.cache?.tls_cert === undefined || config.cache.tls_key === undefined
        ? config.cache
        : { ...config.cache, tls_cert: resolve(config.cache.tls_cert), tls_key: resolve(config.cache.tls_key) },
  };
}

/** The auto_auth block with its files resolved against the config file's directory. */
function resolveAutoAuth(
  auth: z.output<typeof AutoAuth> | undefined,
  resolve: (p: string) => string,
): z.output<typeof AutoAuth> | undefined {
  switch (auth?.method) {
    case 'token_file':
    case 'jwt':
      return { ...auth, path: resolve(auth.path) };
    case 'approle':
      return { ...auth, role_id_file: resolve(auth.role_id_file), secret_id_file: resolve(auth.secret_id_file) };
    case 'kubernetes':
      return { ...auth, token_path: resolve(auth.token_path) };
    case 'ldap':
      return { ...auth, password_file: resolve(auth.password_file) };
    case 'cert':
      return { ...auth, client_cert: resolve(auth.client_cert), client_key: resolve(auth.client_key) };
    default:
      return auth;
  }
}
