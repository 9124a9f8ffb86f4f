import type { Command } from 'commander';
import { collect, integer, NONE } from '../io.ts';
import { putRole, registerRoleReads } from './auth.ts';

const DEFAULT_KUBERNETES_PATH = 'kubernetes';
const enc = encodeURIComponent;

/**
 * `coffer kubernetes role put|get|list|delete`: roles of a Kubernetes mount, binding service accounts and namespaces
 * (Vault's `auth/kubernetes/role/<name>`). The flags cover every field; `--file` takes the role as JSON, the flags
 * overriding its fields.
 */
export function registerKubernetesCommands(program: Command): void {
  const kubernetes = program
    .command('kubernetes')
    .description('Kubernetes roles: which service accounts and namespaces log in, with which policies');
  const role = kubernetes.command('role').description('create, read, list and delete Kubernetes roles');
  const base = (path: string | undefined) => `/v1/auth/${enc(path ?? DEFAULT_KUBERNETES_PATH)}/role`;
  const pathOption = ['--path <mount>', `the Kubernetes mount (default ${DEFAULT_KUBERNETES_PATH})`] as const;

  role
    .command('put <name>')
    .description(
      'create or replace a role (it binds service accounts and namespaces; it may grant only policies you hold)',
    )
    .option(...pathOption)
    .option('--file <file>', 'the role as a JSON object; the flags below override its fields')
    .option('--service-account <name>', 'bound_service_account_names (* globs), repeatable', collect)
    .option('--namespace <namespace>', 'bound_service_account_namespaces (* globs), repeatable', collect)
    .option('--audience <aud>', "the token's aud must contain it")
    .option('--alias-name-source <source>', 'serviceaccount_uid (default) or serviceaccount_name')
    .option('--policy <name>', 'a policy of its tokens, repeatable', collect)
    .option('--token-ttl <duration>')
    .option('--token-max-ttl <duration>')
    .option('--token-num-uses <n>', '0 = unlimited', integer('--token-num-uses'))
    .option('--token-cidr <cidr>', 'logins and their tokens only from here, repeatable', collect)
    .action(async (name: string, flags: Record<string, unknown>, command: Command) => {
      await putRole(command, base, name, flags, {
        bound_service_account_names: flags.serviceAccount,
        bound_service_account_namespaces: flags.namespace,
        audience: flags.audience,
        alias_name_source: flags.aliasNameSource,
        token_policies: flags.policy,
        token_ttl: flags.tokenTtl,
        token_max_ttl: flags.tokenMaxTtl,
        token_num_uses: flags.tokenNumUses,
        token_bound_cidrs: flags.tokenCidr,
      });
    });

  registerRoleReads(role, {
    pathOption,
    base,
    cell: (value) => (Array.isArray(value) ? value.join(',') || NONE : String(value)),
    deleted: 'delete a role: logins with it stop working',
  });
}
