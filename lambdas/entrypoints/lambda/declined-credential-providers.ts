/**
 * What the Lambda bundles get in place of the AWS SDK's SSO, shared-config, credential-process and web-identity
 * credential providers (an esbuild alias, `lib/broker-bundling.ts`). A Lambda function finds its role's credentials
 * in its environment, the first link of the SDK's default chain, so these links never run there; dropping them takes
 * their nested SSO-OIDC, STS and sign-in clients out of every bundle. Should one be reached all the same, it declines
 * as a provider with nothing to offer does, and the chain goes on to the container and instance metadata links.
 */
function declined(source: string) {
  return () => async (): Promise<never> => {
    throw Object.assign(new Error(`no ${source} credentials in a Lambda function`), {
      name: 'CredentialsProviderError',
      tryNextLink: true,
    });
  };
}

export const fromSSO = declined('SSO');
export const fromIni = declined('shared config file');
export const fromProcess = declined('credential process');
export const fromTokenFile = declined('web identity token file');
