# b2b-checkout image: one image, two processes.
#   default CMD        -> the Temporal worker   (node dist/src/worker.js)
#   node dist/src/api/server.js                 -> the HTTP API
#   node dist/src/healthcheck.js worker|api     -> the containers' health checks (docker-compose.yml)
#
# Debian (glibc) based on purpose: the Temporal SDK's native core-bridge ships glibc builds only,
# so Alpine/musl images do not work.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile the product (src/, workflows/, activities/) into dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Dependencies first, so editing source does not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# .dockerignore keeps node_modules, dist, .git, local tools and data, and what is not the product
# (the dev stack launcher, the benchmark, the fault suite, the tests) out of this copy.
COPY . .
# tsconfig.build.json: the product only; no dist/bench, dist/faults, dist/stack, dist/test.
RUN npm run build:product
# The workflow bundle, made once here instead of by webpack at every worker start; the worker loads it
# from WORKFLOW_BUNDLE_PATH (set below). It is this build's workflows/: rebuilt with the image.
RUN node dist/src/workflow-bundle.js dist/workflow-bundle.js

# ---- runtime: production dependencies and the compiled output only ----
FROM ${NODE_IMAGE} AS runtime

# CA certificates for TLS connections made outside Node's own store (e.g. the SDK's native
# client to a TLS-enabled Temporal endpoint).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The compiled product (src/, workflows/, activities/) and the prebuilt workflow bundle.
COPY --from=build /app/dist ./dist
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js

# The image's version (`--build-arg VERSION=1.4.0`, or a git commit): the worker's Worker Deployment
# build id unless WORKER_BUILD_ID says otherwise. Each image whose workflow code differs needs its own
# (docs/DEPLOY.md). Empty: the version in package.json.
ARG VERSION=""
ENV B2B_CHECKOUT_VERSION=${VERSION}
LABEL org.opencontainers.image.version=${VERSION}

USER node
CMD ["node", "dist/src/worker.js"]
