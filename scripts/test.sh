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
# The ds01d instances under test install the firewall chains of the users' bridges
# (DS01-INPUT, DS01-OUTPUT); a run that found none removes them again.
chains_before=$(iptables -w -S DS01-INPUT 2>/dev/null | head -1 || true)
remove_chains() {
  local tool
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null 2>&1 || continue
    while "$tool" -w -D INPUT -i ds01-+ -j DS01-INPUT 2>/dev/null; do :; done
    while "$tool" -w -D OUTPUT -o ds01-+ -j DS01-OUTPUT 2>/dev/null; do :; done
    for chain in DS01-INPUT DS01-OUTPUT; do
      "$tool" -w -F "$chain" 2>/dev/null && "$tool" -w -X "$chain" 2>/dev/null
    done
  done
  return 0
}
cleanup() {
  if [ "${#missing[@]}" -gt 0 ] && [ -z "${DS01_KEEP_FIXTURES:-}" ]; then
    docker image rm "${missing[@]}" >/dev/null 2>&1 || true
  fi
  [ -n "$chains_before" ] || remove_chains
}
trap cleanup EXIT
scripts/fixture-images.sh

# The CLI and security tests run the `ds01` and `ds01d` binaries; cargo builds a package's
# binaries only for that package's own tests, so build them all first.
cargo build --workspace --all-features --bins
cargo test --workspace --all-features "$@"
