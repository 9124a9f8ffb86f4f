import { readFile } from 'node:fs/promises';
import { CofferClient } from '../sdk/client.ts';
import { type SecretsCacheServer, startSecretsCache } from '../sdk/secrets-server.ts';
import { parseExtensionConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { ExtensionsApiClient } from './runtime-api.ts';

/** The executable's file name in the layer's `extensions/` folder; Lambda requires it as the registered name. */
export const EXTENSION_NAME = 'coffer-extension';

/**
 * The extension's life: start the listener (before registering, so the function never finds the port closed), register
 * for INVOKE and SHUTDOWN, and loop on `event/next`. Every INVOKE checks hot secrets at once, since the process was
 * frozen since the last one; SHUTDOWN closes the listener and returns 0.
 * @returns the process exit code
 * @example process.exit(await runExtension(process.env));
 */
export async function runExtension(env: NodeJS.ProcessEnv): Promise<number> {
  const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
  if (runtimeApi === undefined || runtimeApi === '') {
    process.stderr.write('[Coffer Extension] ERROR AWS_LAMBDA_RUNTIME_API is not set: not running in Lambda\n');
    return 1;
  }
  const api = new ExtensionsApiClient(runtimeApi);
  let config: ReturnType<typeof parseExtensionConfig>;
  try {
    config = parseExtensionConfig(env);
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(`[Coffer Extension] ERROR ${message}\n`);
    // Lambda only accepts an init error from a registered extension.
    const identifier = await api.register(EXTENSION_NAME, ['INVOKE', 'SHUTDOWN']);
    await api.initError(identifier, 'Extension.ConfigurationError', message);
    return 1;
  }
  const log = createLogger(config.logLevel);
  for (const warning of config.warnings) log.warn(warning);

  const coffer = new CofferClient({
    endpoint: config.cofferAddr,
    auth:
      config.cofferToken === undefined ? { sigv4: { service: config.signingService } } : { token: config.cofferToken },
    cache: false,
    env,
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
  });
  let server: SecretsCacheServer;
  try {
    const tls =
      config.tls === undefined
        ? undefined
        : {
            cert: await readFile(config.tls.certFile),
            key: await readFile(config.tls.keyFile),
            minVersion: config.tls.minVersion,
          };
    server = await startSecretsCache({
      tls,
      coffer,
      port: config.port,
      token: config.sessionToken,
      allowedHosts: { names: config.allowedHosts },
      cache: config.cache,
      maxConnections: config.maxConnections,
      logger: log,
    });
  } catch (err) {
    log.error(`cannot listen on port ${config.port}: ${(err as Error).message}`);
    const identifier = await api.register(EXTENSION_NAME, ['INVOKE', 'SHUTDOWN']);
    await api.initError(identifier, 'Extension.ListenError', `cannot listen on port ${config.port}`);
    return 1;
  }

  const identifier = await api.register(EXTENSION_NAME, ['INVOKE', 'SHUTDOWN']);
  log.debug('registered');
  for (;;) {
    const event = await api.next(identifier);
    if (event.eventType === 'SHUTDOWN') {
      log.debug(`shutting down (${event.shutdownReason ?? 'no reason given'})`);
      await server.close();
      return 0;
    }
    void server.checkNow();
  }
}
