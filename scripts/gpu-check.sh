#!/usr/bin/env bash
# The GPU machine check (not part of CI: CI machines have no GPU). On a host with NVIDIA
# GPUs, the driver and the NVIDIA container runtime, it builds ds01d with NVML support,
# starts it on a throwaway socket without an inventory file (so NVML finds the devices at
# run time), and as root acting for a throwaway user: lists the GPUs ds01d found, creates a
# container with one GPU, runs nvidia-smi in it (it must see exactly that device), and
# removes everything again.
#
#   scripts/gpu-check.sh            needs: nvidia-smi on the host, Docker with --gpus support
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU or driver on this host; nothing to check" >&2
  exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "gpu-check: run as root" >&2; exit 2; }

scripts/fixture-images.sh
cargo build --release -p ds01-cli
cargo build --release -p ds01-daemon --features nvml

work=$(mktemp -d)
user="ds01gpu$$"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  for id in $(docker ps -aq --filter "label=ds01.gpucheck=$$"); do docker rm -f "$id" >/dev/null; done
  for id in $(docker images -q --filter "label=ds01.gpucheck=$$" | sort -u); do docker rmi -f "$id" >/dev/null || true; done
  userdel --remove "$user" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

useradd -m "$user"
printf '[labels]\n"ds01.gpucheck" = "%s"\n' "$$" >"$work/config.toml"
target/release/ds01d --socket "$work/ds01.sock" --config "$work/config.toml" --state-dir "$work/state" 2>"$work/ds01d.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$work/ds01.sock" ] && break; sleep 0.1; done
export DS01_SOCKET="$work/ds01.sock"

echo "== GPUs found by NVML"
target/release/ds01 admin gpus
echo "== a container with one GPU"
created=$(target/release/ds01 --as "$user" container create gpucheck --image ds01-fixture/debian12:latest --gpus 1 --start --json)
echo "$created"
uuid=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gpus"][0])')
seen=$(docker exec "gpucheck._.$(id -u "$user")" nvidia-smi -L)
echo "$seen"
count=$(printf '%s\n' "$seen" | grep -c UUID)
[ "$count" -eq 1 ] || { echo "gpu-check: the container sees $count devices, not 1" >&2; exit 1; }
printf '%s' "$seen" | grep -q "$uuid" || { echo "gpu-check: the container does not see $uuid" >&2; exit 1; }
echo "gpu-check: ok ($uuid)"
