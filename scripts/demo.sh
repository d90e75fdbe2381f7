#!/usr/bin/env bash
# The main job on a fresh machine: a Docker engine, the local base images, a release build,
# then (as root, acting for an LDAP user) build that user's image from a local Debian 11 base,
# create their container from it, and show that the account inside really is theirs.
# Everything the demo creates is removed again at the end, also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

WHO="h.baker@hertie-school.lan:1722830498:1722800513"
UID_NUM=1722830498
NAME=demo
BASE=ds01-fixture/debian11:latest
DS01=target/release/ds01

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (it acts for an LDAP user with --as)" >&2
  exit 2
fi

step "Docker engine"
scripts/ensure-engine.sh
docker version --format 'Docker Engine {{.Server.Version}} (API {{.Server.APIVersion}})'

step "Local base images (no registry needed)"
scripts/fixture-images.sh

step "Release build"
run cargo build --release -p ds01-cli

made=()
cleanup() {
  step "Clean up"
  run "$DS01" --as "$WHO" container remove "$NAME" --force || true
  run "$DS01" --as "$WHO" image delete "$NAME" --force || true
  [ "${#made[@]}" -eq 0 ] || rm -rf "${made[@]}"
}
trap cleanup EXIT

# MLC gives containers unlimited locked memory (pinned GPU buffers); an engine that may not
# lift its own hard limit (sandboxes, unprivileged engines) fails to start them. Such a host
# says so in ds01's system configuration, as its admin would in /etc/ds01/config.toml.
hard_kib=$(ulimit -H -l)
if [ "$hard_kib" != unlimited ] && [ -z "${DS01_SYSTEM_CONFIG:-}" ]; then
  DS01_SYSTEM_CONFIG=$(mktemp)
  made+=("$DS01_SYSTEM_CONFIG")
  printf 'memlock = "%sk"\n' "$hard_kib" >"$DS01_SYSTEM_CONFIG"
  export DS01_SYSTEM_CONFIG
  echo "note: locked memory is capped at ${hard_kib} KiB here; using $DS01_SYSTEM_CONFIG:" >&2
  cat "$DS01_SYSTEM_CONFIG" >&2
fi

# The image spec and Dockerfile of a user root acts for live under the state directory.
if [ -z "${DS01_STATE_DIR:-}" ]; then
  DS01_STATE_DIR=$(mktemp -d)
  made+=("$DS01_STATE_DIR")
fi
export DS01_STATE_DIR

step "Build the user's image, with the account baked in"
run "$DS01" --as "$WHO" image create "$NAME" --base "$BASE" --json

step "Create the user's container from it (no setup container, no commit)"
run "$DS01" --as "$WHO" container create "$NAME" --cpu-only --start --json

step "The account inside the container"
run docker exec --user "$UID_NUM" "$NAME._.$UID_NUM" id -un

step "The container as ds01 lists it"
run "$DS01" --as "$WHO" container list
