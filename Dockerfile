# b2b-checkout image: one image, two processes.
#   default CMD        -> the Temporal worker   (node dist/src/worker.js)
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

# The worker bundles dist/workflows at start-up, so the whole dist tree (with source maps) is needed;
# it holds the product only.
COPY --from=build /app/dist ./dist

USER node
CMD ["node", "dist/src/worker.js"]
