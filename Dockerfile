# One image for every role of cal_service; the role is the command:
#
#   docker build -t cal_service .
#   docker run --rm -e DATABASE_URL=postgres://... cal_service migrate
#   docker run -d -p 8080:8080 -e DATABASE_URL=postgres://... cal_service api
#   docker run -d -e DATABASE_URL=... -e AMQP_URL=amqp://... cal_service scheduler
#   docker run -d -e AMQP_URL=amqp://... cal_service sender
#
# Stages:
#   build      every dependency, compiles TypeScript to dist/
#   test       build + the test sources and dev tools (compose.yaml's `tests` service)
#   prod-deps  production dependencies only
#   runtime    the default: dist/ and production node_modules, as user node
#
# Configuration is environment variables only (README.md, "Configuration");
# logs are JSON lines on stderr. compose.yaml runs the whole stack.

# Node 20 is what the service targets (package.json engines); pin the major.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so that a source change does not reinstall them.
# patches/ too: npm ci's postinstall applies them (patch-package).
COPY package.json package-lock.json ./
COPY patches patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen gen
COPY internal internal
COPY cmd cmd
# tsconfig.build.json leaves out *.test.ts and the test helpers.
RUN npm run build

# The integration suite, run against the stack by
# `docker compose --profile test run --rm tests`. Not a production image.
FROM build AS test
COPY . .
CMD ["npm", "run", "test:stack"]

# No install scripts: no production dependency has one (only the dev tools
# esbuild and buf do), and none should run where the image is assembled.
# That skips our own postinstall too, and patch-package is a dev tool: each
# package patched under patches/ is taken as the build stage patched it.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/node_modules/postgres node_modules/postgres
COPY --from=build /app/node_modules/@connectrpc/connect node_modules/@connectrpc/connect
COPY --from=build /app/node_modules/@connectrpc/connect-node node_modules/@connectrpc/connect-node

FROM ${NODE_IMAGE} AS runtime
# The heap capped to what a role needs: left alone, V8 lets the heap grow
# with the host's memory under a high allocation rate (the api peaked at
# 190-415 MB RSS under benchmark load with 35-45 MB live; capped, 128-131 MB
# at the same throughput; docs/BENCHMARKS.md). Logs stay JSON lines even
# under `docker run -t`: whatever reads a container's logs reads JSON.
ENV NODE_ENV=production NODE_OPTIONS=--max-old-space-size=160 \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# The embedded database (DATA_DIR=./data, used only when DATABASE_URL is
# unset) must be writable by the user the service runs as.
RUN mkdir data && chown node:node data
# calctl, the command-line client, on PATH: `docker compose exec api calctl today`.
RUN chmod +x dist/cmd/calctl.js && ln -s /app/dist/cmd/calctl.js /usr/local/bin/calctl
# The official image's unprivileged user (uid 1000).
USER node
# api; scheduler's /metrics and /healthz; sender's /metrics and /healthz.
EXPOSE 8080 8081 8082
# GET /healthz on the port(s) of the running role, read from the same
# variables the role read. The start period covers DB_CONNECT_TIMEOUT (60s):
# the api listens only once its database answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "/app/dist/cmd/healthcheck.js"]
# Exec form: node is PID 1 and gets SIGTERM itself (graceful shutdown).
ENTRYPOINT ["node", "/app/dist/cmd/cal_service.js"]
CMD ["api"]
