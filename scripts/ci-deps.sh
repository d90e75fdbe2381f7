#!/usr/bin/env bash
# Tools the test suite drives besides Docker: tmux (the `ds01 container open` test types into
# a real terminal through it), iptables (ds01d installs its rules for the users' networks
# with it at start), dpkg-dev (scripts/package-deb.sh reads the binaries' library needs with
# dpkg-shlibdeps) and man-db (the package test asks `man -w` for the installed page).
# Installed from Debian when missing; the tests install nothing.
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

if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
  echo "ci-deps: installing dpkg-dev" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev >/dev/null
fi

if ! command -v man >/dev/null 2>&1; then
  echo "ci-deps: installing man-db" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq man-db >/dev/null
fi
