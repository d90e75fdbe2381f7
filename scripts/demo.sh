#!/usr/bin/env bash
# The main job on a fresh machine: a Docker engine, the local base images, a release build,
# then ds01d on a throwaway socket and state directory, and the walkthrough as an
# unprivileged LDAP-style user who is not in the docker group: build their image from a
# local Debian 11 base, create their container from it, run a command in it, list, remove.
# Everything the demo creates (user, service, containers, images, files) is removed again at
# the end, also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

LOGIN="h.baker@hertie-school.lan"
UID_NUM=1722830498
GID_NUM=1722800513
GROUP="hertie-students"
NAME=demo
BASE=ds01-fixture/debian11:latest
LABEL="ds01.demo=$$"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (it creates a throwaway user and starts ds01d)" >&2
  exit 2
fi
if getent passwd "$UID_NUM" >/dev/null || getent passwd "$LOGIN" >/dev/null; then
  echo "demo.sh: UID $UID_NUM or $LOGIN exists already; this demo makes and removes its own" >&2
  exit 1
fi

step "Docker engine"
scripts/ensure-engine.sh
docker version --format 'Docker Engine {{.Server.Version}} (API {{.Server.APIVersion}})'

step "Local base images (no registry needed)"
scripts/fixture-images.sh

step "Release build"
run cargo build --release -p ds01-cli -p ds01-daemon

work=$(mktemp -d)
chmod 755 "$work"
daemon_pid=""
cleanup() {
  step "Clean up"
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  for id in $(docker ps -aq --filter "label=$LABEL"); do docker rm -f "$id" >/dev/null || true; done
  for id in $(docker images -q --filter "label=$LABEL" | sort -u); do docker rmi -f "$id" >/dev/null || true; done
  for v in $(docker volume ls -q --filter "label=$LABEL"); do docker volume rm -f "$v" >/dev/null || true; done
  pkill -KILL -u "$UID_NUM" 2>/dev/null || true
  userdel --remove "$LOGIN" 2>/dev/null || true
  groupdel "$GROUP" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "An LDAP-style user, not in the docker group"
groupadd -g "$GID_NUM" "$GROUP"
useradd --badname --no-log-init -m -u "$UID_NUM" -g "$GID_NUM" -s /bin/bash "$LOGIN"
install -d -o "$UID_NUM" -g "$GID_NUM" "/home/$LOGIN/workspace"
run id "$LOGIN"

step "ds01d on a throwaway socket (the admin's side)"
install -m 755 target/release/ds01 target/release/ds01d "$work/"
# MLC gives containers unlimited locked memory (pinned GPU buffers); an engine that may not
# lift its own hard limit (sandboxes like this one) says so in ds01d's configuration.
{
  hard_kib=$(ulimit -H -l)
  [ "$hard_kib" = unlimited ] || printf 'memlock = "%sk"\n' "$hard_kib"
  printf '[labels]\n"ds01.demo" = "%s"\n' "$$"
} >"$work/config.toml"
chmod 644 "$work/config.toml"
cat "$work/config.toml" >&2
"$work/ds01d" --socket "$work/ds01.sock" --config "$work/config.toml" --state-dir "$work/state" \
  2>"$work/ds01d.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$work/ds01.sock" ] && break; sleep 0.1; done

as_user() { # the user's own shell: no docker socket, just ds01
  printf '%s$ %s\n' "$LOGIN" "$*" >&2
  setpriv --reuid="$UID_NUM" --regid="$GID_NUM" --init-groups \
    env -i HOME="/home/$LOGIN" USER="$LOGIN" PATH=/usr/bin:/bin DS01_SOCKET="$work/ds01.sock" \
    "$@"
}

step "The user cannot use Docker directly"
as_user sh -c 'test -w /var/run/docker.sock && echo "docker socket writable!" || echo "no access to the docker socket"'

step "Who ds01d says the user is (from the kernel, not from the user)"
as_user "$work/ds01" doctor || true

step "Build the user's image, with the account baked in"
as_user "$work/ds01" image create "$NAME" --base "$BASE" --json

step "Create their container from it (no setup container, no commit) and start it"
as_user "$work/ds01" container create "$NAME" --start --json

step "A command inside, as the user; the exit status is the command's"
as_user "$work/ds01" container exec "$NAME" -- sh -c 'id; exit 7' || echo "exit status: $?"

step "The container as ds01 lists it"
as_user "$work/ds01" container list

step "Files in /workspace (~/workspace/$NAME on the host) and in ~ (a volume) survive recreate"
as_user "$work/ds01" container exec "$NAME" -- sh -c 'echo notes > /workspace/notes.txt; echo cfg > ~/.myrc'
as_user "$work/ds01" container recreate "$NAME"
as_user "$work/ds01" container exec "$NAME" -- sh -c 'cat /workspace/notes.txt ~/.myrc'

step "Remove it (with its home volume)"
as_user "$work/ds01" container remove "$NAME" --force --volumes
as_user "$work/ds01" image delete "$NAME"

step "What ds01d audited"
tail -n 3 "$work/state/audit.log"
