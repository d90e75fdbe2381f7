#!/usr/bin/env bash
# Makes sure a Docker engine answers: a running daemon is used as it is; otherwise dockerd is
# started (installed from Debian's docker.io first if missing). Fails loudly when no engine
# can be had: ds01's engine tests must run, never skip.
set -euo pipefail

if docker info >/dev/null 2>&1; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-engine: installing Debian's docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "ensure-engine: starting dockerd (log: /var/log/ds01-dockerd.log)" >&2
  nohup dockerd >/var/log/ds01-dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
  done
  echo "ensure-engine: dockerd did not come up; last lines of its log:" >&2
  tail -20 /var/log/ds01-dockerd.log >&2 || true
  exit 1
fi
