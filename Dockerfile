# syntax=docker/dockerfile:1
# One image for every server role (api, worker, migrate, sandbox: chosen by the command) and a
# small static image for the page. Build targets: `server` (default) and `web`.
# Untested here (no Docker engine on the development machine): see docs/operations.md.

ARG NODE_IMAGE=node:24-bookworm-slim

# ── Server dependencies: production only, for the server and contracts workspaces ──────────────
FROM ${NODE_IMAGE} AS server-deps
WORKDIR /app
# Every workspace's package.json: npm ci checks the whole lockfile against them.
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
# No install scripts: the server needs none at run time (esbuild ships its binary as an optional
# package; the embedded PostgreSQL binaries are for `npm start`, not for containers).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace @gtm-enrich/server

# ── Server: api, worker, migrate, sandbox ─────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS server
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json \
    npm_config_update_notifier=false
# tini as PID 1, signalling the whole process group (-g): `npm run` starts the server through
# sh, which does not pass SIGTERM on, so without it `docker stop` would skip the graceful shutdown.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=server-deps /app ./
COPY tsconfig.base.json tsconfig.json ./
COPY packages/contracts packages/contracts
COPY apps/server apps/server
# tsx compiles on the fly and caches under the OS temp dir, which the node user can write.
USER node
EXPOSE 8000 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]
CMD ["npm", "run", "start:api"]

# ── Web: build the static export ──────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS web-build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
COPY packages/contracts/package.json packages/contracts/
# The server workspace too: the page's security headers are computed by the server's own code.
RUN npm ci --include=dev --ignore-scripts --no-audit --no-fund --workspace @gtm-enrich/web --workspace @gtm-enrich/server --include-workspace-root
COPY tsconfig.base.json tsconfig.json ./
COPY packages/contracts packages/contracts
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
