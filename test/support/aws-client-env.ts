import { api, runCli, type ServerProcess } from './server-process.ts';

/**
 * The environment a real AWS client (the `aws` CLI, boto3) runs in against a Coffer server: a fresh Coffer access
 * key for `principal` under a policy that may create, read, update, delete and list every secret, and nothing of the
 * developer's own AWS set-up (profiles, credentials files, pager, retries).
 */
export async function awsClientEnv(
  server: ServerProcess,
  options: { principal: string; region: string },
): Promise<NodeJS.ProcessEnv> {
  const { address, rootToken } = server;
  const policy = `${options.principal}-secrets`;
  await api(address, rootToken, 'PUT', `/v1/sys/policies/${policy}`, {
    rules: [{ path: 'secrets/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] }],
  });
  const created = await runCli(
    ['access-key', 'create', '--principal', options.principal, '--policy', policy, '-o', 'json'],
    { env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken } },
  );
  if (created.code !== 0) throw new Error(`access-key create failed: ${created.stderr}`);
  const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_DEFAULT_REGION: options.region,
    // Never a developer's own profile or credentials.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_MAX_ATTEMPTS: '1',
  };
}
