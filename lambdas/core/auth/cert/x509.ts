/**
 * @peculiar/x509 for certificate login. The library resolves its algorithms through tsyringe, which needs the
 * `Reflect` metadata API at load time; ESM evaluates imports in order, so the polyfill is in place before the library
 * loads (as in the PKI engine's `x509.ts`, which the core may not import).
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
