#!/usr/bin/env bash
# Smoke test of the container stack, for a machine with a Docker engine (the development machine
# has none: there, apps/server/test/observability/compose.test.ts checks the files' structure).
#
#   deploy/smoke.sh            build the images, start postgres, redis, migrate, api, worker and web,
#                              upload a small CSV through the page's origin, wait for the job to
#                              complete, check readiness, the read-only filesystem and a clean stop
#                              (exit code 0), then remove everything it started (volumes too).
#
# Needs docker with compose v2.17+ (`up --wait`) and curl. Exit 0: the stack works; 2: no engine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "smoke: no Docker engine here; nothing was run" >&2
  exit 2
fi

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
export COMPOSE_PROJECT_NAME="gtm-smoke-$$"
export POSTGRES_PASSWORD="$(random_hex 16)"
export BOOTSTRAP_API_KEY="gtm_smoke_$(random_hex 20)"
WEB=http://127.0.0.1:3000
API=http://127.0.0.1:8000
AUTH="Authorization: Bearer ${BOOTSTRAP_API_KEY}"

step() { printf '\n== smoke: %s\n' "$*"; }
fail() {
  echo "smoke: FAILED: $*" >&2
  docker compose ps -a >&2 || true
  docker compose logs --tail=50 api worker migrate >&2 || true
  exit 1
}
trap 'docker compose down --volumes --remove-orphans >/dev/null 2>&1 || true' EXIT

step "build"
docker compose build

step "up (waits for every health check)"
docker compose up --detach --wait || fail "the stack did not become healthy"

step "readiness"
curl -fsS "${API}/readyz" | grep -q '"status":"ready"' || fail "/readyz is not ready"
docker compose exec -T worker healthcheck /readyz || fail "the worker's /readyz is not ready"

step "upload through the page's origin"
answer=$(printf 'domain\nstripe.com\nnotion.so\nbob@gmail.com\n' |
  curl -fsS -H "${AUTH}" -F "file=@-;filename=smoke.csv;type=text/csv" "${WEB}/api/v1/uploads") ||
  fail "the upload was refused"
job=$(printf '%s' "${answer}" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
[ -n "${job}" ] || fail "no job id in ${answer}"

step "job ${job} completes"
status=""
for _ in $(seq 1 60); do
  status=$(curl -fsS -H "${AUTH}" "${WEB}/api/v1/jobs/${job}" | grep -o '"status":"[a-z_]*"' | head -1 | cut -d'"' -f4)
  [ "${status}" = "completed" ] && break
  sleep 2
done
[ "${status}" = "completed" ] || fail "job ${job} is ${status:-unknown} after 2 minutes"
curl -fsS -H "${AUTH}" "${WEB}/api/v1/jobs/${job}/export.csv" | grep -q 'stripe.com' || fail "the export lacks stripe.com"

step "read-only root filesystem"
if docker compose exec -T api sh -c 'echo x > /app/written 2>/dev/null || echo x > /tmp/written'; then
  fail "the api container could write to its filesystem"
fi

step "SIGTERM stops the api cleanly (exit code 0)"
container=$(docker compose ps --quiet api)
docker compose stop api
code=$(docker inspect --format '{{.State.ExitCode}}' "${container}")
[ "${code}" = "0" ] || fail "the api exited with ${code}"

echo
echo "smoke: ok (job ${job} completed)"
