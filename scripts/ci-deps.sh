#!/usr/bin/env bash
# Tools the test suite drives besides Docker: tmux (the `ds01 container open` test types into
# a real terminal through it), iptables (ds01d installs its rules for the users' networks
# with it at start), dpkg-dev (scripts/package-deb.sh reads the binaries' library needs with
# dpkg-shlibdeps), man-db (the package test asks `man -w` for the installed page) and
# Prometheus (below). Installed from Debian when missing; the tests install nothing.
set -euo pipefail

# need COMMAND PACKAGE: PACKAGE from Debian (without the packages it only recommends),
# unless COMMAND is there already.
need() {
  command -v "$1" >/dev/null 2>&1 && return
  echo "ci-deps: installing $2" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

need tmux tmux
need iptables-restore iptables
need dpkg-shlibdeps dpkg-dev
need man man-db
# Prometheus and promtool: tests/metrics.rs scrapes ds01d with a real Prometheus, queries it,
# and checks the metrics and the alert rules (dist/prometheus) with promtool.
need prometheus prometheus
need promtool prometheus
# tests/docker_api.rs drives ds01d's Docker-API socket with the clients users have: the docker
# CLI (with the engine), Debian's docker-compose and its Python docker SDK.
need docker-compose docker-compose
python3_docker() { /usr/bin/python3 -c 'import docker' 2>/dev/null; }
python3_docker || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-docker >/dev/null; }
