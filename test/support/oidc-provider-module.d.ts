/** The part of `oidc-provider` (no types of its own) the tests' OAuth server uses. */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface Saveable {
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    readonly Client: { find(id: string): Promise<unknown> };
    readonly Grant: new (properties: {
      accountId: string;
      clientId: string;
    }) => Saveable & { addOIDCScope(scope: string): void };
    readonly RefreshToken: new (
      properties: Record<string, unknown>,
    ) => Saveable;
  }
}
