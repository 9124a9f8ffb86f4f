/**
 * The CA key port moved to the core (`core/ports/ca-key-store.ts`) so that its adapters depend on the core only.
 * This re-export keeps the PKI engine's modules compiling while they are being split; import the port from the core.
 */
export * from '../../core/ports/ca-key-store.ts';
