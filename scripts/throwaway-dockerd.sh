#!/usr/bin/env bash
# A second, throwaway Docker daemon for fault tests: its own socket, data root and exec root
# under DIR, no iptables, no bridge, its own managed containerd. The machine's own daemon
# (/var/run/docker.sock, /var/lib/docker) is never touched.
#
#   scripts/throwaway-dockerd.sh start DIR [SIZE]   start it (data root on a tmpfs of SIZE, e.g. 600m)
#   scripts/throwaway-dockerd.sh kill DIR           SIGKILL it and its containerd (a crash)
#   scripts/throwaway-dockerd.sh restart DIR        start it again on the same data root
#   scripts/throwaway-dockerd.sh stop DIR           stop it and remove DIR entirely
#   scripts/throwaway-dockerd.sh host DIR           print its DOCKER_HOST
#
# `start` prints the DOCKER_HOST to use. Processes are killed by the PIDs recorded in DIR,
# never by name.
set -euo pipefail

usage() { sed -n '2,13p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
size=${3:-}

host() { echo "unix://$dir/run/docker.sock"; }

# The storage driver: fuse-overlayfs works in sandboxes where overlay does not; vfs always works.
driver() {
  if [ -n "${DS01_FAULT_DRIVER:-}" ]; then echo "$DS01_FAULT_DRIVER"
  elif command -v fuse-overlayfs >/dev/null && [ -e /dev/fuse ]; then echo fuse-overlayfs
  else echo vfs; fi
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# The containerd that dockerd started under its exec root (its PID file).
containerd_pid() { cat "$dir/exec/containerd/containerd.pid" 2>/dev/null || true; }
dockerd_pid() { cat "$dir/dockerd.pid" 2>/dev/null || true; }

launch() {
  mkdir -p "$dir/run" "$dir/exec" "$dir/data"
  # Leftovers of a crash: a stale socket or PID file makes dockerd refuse to start.
  rm -f "$dir/run/docker.sock" "$dir/dockerd.pid"
  # Its own (empty) config file: the machine's /etc/docker/daemon.json names the main
  # daemon's data root, which dockerd would refuse next to --data-root.
  echo '{}' >"$dir/daemon.json"
  # In a network namespace of its own: a second daemon in the host's namespace tears down
  # the host's docker0 bridge at start-up, cutting the machine's own daemon off its network.
  setsid unshare --net -- /usr/sbin/dockerd \
    --config-file "$dir/daemon.json" \
    --host "$(host)" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" \
    --storage-driver "$(driver)" \
    --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    --userland-proxy=false \
    >>"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$dir/dockerd.launched"
  for _ in $(seq 120); do
    if docker -H "$(host)" info >/dev/null 2>&1; then
      host
      return 0
    fi
    if ! pid_alive "$(cat "$dir/dockerd.launched")"; then break; fi
    sleep 0.5
  done
  echo "throwaway-dockerd: the daemon did not come up; last lines of $dir/dockerd.log:" >&2
  tail -25 "$dir/dockerd.log" >&2 || true
  return 1
}

# Helpers of this daemon that outlive it: container shims (their -address lies in our exec
# root) and fuse-overlayfs mounts (their layers lie in our data root). Matched by our own
# unique directory, never by program name alone.
helpers() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    case $cmd in
      *containerd-shim*"$dir/exec/"* | fuse-overlayfs*"$dir/data/"*) echo "${p#/proc/}" ;;
    esac
  done
}

kill_all() {
  local d c
  d=$(cat "$dir/dockerd.launched" 2>/dev/null || true)
  c=$(containerd_pid)
  if pid_alive "$d"; then kill -KILL "$d" 2>/dev/null || true; fi
  if pid_alive "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
  for _ in $(seq 50); do
    if ! pid_alive "$d" && ! pid_alive "$c"; then return 0; fi
    sleep 0.1
  done
  echo "throwaway-dockerd: dockerd $d or containerd $c survived SIGKILL" >&2
  return 1
}

kill_helpers() {
  local p
  for p in $(helpers); do kill -KILL "$p" 2>/dev/null || true; done
}

unmount_under() {
  # Deepest first, and only mounts below DIR.
  local m
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

case $cmd in
  start)
    mkdir -p "$dir"
    if [ -n "$size" ]; then
      mkdir -p "$dir/data"
      mount -t tmpfs -o "size=$size" ds01-fault "$dir/data"
    fi
    launch
    ;;
  restart) launch ;;
  kill) kill_all ;;
  stop)
    d=$(cat "$dir/dockerd.launched" 2>/dev/null || true)
    if pid_alive "$d"; then
      kill -TERM "$d" 2>/dev/null || true
      for _ in $(seq 100); do pid_alive "$d" || break; sleep 0.1; done
    fi
    kill_all || true
    kill_helpers
    unmount_under
    if [ -d "$dir/data" ] && mountpoint -q "$dir/data"; then umount -l "$dir/data" || true; fi
    rm -rf "$dir"
    ;;
  host) host ;;
  *) usage ;;
esac
