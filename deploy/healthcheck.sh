#!/bin/bash
# The image's health check: GET http://127.0.0.1:<port><path>, healthy on a 200 within 2 s.
#
#   healthcheck                    /healthz on METRICS_PORT (every server role, api and worker, has
#                                  that operations listener)
#   healthcheck /readyz            the database and the queue (and, on a worker, the provider circuit)
#   healthcheck /_sandbox/stats 4010
#
# Plain bash (/dev/tcp): no curl in the image, and no second Node process per probe, whose start
# alone took longer than the probe's timeout on a loaded machine.
set -u
path=${1:-/healthz}
port=${2:-${METRICS_PORT:-9464}}
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "${path}" >&3
IFS= read -r -t 2 status <&3 || exit 1
[[ ${status} == "HTTP/1."?" 200 "* ]]
