#!/usr/bin/env bash
# Tools the test suite drives besides Docker: tmux (the `ds01 container open` test types into
# a real terminal through it), iptables (ds01d installs its rules for the users' networks
# with it at start), dpkg-dev (scripts/package-deb.sh reads the binaries' library needs with
# dpkg-shlibdeps), man-db (the package test asks `man -w` for the installed page),
# Prometheus and Slurm (below). Installed from Debian when missing; the tests install nothing.
set -euo pipefail

# need COMMAND PACKAGE: PACKAGE from Debian (without the packages it only recommends),
# unless COMMAND is there already.
need() {
  command -v "$1" >/dev/null 2>&1 && return
  apt_install "$2"
}

# need_package PACKAGE: PACKAGE from Debian, unless it is installed (for packages whose
# commands do not say which package they came from, or that have none).
need_package() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' && return
  apt_install "$1"
}

apt_install() {
  echo "ci-deps: installing $1" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
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
need_package python3-docker
# Slurm: tests/cluster.rs runs a three-node cluster on this machine with
# scripts/slurm-cluster.sh (which installs the same when run alone): munged, slurmctld,
# slurmd, the clients, slurmrestd with its JWT plugin, rootless runc for srun --container,
# a static busybox for the OCI bundle, jq for its runtime spec.
need munged munge
need slurmctld slurmctld
need slurmd slurmd
need sinfo slurm-client
need slurmrestd slurmrestd
need_package slurm-wlm-jwt-plugin
need runc runc
need jq jq
need_package busybox-static
need curl curl
# Accounting: slurmdbd on a MariaDB the script starts under its own DIR. Installed with
# their services not started (a policy-rc.d saying no, unless the host has its own): a
# system MariaDB is neither wanted nor touched.
if ! command -v slurmdbd >/dev/null 2>&1 || ! command -v mariadbd >/dev/null 2>&1; then
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  need slurmdbd slurmdbd
  need mariadbd mariadb-server
  [ $own_policy -eq 0 ] || rm -f /usr/sbin/policy-rc.d
fi
