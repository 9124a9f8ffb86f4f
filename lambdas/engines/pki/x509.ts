/**
 * The one import of @peculiar/x509 in Coffer. The library resolves its algorithms through tsyringe, which needs the
 * `Reflect` metadata API at load time; ESM evaluates imports in order, so the polyfill is in place before the library
 * loads.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
