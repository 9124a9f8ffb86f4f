import { buildOpenApi } from '../openapi.ts';
import { homeRegionOnly, type RouteDef, withFeature } from '../route.ts';
import { accessKeyRoutes } from './access-keys.ts';
import { apiKeyRoutes } from './api-keys.ts';
import { auditDeviceRoutes } from './audit-devices.ts';
import { authRoutes } from './auth.ts';
import { awsRoutes } from './aws.ts';
import { complianceRoutes } from './compliance.ts';
import { databaseRoutes } from './database.ts';
import { iamMappingRoutes } from './iam-mappings.ts';
import { keyRoutes } from './keys.ts';
import { ldapRoutes } from './ldap.ts';
import { leaseRoutes } from './leases.ts';
import { oauthRoutes } from './oauth.ts';
import { pkiRoutes } from './pki.ts';
import { policyRoutes } from './policies.ts';
import { quotaRoutes } from './quotas.ts';
import { replicationRoutes } from './replication.ts';
import { rotationRoutes } from './rotation.ts';
import { secretRoutes } from './secrets.ts';
import { SECRETS_MANAGER_PATHS, secretsManagerRoutes } from './secretsmanager/routes.ts';
import { sshRoutes } from './ssh.ts';
import { sysRoutes } from './sys.ts';
import { tokenRoutes } from './tokens.ts';
import { wrappingRoutes } from './wrapping.ts';

export const API_VERSION = '0.1.0';

/** The whole native API, in one table shared by every entry point. */
export function nativeRoutes(): RouteDef[] {
  let document: Record<string, unknown> | undefined;
  const routes: RouteDef[] = [
    ...sysRoutes(() => {
      document ??= buildOpenApi(routes, API_VERSION);
      return document;
    }),
    ...secretRoutes,
    ...replicationRoutes,
    ...policyRoutes,
    ...tokenRoutes,
    ...withFeature('authMounts', authRoutes),
    ...withFeature('authMounts', ldapRoutes),
    ...withFeature('accessKeys', accessKeyRoutes),
    ...withFeature('apiKeys', homeRegionOnly(apiKeyRoutes)),
    ...withFeature('pki', pkiRoutes),
    ...withFeature('database', homeRegionOnly(databaseRoutes)),
    ...withFeature('leases', leaseRoutes),
    ...withFeature('aws', awsRoutes),
    ...withFeature('ssh', sshRoutes),
    ...withFeature('oauth', oauthRoutes),
    ...withFeature('iamPrincipals', iamMappingRoutes),
    ...withFeature('rotation', homeRegionOnly(rotationRoutes)),
    ...withFeature('wrapping', wrappingRoutes),
    ...withFeature('quotas', quotaRoutes),
    ...withFeature('auditDevices', auditDeviceRoutes),
    ...withFeature('compliance', complianceRoutes),
    ...keyRoutes,
    ...SECRETS_MANAGER_PATHS.flatMap((path) => secretsManagerRoutes(path)),
  ];
  return routes;
}
