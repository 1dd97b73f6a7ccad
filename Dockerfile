# syntax=docker/dockerfile:1
# One image for every server role (api, worker, migrate, sandbox: chosen by the command) and a
# small static image for the page. Build targets: `server` (default) and `web`.
# Untested here (no Docker engine on the development machine): see docs/operations.md.

ARG NODE_IMAGE=node:24-bookworm-slim

# Every workspace's package.json: npm ci checks the whole lockfile against them.
# (Repeated in each stage that installs: a stage cannot inherit another's COPY.)

# ── Server build: TypeScript → apps/server/dist (esbuild; see apps/server/scripts/build.mjs) ──────
FROM ${NODE_IMAGE} AS server-build
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
COPY packages/client/package.json packages/client/
RUN npm ci --include=dev --ignore-scripts --no-audit --no-fund --workspace @gtm-enrich/server --include-workspace-root
COPY packages packages
COPY apps/server apps/server
RUN node apps/server/scripts/build.mjs

# ── Server dependencies: production only (no embedded-postgres, tsx, typescript, esbuild) ─────────
FROM ${NODE_IMAGE} AS server-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
COPY packages/client/package.json packages/client/
# No install scripts: the runtime needs none. typescript (23 MB) arrives as a peer dependency of
# valibot (through bull-board) for its types only; no file installed here imports it.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace @gtm-enrich/server \
 && rm -rf node_modules/typescript

# ── Server: api, worker, migrate, sandbox (the command chooses) ─────────────────────────────────
FROM ${NODE_IMAGE} AS server
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    METRICS_PORT=9464 \
    LOG_FORMAT=json
# tini as PID 1 reaps and forwards signals to node, its only child: SIGTERM reaches the server's
# handler, which stops cleanly and exits 0. npm and corepack are removed: nothing runs them here,
# and every tool left in an image is one more to patch.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
COPY deploy/healthcheck.sh /usr/local/bin/healthcheck
WORKDIR /app
# The built JavaScript and production dependencies only: no TypeScript sources, no tests. The
# package.json files say "type": "module" for dist/*.js and resolve the workspace links.
COPY --from=server-deps /app/package.json ./
COPY --from=server-deps /app/node_modules node_modules
COPY apps/server/package.json apps/server/
COPY --from=server-build /app/apps/server/dist apps/server/dist
# Nothing is written at run time: the container runs with a read-only root filesystem
# (`read_only: true` in compose, `docker run --read-only`) and needs no tmpfs.
USER node
EXPOSE 8000 9464
# Liveness of any server role: /healthz on the operations listener (METRICS_PORT). Compose asks
# the api for /readyz instead, and the sandbox for its own page.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "apps/server/dist/main-api.js"]

# ── Web: build the static export ──────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS web-build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
COPY packages/client/package.json packages/client/
# The server workspace too: the page's security headers are computed by the server's own code.
RUN npm ci --include=dev --ignore-scripts --no-audit --no-fund --workspace @gtm-enrich/web --workspace @gtm-enrich/server --include-workspace-root
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY apps/web apps/web
COPY apps/server apps/server
# The page calls /api/v1 on its own origin; the web server proxies it to the api service.
RUN npm run build --workspace @gtm-enrich/web
# The headers the API would send with this build of the page, as nginx add_header lines.
RUN node --import tsx apps/server/src/web-security-headers.ts apps/web/out > /app/security-headers.conf

# ── Web: nginx serving the page and proxying the API (non-root, port 8080) ───────────────────────
FROM nginxinc/nginx-unprivileged:1.27-alpine AS web
COPY deploy/nginx/web.conf /etc/nginx/conf.d/default.conf
# Outside conf.d: included by the page's location only, never by the proxied ones.
COPY --from=web-build /app/security-headers.conf /etc/nginx/security-headers.conf
COPY --from=web-build /app/apps/web/out /usr/share/nginx/html
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]

# The default target is the server image.
FROM server
