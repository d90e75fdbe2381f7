#!/usr/bin/env bash
# The whole test suite on a fresh machine: a Docker engine, the fixture base images, then
# every test of the workspace (unit, golden, property, snapshot, CLI and real-engine tests).
# Fixture images this run had to build are removed again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x scripts/ci-deps.sh ] && scripts/ci-deps.sh
scripts/ensure-engine.sh

missing=()
for image in $(scripts/fixture-images.sh --list); do
  docker image inspect "$image" >/dev/null 2>&1 || missing+=("$image")
done
cleanup() {
  if [ "${#missing[@]}" -gt 0 ] && [ -z "${DS01_KEEP_FIXTURES:-}" ]; then
    docker image rm "${missing[@]}" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
scripts/fixture-images.sh

# The CLI and security tests run the `ds01` and `ds01d` binaries; cargo builds a package's
# binaries only for that package's own tests, so build them all first.
cargo build --workspace --all-features --bins
cargo test --workspace --all-features "$@"
