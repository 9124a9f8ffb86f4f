export declare const DIST_DIR: string;
export declare const BUILD_STAMP: string;
export declare const BUILT_ENTRIES: Readonly<Record<string, { readonly source: string }>>;
export declare class StaleBuildError extends Error {}
export declare function builtEntry(name: string, root?: string): string;
