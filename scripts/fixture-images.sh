#!/usr/bin/env bash
# Builds the small local base images that ds01's engine tests and benchmarks run on.
# No registry is reachable from the test machines, so nothing can be pulled: each image is
# bootstrapped from Debian packages with mmdebstrap and imported into the engine.
#
#   scripts/fixture-images.sh          build the images that are missing
#   scripts/fixture-images.sh --list   print the image names, one per line
#   scripts/fixture-images.sh --remove remove the images (only those carrying the fixture label)
#
# Every image carries the label `ds01.test=fixture` so that cleanup can find them.
set -euo pipefail

readonly LABEL_KEY=ds01.test
readonly LABEL_VALUE=fixture

# name|suite|extra packages|customize hook
readonly FIXTURES=(
  "ds01-fixture/debian12:latest|bookworm|sudo|"
  # Debian 11 ships shadow 4.8.1, whose useradd grows /var/log/lastlog to UID x 292 bytes
  # (sparse): the case the lastlog guard and the truncation exist for.
  "ds01-fixture/debian11:latest|bullseye||"
  # Like ubuntu:24.04: an `ubuntu` account and group already hold 1000:1000.
  "ds01-fixture/ubuntu-account:latest|bookworm|sudo|groupadd -g 1000 ubuntu && useradd -u 1000 -g 1000 -m -s /bin/bash ubuntu"
  # Two services for the Docker-API tests' Compose file: a Python web app and its Redis.
  "ds01-fixture/services:latest|bookworm|python3,python3-redis,redis-server|"
)

list() { for f in "${FIXTURES[@]}"; do echo "${f%%|*}"; done; }

ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null && return
  echo "fixture-images: installing mmdebstrap" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
}

build() {
  local name=$1 suite=$2 include=$3 hook=$4
  local args=(--variant=minbase --quiet)
  [ -n "$include" ] && args+=("--include=$include")
  [ -n "$hook" ] && args+=("--customize-hook=chroot \"\$1\" sh -c '$hook'")
  echo "fixture-images: building $name from Debian $suite" >&2
  # Through a file, not a pipe: a failed bootstrap must not leave an empty image behind.
  local tarball
  tarball=$(mktemp --suffix=.tar)
  trap 'rm -f "$tarball"' RETURN
  mmdebstrap "${args[@]}" "$suite" "$tarball"
  docker import -c 'CMD ["/bin/bash"]' -c "LABEL $LABEL_KEY=$LABEL_VALUE" "$tarball" "$name" >/dev/null
}

case "${1:-}" in
  --list) list ;;
  --remove)
    for name in $(list); do
      if [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$name" 2>/dev/null)" = "$LABEL_VALUE" ]; then
        docker image rm "$name" >/dev/null
      fi
    done ;;
  "")
    for f in "${FIXTURES[@]}"; do
      IFS='|' read -r name suite include hook <<<"$f"
      docker image inspect "$name" >/dev/null 2>&1 && continue
      ensure_mmdebstrap
      build "$name" "$suite" "$include" "$hook"
    done ;;
  *) echo "usage: $0 [--list|--remove]" >&2; exit 2 ;;
esac
