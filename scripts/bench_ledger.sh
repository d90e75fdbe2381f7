#!/usr/bin/env bash
# What the usage ledger costs, in two figures, each printed with the path it measures:
#
#  1. A reaper round over 200 running containers (`sleep infinity` from a fixture image,
#     16 MiB each, 50 owners, all under an idle timeout): ds01d's own
#     ds01_reaper_round_duration_seconds, read from its metrics listener, over steady rounds
#     (every container already known), and ds01d's RSS holding them.
#  2. ds01d's memory and answer times with a month of ledger for 50 users (synthetic files:
#     2 containers each, a record per container and hour, as `record_every = "1h"` writes
#     them): RSS at rest, then the peak (VmHWM) over `ds01 admin report` and
#     `ds01 admin usage --by container`, as root through the socket.
#
# Called by scripts/bench.sh with its binaries' directory; alone:
#   scripts/bench_ledger.sh [BIN_DIR]     (default target/release, built if missing)
# Needs root, the engine and the fixture images. Everything it makes carries
# ds01.test=<its tag> or lives in its temporary directory, and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-ledger: run as root" >&2; exit 1; }
bin=${1:-${CARGO_TARGET_DIR:-$PWD/target}/release}
if [ ! -x "$bin/ds01d" ] || [ ! -x "$bin/ds01" ]; then
    echo "bench-ledger: building release binaries" >&2
    cargo build -q --release -p ds01-cli -p ds01-daemon
fi
image=ds01-fixture/debian12:latest
tag="bench-ledger-$$"
work=$(mktemp -d /tmp/ds01-bench-ledger.XXXXXX)
pids=()

cleanup() {
    set +e
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    docker ps -aq --filter "label=ds01.test=$tag" | xargs -r docker rm -f >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
docker image inspect "$image" >/dev/null

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts a ds01d with config "$1/config.toml" and state "$1/state"; its PID in $daemon.
start_daemon() {
    DS01D_LOG=warn "$bin/ds01d" --socket "$1/ds01.sock" --config "$1/config.toml" \
        --state-dir "$1/state" >"$1/ds01d.log" 2>&1 &
    daemon=$!
    pids+=("$daemon")
    for _ in $(seq 200); do [ -S "$1/ds01.sock" ] && return; sleep 0.05; done
    cat "$1/ds01d.log" >&2
    exit 1
}
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }
metric() { # address name: the sample's value
    curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}

# --- 1. A reaper round over 200 running containers -------------------------------------
round_dir=$work/round
mkdir -p "$round_dir"
port=$(free_port)
interval=15
cat >"$round_dir/config.toml" <<EOF
reap = "labelled"
[lifecycle]
check_interval = "${interval}s"
[policy.default]
idle_timeout = "1h"
[metrics]
listen = "127.0.0.1:$port"
[labels]
"ds01.test" = "$tag"
EOF
echo "bench-ledger: starting 200 containers (sleep infinity)" >&2
seq 0 199 | xargs -P 4 -I{} sh -c \
    "docker run -d --name 'l{}._.'\$((64800 + {} % 50)) --label ds01.user=bench\$(({} % 50)) \
        --label ds01.test=$tag --memory 16m $image sleep infinity >/dev/null"
start_daemon "$round_dir"
address=127.0.0.1:$port
wait_rounds() { # count: until ds01d has ended that many rounds in all
    while [ "$(metric "$address" 'ds01_reaper_round_duration_seconds_count' || echo 0)" -lt "$1" ]; do
        sleep 1
    done
}
echo "bench-ledger: waiting for 2 rounds (the first one meets every container)" >&2
wait_rounds 2
sum1=$(metric "$address" ds01_reaper_round_duration_seconds_sum)
count1=$(metric "$address" ds01_reaper_round_duration_seconds_count)
echo "bench-ledger: 4 steady rounds of ${interval} s" >&2
wait_rounds $((count1 + 4))
sum2=$(metric "$address" ds01_reaper_round_duration_seconds_sum)
count2=$(metric "$address" ds01_reaper_round_duration_seconds_count)
round_ms=$(echo "scale=1; ($sum2 - $sum1) * 1000 / ($count2 - $count1)" | bc)
per_ms=$(printf '%.2f' "$(echo "scale=3; $round_ms / 200" | bc)")
round_rss=$(kib "$daemon" VmRSS)
open_kib=$(($(stat -c %s "$round_dir/state/ledger/open.json") / 1024))
kill "$daemon"; wait "$daemon" 2>/dev/null || true
docker ps -aq --filter "label=ds01.test=$tag" | xargs -r docker rm -f >/dev/null

# --- 2. A month of ledger for 50 users -------------------------------------------------
month_dir=$work/month
mkdir -p "$month_dir/state/ledger"
chmod 700 "$month_dir/state" "$month_dir/state/ledger"
month=$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)
python3 - "$month_dir/state/ledger/$month.jsonl" "$month" <<'PY'
import calendar, datetime, json, sys
path, month = sys.argv[1], sys.argv[2]
year, mon = map(int, month.split("-"))
start = int(datetime.datetime(year, mon, 1, tzinfo=datetime.timezone.utc).timestamp()) * 1000
hours = calendar.monthrange(year, mon)[1] * 24
with open(path, "w") as f:
    for h in range(hours):
        for user in range(50):
            for c in range(2):
                uid = 64800 + user
                f.write(json.dumps({
                    "v": 1, "start_ms": start + h * 3_600_000, "end_ms": start + (h + 1) * 3_600_000,
                    "container": f"c{c}._.{uid}", "id": f"{uid:08x}{c:056x}", "uid": uid,
                    "user": f"user{user}@bench.lan", "group": ["student", "researcher"][user % 2],
                    "gpus": [f"GPU-{user % 8}"], "gpu_equivalents": 1.0,
                    "gpu_seconds": 3600.0, "idle_gpu_seconds": 900.0 * (user % 3),
                    "cpu_seconds": 1234.5, "memory_byte_seconds": 3600.0 * 34359738368,
                    "gpu_util_percent_seconds": 0.0, "gpu_util_measured_seconds": 0.0,
                }, separators=(",", ":")) + "\n")
PY
chmod 600 "$month_dir/state/ledger/$month.jsonl"
lines=$(wc -l <"$month_dir/state/ledger/$month.jsonl")
ledger_mib=$(mib $(($(stat -c %s "$month_dir/state/ledger/$month.jsonl") / 1024)))
printf 'reap = "labelled"\n[labels]\n"ds01.test" = "%s"\n' "$tag" >"$month_dir/config.toml"
start_daemon "$month_dir"
sleep 2
rest_rss=$(kib "$daemon" VmRSS)
echo 5 >"/proc/$daemon/clear_refs"
as_admin() { DS01_SOCKET=$month_dir/ds01.sock NO_COLOR=1 "$bin/ds01" "$@"; }
timed() { # runs "$@" 3 times; the median wall time in ms
    local t=()
    for _ in 1 2 3; do
        local s e
        s=$(date +%s%N)
        "$@" >/dev/null
        e=$(date +%s%N)
        t+=($(((e - s) / 1000000)))
    done
    printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}
report_ms=$(timed as_admin admin report --month "$month" --no-webhook)
usage_ms=$(timed as_admin admin usage --by container --month "$month" --format csv)
rows=$(as_admin admin usage --by container --month "$month" --format csv | tail -n +2 | wc -l)
peak_rss=$(kib "$daemon" VmHWM)

cat <<EOF
ledger: reaper round over 200 running containers (ds01d's reaper round: one engine listing,
ledger: per container its cgroup's CPU counter and memory limit for the ledger and the idle
ledger: timer, the ledger's open.json and the timers saved; ds01d's own
ledger: ds01_reaper_round_duration_seconds over $((count2 - count1)) steady rounds):
ledger:   ${round_ms} ms per round, ${per_ms} ms per container; ds01d RSS $(mib "$round_rss") MiB; open.json ${open_kib} KiB
ledger: a month of ledger for 50 users ($lines records, ${ledger_mib} MiB, read by ds01d for
ledger: requests as root through the socket):
ledger:   ds01d RSS at rest $(mib "$rest_rss") MiB, peak over the requests $(mib "$peak_rss") MiB
ledger:   ds01 admin report --month $month: ${report_ms} ms; ds01 admin usage --by container: ${usage_ms} ms ($rows rows)
EOF
