import { describe, expect, it } from 'vitest';
import { loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';

/** Every `COFFER_*` variable of README's "Configuration (local)" table, with a non-default value and its field. */
const README_VARIABLES: [string, string, string, unknown][] = [
  ['COFFER_DATA_DIR', '/srv/coffer-data', 'dataDir', '/srv/coffer-data'],
  ['COFFER_HOST', '0.0.0.0', 'host', '0.0.0.0'],
  ['COFFER_PORT', '9999', 'port', 9999],
  ['COFFER_PASSPHRASE', 'long enough passphrase', 'passphrase', 'long enough passphrase'],
  ['COFFER_AUDIT_EXCLUDE', 'sys.health, secret.list', 'auditExclude', ['sys.health', 'secret.list']],
  ['COFFER_REGION', 'eu-west-3', 'region', 'eu-west-3'],
  ['COFFER_ACCOUNT_ID', '123456789012', 'account', '123456789012'],
  ['COFFER_MAX_BODY_BYTES', '2048', 'maxBodyBytes', 2048],
  ['COFFER_REQUEST_TIMEOUT_MS', '5000', 'requestTimeoutMs', 5000],
  ['COFFER_PUBLIC_URL', 'https://coffer.example:8443', 'publicUrl', 'https://coffer.example:8443'],
  ['COFFER_LEASE_MAX_PER_ROLE', '7', 'leaseMaxPerRole', 7],
  ['COFFER_LEASE_MAX_PER_PRINCIPAL', '8', 'leaseMaxPerPrincipal', 8],
  ['COFFER_LEASE_SWEEP_INTERVAL_MS', '250', 'leaseSweepIntervalMs', 250],
  ['COFFER_ROTATION_TICK_MS', '500', 'rotationTickMs', 500],
  ['COFFER_ROTATION_RETRY_INTERVAL_MS', '10', 'rotationRetryIntervalMs', 10],
  ['COFFER_ROTATION_FAULT', '*:setSecret:fail', 'rotationFault', '*:setSecret:fail'],
  ['COFFER_REGIONS', 'us-west-2, eu-west-1', 'regions', ['us-west-2', 'eu-west-1']],
  ['COFFER_FAULT_INJECTION', '1', 'faultInjection', true],
];

describe('Function: loadLocalConfig precedence', () => {
  it.each(README_VARIABLES)('honours %s when the CLI leaves its flag out', (name, value, field, expected) => {
    // What `coffer server` passes when no flag is given: every override present but undefined.
    const config = loadLocalConfig({ [name]: value }, { dataDir: undefined, host: undefined, port: undefined });
    expect((config as Record<string, unknown>)[field]).toEqual(expected);
  });

  it('lets a flag win over the environment, and the environment over the default', () => {
    const env = { COFFER_DATA_DIR: '/from/env', COFFER_HOST: '10.0.0.1', COFFER_PORT: '1234' };
    expect(loadLocalConfig(env, { dataDir: '/from/flag', port: 0 })).toMatchObject({
      dataDir: '/from/flag',
      host: '10.0.0.1',
      port: 0,
    });
    expect(loadLocalConfig({}, {})).toMatchObject({ host: '127.0.0.1', port: 8270 });
  });
});
