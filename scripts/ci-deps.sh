#!/usr/bin/env bash
# Tools the test suite drives besides Docker: tmux (the `ds01 container open` test types into
# a real terminal through it), iptables (ds01d installs its rules for the users' networks
# with it at start) and Prometheus (below). Installed from Debian when missing; the tests
# install nothing.
set -euo pipefail

if ! command -v tmux >/dev/null 2>&1; then
  echo "ci-deps: installing tmux" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
fi

if ! command -v iptables-restore >/dev/null 2>&1; then
  echo "ci-deps: installing iptables" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null
fi

# Prometheus and promtool: tests/metrics.rs scrapes ds01d with a real Prometheus, queries it,
# and checks the metrics and the alert rules (dist/prometheus) with promtool.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  echo "ci-deps: installing prometheus" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
