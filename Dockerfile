# syntax=docker/dockerfile:1
# The Coffer image: one entry point for the CLI, the local server (`server`, the default), the agent (`agent`) and
# the admission webhook (`injector`). Built by `docker build -t coffer .`; docs/kubernetes.md ("The image") says how it
# is run and what test/unit/deploy/dockerfile.test.ts and test/e2e/deploy-read-only.test.ts check of it.

# Compiles dist/ (the entries and the web console) with every development dependency.
FROM node:22-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY bin/coffer.mjs bin/built.mjs ./bin/
COPY lambdas ./lambdas
COPY lib ./lib
COPY scripts ./scripts
# The build, named rather than left to `prepare`; no installed package needs its own install script to build.
RUN npm ci --ignore-scripts && npm run build

# The runtime dependencies alone: dist/ leaves packages external, and better-sqlite3 is a native addon. Scripts are
# off (`prepare` would build again), so the one addon is built on its own, against this Debian's glibc, which is the
# runtime image's.
FROM node:22-bookworm AS runtime-dependencies
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=peer --ignore-scripts && npm rebuild better-sqlite3

# No shell, no package manager, no npm: node and what Coffer runs.
FROM gcr.io/distroless/nodejs22-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=runtime-dependencies /src/node_modules ./node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/bin/coffer.mjs /src/bin/built.mjs ./bin/
COPY --from=build /src/dist ./dist
# The files above belong to root and are read-only to the process; it writes only to its data directory (in a volume
# mounted at /var/lib/coffer), so the root filesystem can be mounted read-only.
USER 65532:65532
ENV NODE_ENV=production COFFER_DATA_DIR=/var/lib/coffer/data
EXPOSE 8270
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/coffer.mjs"]
CMD ["server"]
