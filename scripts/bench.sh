#!/usr/bin/env bash
# Measures ds01 the way users run it (`ds01` as an unprivileged user -> socket -> ds01d ->
# engine) side by side with the docker CLI doing the same work, in one run, with hyperfine,
# and rewrites docs/performance.md (scripts/bench_report.py renders it).
#
# Everything it makes is throwaway and removed on exit, failure included: accounts
# (ds01b-*), a ds01d on a socket in a temporary directory with its own state directory,
# containers and images (all carry ds01.test=<run tag>, or the hand-made sequence's names).
# Needs root, the engine (scripts/ensure-engine.sh) and the fixture images
# (scripts/fixture-images.sh). 5 to 10 minutes on 2 cores once those and the release build exist
# (the usage ledger's steps, scripts/bench_ledger.sh, take about 3 of them).
#
# It also measures create-to-running through Slurm: a throwaway three-node cluster on this
# machine (scripts/slurm-cluster.sh up, under the work directory; taken down on exit, failure
# included) and a second ds01d in cluster mode. Only one such cluster can run on a machine.
# DS01_BENCH_ONLY=cluster runs that part alone (a few minutes) and rewrites only its section
# of the output.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=${1:-docs/performance.md}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it creates throwaway accounts)" >&2; exit 1; }
only=${DS01_BENCH_ONLY:-}
case $only in "" | cluster) ;; *) echo "bench: DS01_BENCH_ONLY is empty or cluster" >&2; exit 2 ;; esac

tag="bench-$$"
work=$(mktemp -d /tmp/ds01-bench.XXXXXX)
chmod 0755 "$work" # the throwaway users reach the socket inside it
users=()
daemon_pid=
cluster_pid=
cluster_up=
base=ds01-fixture/debian11:latest
ldap_uid=1722830498
ldap_gid=1722800513
ldap_login="ds01b-$$.ldap@bench.lan"

cleanup() {
    set +e
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null && wait "$cluster_pid" 2>/dev/null
    # Cancels the jobs and stops what `up` started, by the PIDs it recorded.
    [ -n "$cluster_up" ] && scripts/slurm-cluster.sh down "$work/cluster" >/dev/null 2>&1
    docker ps -aq --filter "label=ds01.test=$tag" | xargs -r docker rm -f >/dev/null 2>&1
    docker rm -f "hand-$tag" "hand-$tag-final" >/dev/null 2>&1
    docker images -q --filter "label=ds01.test=$tag" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    docker volume ls -q --filter "label=ds01.test=$tag" | xargs -r docker volume rm -f >/dev/null 2>&1
    docker network ls -q --filter "label=ds01.test=$tag" | xargs -r docker network rm >/dev/null 2>&1
    docker rmi "hand-$tag:latest" >/dev/null 2>&1
    for u in "${users[@]}"; do
        docker images --format '{{.Repository}}:{{.Tag}}' "ds01-$(id -u "$u")/*" 2>/dev/null |
            xargs -r docker rmi -f >/dev/null 2>&1
        pkill -KILL -u "$u" 2>/dev/null
        userdel -r "$u" >/dev/null 2>&1
        groupdel "$u" >/dev/null 2>&1
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/ensure-engine.sh
# What else the machine was doing, before this run adds its own load.
cut -d" " -f1-3 /proc/loadavg >"$work/load_start"
scripts/fixture-images.sh >/dev/null
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine >/dev/null
# DS01_BENCH_BIN: a directory holding ds01, ds01d and examples/context_size already built
# (to measure another revision); otherwise this checkout is built.
if [ -z "${DS01_BENCH_BIN:-}" ]; then
    echo "bench: building release binaries" >&2
    cargo build -q --release -p ds01-cli -p ds01-daemon
    cargo build -q --release -p ds01-tests --example context_size
fi
bin=${DS01_BENCH_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release}
ds01=$bin/ds01

add_user() { # login uid gid
    groupadd -g "$3" "$1"
    users+=("$1")
    useradd --badname --no-log-init --create-home -u "$2" -g "$3" -s /bin/bash "$1"
}
# A command line running ds01 as `login` against the bench daemon, as TestUser does.
as_user() { # login
    local uid gid
    uid=$(id -u "$1")
    gid=$(id -g "$1")
    echo "setpriv --reuid=$uid --regid=$gid --init-groups -- env -i HOME=/home/$1 USER=$1 DS01_SOCKET=$work/ds01.sock NO_COLOR=1 $ds01"
}

# The docker CLI as `login`, through ds01d's Docker-API socket.
docker_as() { # login
    local uid gid
    uid=$(id -u "$1")
    gid=$(id -g "$1")
    echo "setpriv --reuid=$uid --regid=$gid --init-groups -- env -i HOME=/home/$1 PATH=/usr/bin:/bin DOCKER_HOST=unix://$work/docker.sock docker"
}

echo "bench: throwaway accounts and a ds01d on $work/ds01.sock" >&2
getent passwd "$ldap_uid" >/dev/null && { echo "bench: UID $ldap_uid is taken" >&2; exit 1; }
add_user "$ldap_login" "$ldap_uid" "$ldap_gid"
n=20
[ "$only" = cluster ] && n=0 # the cluster part needs the LDAP-style user alone
for i in $(seq 1 $n); do
    uid=$((64100 + $$ % 400 + i))
    getent passwd "$uid" >/dev/null && { echo "bench: UID $uid is taken" >&2; exit 1; }
    add_user "ds01b-$$-$i" "$uid" "$uid"
done
hard=$(awk '/Max locked memory/ {print $5}' /proc/self/limits)
# Top-level keys, then tables: the cluster's config adds its tables between the two.
config_top=$(
    [ "$hard" != unlimited ] && echo "memlock = \"$((hard / 1024))k\""
    echo 'reap = "labelled"' # other ds01d instances may share this engine
)
config_labels=$(printf '[labels]\n"ds01.test" = "%s"' "$tag")
printf '%s\n\n%s\n' "$config_top" "$config_labels" >"$work/config.toml"
# Starts a ds01d, its PID in the variable named first (for cleanup, before any wait).
start_ds01d() { # pid-variable socket config state-dir docker-socket log
    DS01D_LOG=${DS01_BENCH_LOG:-warn} "$bin/ds01d" --socket "$2" --config "$3" \
        --state-dir "$4" --docker-socket "$5" >"$6" 2>&1 &
    printf -v "$1" %s $!
    for _ in $(seq 200); do [ -S "$2" ] && break; sleep 0.05; done
    [ -S "$2" ] || { cat "$6" >&2; exit 1; }
}
start_ds01d daemon_pid "$work/ds01.sock" "$work/config.toml" "$work/state" "$work/docker.sock" "$work/ds01d.log"
sleep 1
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$daemon_pid/status"; }
rss_idle_start=$(rss VmRSS)
u1=ds01b-$$-1
# The image a user's creates use: user 1's built one, the others' from their commit flows.
image_of() { # login
    if [ "$1" = "$u1" ]; then echo "$u1_image"; else echo "$base" | sed "s/:latest\$/:seed._.$(id -u "$1")/"; fi
}

H="hyperfine -N --style basic --export-json"
# Undoes a ds01 create completely (container, its own image tag, its home volume, its
# workspace), so that each timed create is a first one: login name -> commands.
undo_create() {
    local uid home
    uid=$(id -u "$1")
    home=$(getent passwd "$1" | cut -d: -f6)
    echo "docker rm -f $2._.$uid >/dev/null 2>&1;" \
        "docker rmi $(image_of "$1" | sed 's/:[^:]*$//'):$2._.$uid >/dev/null 2>&1;" \
        "docker volume rm ds01-home-$2._.$uid >/dev/null 2>&1;" \
        "rm -rf $home/workspace/$2"
}
r() { echo "$work/$1.json"; }

# facts.env (KEY=VALUE lines) is written: renders the output.
report() {
    # DS01_BENCH_KEEP: a directory to keep the raw hyperfine results in.
    if [ -n "${DS01_BENCH_KEEP:-}" ]; then
        mkdir -p "$DS01_BENCH_KEEP"
        cp "$work"/*.json "$work/cluster_phases.txt" "$work/facts.env" "$DS01_BENCH_KEEP/"
    fi
    python3 scripts/bench_report.py "$work" "$out"
}

# Create to running, on one server and through Slurm: the same `ds01 container create` of the
# same image by the same user (the LDAP-style one, whose account is not in the image), CPU
# only. On one server --start makes it return once the engine has started the container. A
# cluster create returns once the job is submitted, so its timed command goes on to wait for
# Slurm's `running` in the user's list and then for the container's process on its node.
cluster_bench() {
    local cdir=$work/cluster uid slurm_conf
    uid=$(id -u "$ldap_login")
    # `slurm-cluster.sh down` stops the job steps of the fixed node names: it must never run
    # over somebody else's cluster. tests/cluster.rs takes the same machine-wide lock for as
    # long as its clusters run; this one is held until the bench exits.
    exec 9>>/tmp/ds01-slurm.lock
    echo "bench: waiting for the machine's Slurm cluster lock" >&2
    flock 9
    if [ -e /run/netns/ds01-slurm-n3 ]; then
        echo "bench: another scripts/slurm-cluster.sh cluster runs on this machine" >&2
        exit 1
    fi
    echo "bench: a three-node Slurm cluster, and a ds01d in cluster mode on $work/cluster.sock" >&2
    cluster_up=1 # a failed `up` is undone by `down` too
    scripts/slurm-cluster.sh up "$cdir" >"$work/cluster-up.log" 2>&1 ||
        { cat "$work/cluster-up.log" >&2; exit 1; }
    slurm_conf=$(scripts/slurm-cluster.sh env "$cdir" | sed -n 's/^export SLURM_CONF=//p')
    cat >"$work/cluster.toml" <<EOT
$config_top

[cluster]
backend = "slurm"
slurm_conf = "$slurm_conf"
bundles = "$cdir/bundles"
partition = "gpu"

[policy.default]
max_containers = 5
memory = "200m"
cpus = 1
max_runtime = "1h"

$config_labels
EOT
    start_ds01d cluster_pid "$work/cluster.sock" "$work/cluster.toml" "$work/cluster-state" \
        "$work/cluster-docker.sock" "$work/cluster-ds01d.log"
    local on_cluster
    on_cluster=$(as_user "$ldap_login" | sed "s|DS01_SOCKET=[^ ]*|DS01_SOCKET=$work/cluster.sock|")
    # The timed command. Its own timestamps (start, create returned, listed as running,
    # process seen) go to cluster_phases.txt, one line a run, warm-up included.
    cat >"$work/cluster-create.sh" <<EOT
set -u
err=$work/cluster.err
t0=\$(date +%s.%N)
$on_cluster -q container create k --image $base 2>>\$err >/dev/null || exit 1
t1=\$(date +%s.%N)
# Slurm's job state, as the user reads it.
until $on_cluster container list --json 2>>\$err | jq -e 'select(.name == "k" and .state == "running")' >/dev/null; do
    [ \$SECONDS -lt 60 ] || { echo "k not running after 60 s: \$($on_cluster container list --json 2>&1)" >>\$err; exit 1; }
    sleep 0.05
done
t2=\$(date +%s.%N)
# The step's container: sleep infinity as the user's UID (container root), in a job
# step's cgroup; the prepare step waited until none of the user's processes were left.
stepped() {
    local p
    for p in \$(pgrep -u $uid -x sleep); do grep -q slurm /proc/\$p/cgroup 2>/dev/null && return 0; done
    return 1
}
until stepped; do
    [ \$SECONDS -lt 60 ] || { echo "no container process of k's after 60 s: \$($on_cluster why k 2>&1)" >>\$err; exit 1; }
    sleep 0.01
done
t3=\$(date +%s.%N)
echo "\$t0 \$t1 \$t2 \$t3" >>$work/cluster_phases.txt
EOT
    # Untimed, before each run: both containers gone, and every process of the user ended
    # (a cancelled job's step ends after scancel returns; the next run must not see it).
    cat >"$work/cluster-undo.sh" <<EOT
$on_cluster -q container remove --force k >/dev/null 2>&1
$(undo_create "$ldap_login" s)
for _ in \$(seq 600); do pgrep -u $uid >/dev/null || exit 0; sleep 0.1; done
echo "processes of UID $uid still run after 60 s" >&2
exit 1
EOT
    echo "bench: create to running, one server vs through Slurm" >&2
    $H "$(r cluster)" --warmup 1 --runs 10 \
        --prepare "sh -c '$(undo_create "$ldap_login" s); true'" \
        -n "ds01 container create --start (one server)" \
        "$(as_user "$ldap_login") -q container create s --image $base --start" \
        --prepare "bash $work/cluster-undo.sh" \
        -n "ds01 container create, until running (Slurm)" \
        "bash $work/cluster-create.sh" ||
        { cat "$work/cluster.err" >&2 2>/dev/null; exit 1; }
    bash "$work/cluster-undo.sh"
    { kill "$cluster_pid"; wait "$cluster_pid"; } 2>/dev/null || true
    cluster_pid=
    scripts/slurm-cluster.sh down "$cdir" >/dev/null
    cluster_up=
}
if [ "$only" = cluster ]; then
    cluster_bench
    printf 'only=cluster\nldap_uid=%s\n' "$ldap_uid" >"$work/facts.env"
    report
    exit 0
fi

# Every user needs an image with their account baked in. One `ds01 image create` is timed
# separately; a classic-builder build costs tens of seconds here, so the 19 other users get
# theirs from ds01's commit flow, whose committed image carries the account and its labels.
echo "bench: user 1 builds an image with the account baked in (ds01 image create)" >&2
uid1=$(id -u "$u1")
build_start=$(date +%s.%N)
$(as_user "$u1") -q image create base --base $base --no-jupyter
build_s=$(echo "$(date +%s.%N) - $build_start" | bc)
u1_image="ds01-$uid1/base:latest"
echo "bench: the other users get theirs from the commit flow" >&2
seed() { $(as_user "$1") -q container create seed --image $base >>"$work/seed.err" 2>&1 || true; }
others=("${users[@]:2}")
for ((i = 0; i < ${#others[@]}; i += 2)); do
    seed "${others[i]}" &
    pair=$!
    [ $((i + 1)) -lt ${#others[@]} ] && seed "${others[i + 1]}"
    wait $pair # not a bare `wait`: ds01d is a child too
done
for u in "${others[@]}"; do
    docker rm -f "seed._.$(id -u "$u")" >/dev/null 2>&1 ||
        { echo "bench: the commit flow for $u failed:" >&2; cat "$work/seed.err" >&2; exit 1; }
done

echo "bench: baked create, ds01 vs docker create" >&2
$H "$(r baked)" --warmup 2 --runs 31 \
    --prepare "sh -c '$(undo_create "$u1" b); true'" -n "ds01 container create (baked)" \
    "$(as_user "$u1") -q container create b --image $u1_image" \
    --prepare "docker rm -f bare-$tag" -n "docker create" \
    "docker create --name bare-$tag --label ds01.test=$tag $u1_image"
sh -c "$(undo_create "$u1" b)"
docker rm -f "bare-$tag" >/dev/null

echo "bench: commit flow at UID $ldap_uid on $base, ds01 vs the hand-made sequence" >&2
user_name=$("$ds01" username sanitize "$ldap_login")
cat >"$work/hand.sh" <<EOF
set -e
docker run --name hand-$tag --label ds01.test=$tag --network none -u 0:0 $base sh -c '
groupadd -g $ldap_gid $user_name && useradd --no-log-init -m -u $ldap_uid -g $ldap_gid -s /bin/bash $user_name &&
: > /var/log/lastlog && : > /var/log/faillog' >/dev/null
docker commit hand-$tag hand-$tag:latest >/dev/null
docker rm hand-$tag >/dev/null
docker create --name hand-$tag-final --label ds01.test=$tag hand-$tag:latest >/dev/null
EOF
$H "$(r commit)" --warmup 1 --runs 7 \
    --prepare "sh -c '$(undo_create "$ldap_login" c); true'" \
    -n "ds01 container create (commit flow)" \
    "$(as_user "$ldap_login") -q container create c --image $base" \
    --prepare "sh -c 'docker rm -f hand-$tag hand-$tag-final >/dev/null 2>&1; docker rmi hand-$tag:latest >/dev/null 2>&1; true'" \
    -n "docker run useradd + commit + rm + create" \
    "sh $work/hand.sh"
sh -c "$(undo_create "$ldap_login" c)"
docker rm -f "hand-$tag" "hand-$tag-final" >/dev/null 2>&1 || true
docker rmi "hand-$tag:latest" >/dev/null 2>&1 || true

echo "bench: image update of an unchanged spec" >&2
$H "$(r update)" --warmup 2 --runs 21 -n "ds01 image update (unchanged)" \
    "$(as_user "$u1") -q image update base"

echo "bench: 20 users create at once, ds01 vs docker create" >&2
{
    for u in "${users[@]:1}"; do echo "$(as_user "$u") -q container create p --image $(image_of "$u") &"; done
    echo wait
} >"$work/par-ds01.sh"
{
    for u in "${users[@]:1}"; do echo "docker create --name p-$tag-$(id -u "$u") --label ds01.test=$tag $(image_of "$u") >/dev/null &"; done
    echo wait
} >"$work/par-docker.sh"
{
    for u in "${users[@]:1}"; do echo "{ $(undo_create "$u" p); docker rm -f p-$tag-$(id -u "$u") >/dev/null 2>&1; } &"; done
    echo wait
} >"$work/par-clean.sh"
sh "$work/par-clean.sh"
rss_idle=$(rss VmRSS)
echo 5 >"/proc/$daemon_pid/clear_refs" # resets VmHWM: the peak below is this run's
$H "$(r parallel)" --warmup 1 --runs 7 \
    --prepare "sh $work/par-clean.sh" -n "20 users: ds01 container create (baked)" "sh $work/par-ds01.sh" \
    --prepare "sh $work/par-clean.sh" -n "20 x docker create" "sh $work/par-docker.sh"
rss_peak=$(rss VmHWM)
sh "$work/par-clean.sh"

echo "bench: docker create through ds01d's Docker-API socket vs the engine's own socket" >&2
$H "$(r docker_create)" --warmup 2 --runs 21 \
    --prepare "sh -c '$(undo_create "$u1" dc); true'" -n "docker create through ds01d (baked)" \
    "$(docker_as "$u1") create --name dc $u1_image true" \
    --prepare "docker rm -f dc-$tag" -n "docker create (engine socket)" \
    "docker create --name dc-$tag --label ds01.test=$tag $u1_image true"
sh -c "$(undo_create "$u1" dc)"
docker rm -f "dc-$tag" >/dev/null

echo "bench: container list and image list" >&2
seq 1 200 | xargs -P 4 -I{} docker create --name "l{}._.$uid1" --label "ds01.test=$tag" \
    --label ds01.managed=true "$u1_image" >/dev/null
for i in $(seq 2 100); do docker tag "$u1_image" "ds01-$uid1/i$i:latest"; done
$H "$(r list)" --warmup 2 --runs 21 \
    -n "ds01 container list (200)" "$(as_user "$u1") -q container list" \
    -n "docker ps -a --filter label=" "docker ps -a --filter label=ds01.test=$tag" \
    -n "ds01 image list (100)" "$(as_user "$u1") -q image list" \
    -n "docker images ds01-<uid>/*" "docker images ds01-$uid1/*"
rss_after=$(rss VmRSS)

echo "bench: docker ps -a through ds01d's Docker-API socket vs the engine's own socket" >&2
$H "$(r docker_ps)" --warmup 2 --runs 21 \
    -n "docker ps -a through ds01d (200)" "$(docker_as "$u1") ps -a" \
    -n "docker ps -a (engine socket)" "docker ps -a"

cluster_bench

echo "bench: username mapping and CLI start-up" >&2
python3 - "$work/names.txt" <<'PY'
import json, sys
rows = [json.loads(l)["input"] for l in open("crates/ds01-username/tests/fixtures/usernames.jsonl")]
names = [r.replace("\n", " ").replace("\r", " ") for r in rows]
with open(sys.argv[1], "w") as f:
    for i in range(100_000):
        f.write(names[i % len(names)] + "\n")
PY
# Through a shell for the redirection (this hyperfine has no --input); it subtracts the
# shell's own start-up. -i: some golden inputs have no valid name, and the status says so.
hyperfine -i --style basic --export-json "$(r cli)" --warmup 3 --runs 21 \
    -n "ds01 -q username sanitize (100,000 names)" "$ds01 -q username sanitize <$work/names.txt" \
    -n "ds01 -q username sanitize --json (100,000 names)" "$ds01 -q username sanitize --json <$work/names.txt"
$H "$(r startup)" --warmup 3 --runs 31 -n "ds01 --version" "$ds01 --version" \
    -n "ds01 username sanitize h.baker@hertie-school.lan" "$ds01 username sanitize h.baker@hertie-school.lan"

mkdir -p "$work/workspace/src" "$work/workspace/data"
head -c $((40 << 20)) /dev/urandom >"$work/workspace/data/train.parquet"
head -c $((20 << 20)) /dev/urandom >"$work/workspace/model.ckpt"
for i in $(seq 2000); do printf 'import torch\nprint(%d)\n' "$i" >"$work/workspace/src/m$i.py"; done
read -r ctx_bytes ctx_us < <("$bin/examples/context_size")

# The usage ledger's cost (a reaper round over 200 containers, a month of ledger for 50
# users): printed, with the path each figure measures.
scripts/bench_ledger.sh "$bin"

cat >"$work/facts.env" <<EOF
rss_idle_start=$rss_idle_start
build_s=$build_s
rss_idle=$rss_idle
rss_peak=$rss_peak
rss_after=$rss_after
ctx_bytes=$ctx_bytes
ctx_us=$ctx_us
ldap_uid=$ldap_uid
EOF
report

