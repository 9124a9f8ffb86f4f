/**
 * The layers of Coffer (docs/ARCHITECTURE.md, "Layers"), checked by `npm run layers` and so by `npm test`.
 *
 *   entrypoints (local, lambda, cli, custom-resources)   composition roots: may import anything below
 *   broker                                               → core, engines
 *   adapters/<family>                                    → core (ports, types) only
 *   engines/<engine>                                     → core, engines/shared
 *   core                                                 → node built-ins without I/O, pure libraries
 *
 *   clients: sdk ← extension, sdk ← agent ← injector; they may use core's pure helpers, nothing else of the server. The web
 *   console (lambdas/console) is a client too: a browser page that reaches Coffer over HTTP and reads with lambdas/api.
 *
 * Each rule says why it exists: a violation's message is that comment.
 */

const CLIENTS = '^lambdas/(agent|sdk|extension|console|injector)/';
/** The wire contract of the native API, if it gets a folder: shared by the broker and the clients. */
const WIRE = '^lambdas/(api|sdk/wire)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-above-it',
      comment:
        'The core is the domain: everything else depends on it, so it must not depend on anything else. Move what ' +
        'both sides need into the core (a port, a type), never the other way round.',
      severity: 'error',
      from: { path: '^lambdas/core/' },
      to: { path: ['^lambdas/(engines|adapters|broker|entrypoints|agent|sdk|extension|api)/', '^(lib|bin|scripts)/'] },
    },
    {
      name: 'core-has-no-io',
      comment:
        'The core is pure: it reaches files, sockets and processes only through ports (Store, KeyProvider, AuditSink, ' +
        'Clock, ...), so every adapter runs the same rules and unit tests need no environment.',
      severity: 'error',
      from: { path: '^lambdas/core/' },
      to: {
        dependencyTypes: ['core'],
        path: '^(node:)?(fs|fs/promises|http|https|http2|dns|dns/promises|child_process|dgram|tls|cluster|worker_threads)$',
      },
    },
    {
      name: 'core-uses-no-cloud-sdk',
      comment:
        'AWS SDK clients, Lambda Powertools and database drivers belong to adapters and engines; the core signs and ' +
        'verifies with pure libraries (@smithy/signature-v4, @aws-crypto) but never calls a service.',
      severity: 'error',
      from: { path: '^lambdas/core/' },
      to: { path: '^node_modules/(@aws-sdk|@aws-lambda-powertools|@middy|better-sqlite3|pg|aws-cdk-lib)/' },
    },
    {
      name: 'engines-build-on-the-core',
      comment:
        'An engine is domain logic behind the broker: it speaks to the world through core ports and the guarded ' +
        'egress in engines/shared, so it runs the same locally and on AWS. Adapters are chosen by the composition root.',
      severity: 'error',
      from: { path: '^lambdas/engines/' },
      to: { path: ['^lambdas/(adapters|broker|entrypoints|agent|sdk|extension)/', '^(lib|bin|scripts)/'] },
    },
    {
      name: 'engines-are-independent',
      comment:
        'One folder per engine: adding or removing one must not break another. What two engines share goes to ' +
        'engines/shared or the core. (rotation/registry.ts lists the rotation engines and may import them.)',
      severity: 'error',
      from: {
        path: '^lambdas/engines/(rotation/[^/]+|[^/]+)/',
        pathNot: '^lambdas/engines/rotation/(certificate/|registry[.]ts$)',
      },
      to: { path: '^lambdas/engines/', pathNot: '^lambdas/engines/($1|shared)/' },
    },
    {
      name: 'certificate-rotation-drives-only-pki',
      comment:
        'The certificate rotator renews a certificate by issuing it from the PKI engine, so it is the one engine built ' +
        'on another; it must not reach any other engine.',
      severity: 'error',
      from: { path: '^lambdas/engines/rotation/certificate/' },
      to: { path: '^lambdas/engines/', pathNot: '^lambdas/engines/(rotation/certificate|pki|shared)/' },
    },
    {
      name: 'rotation-registry-lists-rotators',
      comment:
        'The registry builds every rotation engine, so it imports them, and the PKI service the certificate rotator ' +
        'needs; nothing else.',
      severity: 'error',
      from: { path: '^lambdas/engines/rotation/registry[.]ts$' },
      to: { path: '^lambdas/engines/', pathNot: '^lambdas/engines/(rotation|pki|shared)/' },
    },
    {
      name: 'adapters-implement-core-ports',
      comment:
        'An adapter implements a port of the core and knows nothing of who uses it: never the broker, an engine, an ' +
        'entrypoint or a client. A port an engine needs lives in core/ports so its adapters can implement it.',
      severity: 'error',
      from: { path: '^lambdas/adapters/' },
      to: { path: ['^lambdas/(engines|broker|entrypoints|agent|sdk|extension|api)/', '^(lib|bin|scripts)/'] },
    },
    {
      name: 'adapter-families-are-independent',
      comment:
        'Each runtime family (aws, local, memory, egress) is deployed without the others: the Lambda bundle must not ' +
        'pull SQLite, the local server must not pull an SDK client. Rules both need belong in the core.',
      severity: 'error',
      from: { path: '^lambdas/adapters/([^/]+)/' },
      to: { path: '^lambdas/adapters/', pathNot: '^lambdas/adapters/$1/' },
    },
    {
      name: 'memory-adapters-are-for-tests',
      comment:
        'The in-memory Store and AuditSink keep nothing: production code that imports them could lose data silently. ' +
        'Tests use them; shared store rules live in core/ports.',
      severity: 'error',
      from: { path: '^(lambdas|lib|bin|scripts)/', pathNot: '^lambdas/adapters/memory/' },
      to: { path: '^lambdas/adapters/memory/' },
    },
    {
      name: 'broker-uses-core-and-engines',
      comment:
        'The broker is the one request handler; it is handed its adapters by a composition root, so it runs on every ' +
        'runtime. It may share the wire contract with the clients, nothing else of theirs.',
      severity: 'error',
      from: { path: '^lambdas/broker/' },
      to: { path: ['^lambdas/(adapters|entrypoints|agent|sdk|extension)/', '^(lib|bin|scripts)/'], pathNot: WIRE },
    },
    {
      name: 'entrypoint-runtimes-are-independent',
      comment:
        'The Lambda functions and the local server are separate deployments: the Lambda bundle must not pull SQLite ' +
        'or node:http servers, the local server must not need API Gateway shapes. What both wire the same way sits ' +
        'beside them, in lambdas/entrypoints/*.ts (the runtime-neutral composition).',
      severity: 'error',
      from: { path: '^lambdas/entrypoints/(lambda|local|custom-resources)/' },
      to: { path: '^lambdas/entrypoints/', pathNot: ['^lambdas/entrypoints/$1/', '^lambdas/entrypoints/[^/]+[.]ts$'] },
    },
    {
      name: 'clients-talk-http-only',
      comment:
        'The agent, the SDK, the extension and the Kubernetes injector run on the callers side and reach Coffer over ' +
        'its API only. They are shipped without the server: no CLI, broker, engine, adapter or entrypoint.',
      severity: 'error',
      from: { path: CLIENTS },
      to: { path: ['^lambdas/(entrypoints|broker|engines|adapters)/', '^(lib|bin|scripts)/'] },
    },
    {
      name: 'console-runs-in-a-browser',
      comment:
        'The web console is bundled for browsers: Node built-ins do not exist there, and the SDK, agent and extension ' +
        'are Node clients. It reads the API with the wire schemas (lambdas/api) and nothing else of Coffer, and signs ' +
        'requests (SigV4) with the browser-capable @smithy/signature-v4 and @aws-crypto/sha256-js.',
      severity: 'error',
      from: { path: '^lambdas/console/' },
      to: {
        pathNot: [
          '^lambdas/(console|api)/',
          '(^|/)node_modules/(preact|zod|@smithy/signature-v4|@aws-crypto/sha256-js)/',
        ],
      },
    },
    {
      name: 'sdk-is-the-base-client',
      comment:
        'The SDK is published on its own (coffer/sdk) and is what the agent and the extension build on, so it may not ' +
        'depend on either.',
      severity: 'error',
      from: { path: '^lambdas/sdk/' },
      to: { path: '^lambdas/(agent|extension)/' },
    },
    {
      name: 'agent-and-extension-are-independent',
      comment:
        'The agent (a sidecar process) and the extension (a Lambda layer) ship separately; what they share, such as ' +
        'the local secrets cache listener, lives in the SDK.',
      severity: 'error',
      from: { path: '^lambdas/(agent|extension)/' },
      to: { path: '^lambdas/(agent|extension)/', pathNot: '^lambdas/$1/' },
    },
    {
      name: 'wire-contract-stands-alone',
      comment:
        'The wire schemas are imported by both the broker and the clients, so they may depend on neither (zod and the ' +
        'core only).',
      severity: 'error',
      from: { path: WIRE },
      to: {
        path: ['^lambdas/(engines|adapters|broker|entrypoints|agent|extension)/', '^(lib|bin|scripts)/'],
        pathNot: WIRE,
      },
    },
    {
      name: 'cdk-imports-no-runtime-code',
      comment:
        'Synthesising the stack must not load handlers, SDK clients or adapters: lib/ bundles runtime code by path ' +
        '(esbuild entry files), and imports only pure constants from the core and the Lambda deployment contract.',
      severity: 'error',
      from: { path: '^lib/' },
      to: {
        path: '^lambdas/',
        pathNot: ['^lambdas/core/', '^lambdas/entrypoints/lambda/deployment-names[.]ts$'],
      },
    },
    {
      name: 'production-does-not-import-tests',
      comment: 'Test helpers and fixtures are not shipped; production code that imports them breaks the bundles.',
      severity: 'error',
      from: { path: '^(lambdas|lib|bin|scripts)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment:
        'A cycle makes load order matter (ESM evaluates a cycle with half-initialised bindings) and means two modules ' +
        'are one: merge them or move the shared part down a layer.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '^cdk[.]out/'] },
    // Type-only imports count: a type from the broker in the core couples them just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.mjs', '.js', '.cjs', '.json', '.d.ts'],
    },
    skipAnalysisNotInRules: true,
  },
};
