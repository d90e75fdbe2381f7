#!/usr/bin/env bash
# A throwaway three-node Slurm cluster on this one machine, for ds01's cluster tests
# (tests/cluster.rs) and for trying ds01 against Slurm by hand. Everything lives under DIR.
#
#   scripts/slurm-cluster.sh up DIR     install what is missing (Debian), start the cluster
#   scripts/slurm-cluster.sh check DIR  a job on every node, GPUs, an OCI container, slurmrestd,
#                                       accounting (sacct, sshare)
#   scripts/slurm-cluster.sh user DIR LOGIN  give LOGIN an association (account ds01), which
#                                       fair-share needs; without one a job still runs
#   scripts/slurm-cluster.sh cut DIR    cut n3 off the network (Slurm marks it down)
#   scripts/slurm-cluster.sh mend DIR   connect n3 again and resume it
#   scripts/slurm-cluster.sh env DIR    print the clients' environment (`export K=V` lines)
#   scripts/slurm-cluster.sh down DIR   stop everything started, by PID; remove netns, veth, DIR
#
# The cluster: munged with a key of its own, slurmctld, slurmrestd (JWT, OpenAPI v0.0.38) on
# loopback, and three slurmd: n1 and n2 on 127.0.0.1 (Debian's Slurm runs several per host,
# `slurmd -N`), n3 in a network namespace of its own behind a veth pair, so that cutting its
# link is a real node loss. Accounting: slurmdbd on a MariaDB of the cluster's own (datadir,
# socket, pid file and TCP port under DIR and on loopback; a system MariaDB is left alone),
# priority/multifactor with fair-share counting GPU time (TRESBillingWeights) and decaying it
# with a half-life of minutes, so that tests see it act. Jobs of users without an association
# run as before (AccountingStorageEnforce unset); `user` adds one where fair-share is wanted. Each node has 2 fake GPUs (gres `gpu`): character devices under
# DIR/dev/NODE on an unused major, so a job's devices cgroup can allow or deny them (an allowed
# open fails with ENXIO, a denied one with EPERM); ds01's node runtime binds a node's own
# into its containers' /dev. `srun --container=DIR/oci/bundle` runs an
# OCI bundle under rootless runc as the job's user (container UID 0 = the user's UID).
# Only one cluster per machine: the namespace, the veth and the node names are fixed.
# Processes are stopped by the PIDs recorded in DIR (and the job steps by the nodes' cgroups),
# never by program name. Every wait is bounded. A failed `up` is undone by `down`.
set -euo pipefail

usage() { sed -n '2,30p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
login=${3:-}
case $cmd in user) [ $# -eq 3 ] || usage ;; *) [ $# -eq 2 ] || usage ;; esac
repo=$(cd "$(dirname "$0")/.." && pwd)
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac

# The veth names stay clear of `ds01-`: ds01d's firewall chains match interfaces `ds01-+`.
ns=ds01-slurm-n3             # n3's network namespace
host_veth=ds01sl-h           # the host's end of n3's link
node_veth=ds01sl-n3          # n3's end, inside the namespace
host_ip=10.217.93.1          # slurmctld as every node reaches it
n3_ip=10.217.93.3
ctld_port=16817
restd_port=16820
dbd_port=16821
db_port=16822
conf=$dir/etc/slurm.conf
export SLURM_CONF=$conf

say() { echo "slurm-cluster: $*" >&2; }
die() { say "$*"; exit 1; }
pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "$1" 2>/dev/null || true; }

# Debian packages the cluster runs on (the JWT plugin is slurmrestd's and slurmctld's
# alternative authentication; busybox-static fills the OCI bundle).
packages=(munge slurmctld slurmd slurm-client slurmrestd slurm-wlm-jwt-plugin runc jq busybox-static iproute2 curl
  slurmdbd mariadb-server)

install_missing() {
  local p missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  # Their packages' services (a system MariaDB, slurmdbd...) are not started by the install:
  # a policy-rc.d saying no, unless the host has one of its own.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && own_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { [ $own_policy -eq 0 ] || rm -f $policy; return 1; }
  [ $own_policy -eq 0 ] || rm -f $policy
}

# The node states as `NAME STATE` lines (STATE without the `*` of a node not responding).
states() { sinfo -h -N -o '%N %t' 2>/dev/null | tr -d '*' | sort -u; }

# rest USER PATH [CURL ARGS...]: GET PATH from slurmrestd as USER, with a JWT root mints.
rest() {
  local user=$1 path=$2 token; shift 2
  token=$(scontrol token username="$user" lifespan=60) || return 1
  curl -sf -H "X-SLURM-USER-NAME: $user" -H "X-SLURM-USER-TOKEN: ${token#SLURM_JWT=}" \
    "$@" "http://127.0.0.1:$restd_port$path"
}

# wait_for SECONDS TEST...: polls TEST once a second, at most SECONDS times.
wait_for() {
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 1; done
  return 1
}
all_idle() { [ "$(states | awk '$2 == "idle"' | wc -l)" -eq 3 ]; }

write_config() {
  local host; host=$(hostname -s)
  cat >"$conf" <<EOF
# Written by scripts/slurm-cluster.sh for a throwaway cluster in $dir.
ClusterName=ds01test
SlurmctldHost=$host($host_ip)
SlurmctldPort=$ctld_port
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$dir/state/jwt.key
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
# Backfill every 5 s (not 30): a job that fits beside a waiting one starts within seconds.
SchedulerParameters=bf_interval=5
GresTypes=gpu
# Each step's CPU time, read by sstat: what ds01d's reaper counts as activity (issue 22).
JobAcctGatherType=jobacct_gather/cgroup
JobAcctGatherFrequency=task=5
MpiDefault=none
# A node that answers again is back in service; a lost node's jobs end (NODE_FAIL), not requeued.
ReturnToService=2
JobRequeue=0
SlurmdTimeout=10
KillWait=5
MinJobAge=600
# Users see only their own jobs and usage, as ds01 shows them only their own containers.
PrivateData=jobs,usage
# Accounting in slurmdbd (sacct, sshare), GPUs counted as a TRES of their own. No
# AccountingStorageEnforce: a user without an association still runs jobs.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
# The munge socket for slurmdbd's connections (AuthInfo's is not used for them).
AccountingStoragePass=$dir/munge/munge.sock
AccountingStorageTRES=gres/gpu
# Fair-share decides the order of the waiting jobs. Its usage is GPU time (the partition's
# TRESBillingWeights), halved every 5 minutes and taken into the priorities every minute
# (Slurm's shortest period): a test sees it within a minute or two.
PriorityType=priority/multifactor
PriorityDecayHalfLife=5
PriorityCalcPeriod=1
PriorityWeightFairshare=100000
PriorityWeightAge=0
PriorityWeightJobSize=0
PriorityWeightPartition=0
PriorityWeightQOS=0
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=16818 CPUs=2 RealMemory=1000 Gres=gpu:2
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=16819 CPUs=2 RealMemory=1000 Gres=gpu:2
NodeName=n3 NodeHostname=$host NodeAddr=$n3_ip Port=16818 CPUs=2 RealMemory=1000 Gres=gpu:2
PartitionName=gpu Nodes=n1,n2,n3 Default=YES MaxTime=INFINITE State=UP TRESBillingWeights="GRES/gpu=1.0"
EOF
  # slurmdbd reads it from SLURM_CONF's directory; it holds the database's password.
  cat >"$dir/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=slurm
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
PrivateData=jobs,usage
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$(cat "$dir/mysql/slurm.pass")
StorageLoc=slurm_acct_db
EOF
  # Debian's Slurm has no NVML plugin: the GPUs are listed, as ds01d could from its inventory.
  cat >"$dir/etc/gres.conf" <<EOF
AutoDetect=off
NodeName=n1 Name=gpu File=$dir/dev/n1/gpu[0-1]
NodeName=n2 Name=gpu File=$dir/dev/n2/gpu[2-3]
NodeName=n3 Name=gpu File=$dir/dev/n3/gpu[4-5]
EOF
  cat >"$dir/etc/cgroup.conf" <<EOF
CgroupPlugin=autodetect
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainDevices=yes
EOF
  # srun --container: slurmstepd runs these as the job's user, %b being the step's copy of
  # the bundle. The state of each user's containers lies in a directory of the user's own;
  # container IDs leave the login out (runc refuses the `@` of an LDAP login).
  local runc_as="runc --rootless=true --root=$dir/oci/state/%u"
  cat >"$dir/etc/oci.conf" <<EOF
RunTimeRun="$dir/oci/ds01-oci-run $dir/oci/state/%u %b %n.%j.%s.%t '$dir/dev/%n/gpu*'"
RunTimeQuery="$runc_as state %n.%j.%s.%t"
RunTimeKill="$runc_as kill -a %n.%j.%s.%t"
RunTimeDelete="$runc_as delete --force %n.%j.%s.%t"
EOF
}

# The OCI side: a busybox root file system, a rootless runc spec, and ds01's node runtime
# (dist/slurm/ds01-oci-run), which maps container UID/GID 0 to the calling user's (rootless
# runc can map nothing else) and binds the GPU devices in.
write_oci() {
  local b=$dir/oci/bundle
  mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/tmp" "$b/rootfs/etc" "$dir/oci/state"
  chmod 1777 "$dir/oci/state"
  cp /bin/busybox "$b/rootfs/bin/busybox"
  local c
  for c in sh id cat ls sleep echo; do ln -sf busybox "$b/rootfs/bin/$c"; done
  (cd "$b" && rm -f config.json && runc spec --rootless)
  # No terminal (srun gives pipes); no /sys: a rootless runc cannot mount it here.
  jq '.process.terminal = false | del(.linux.uidMappings, .linux.gidMappings)
      | .mounts |= map(select(.destination != "/sys" and .destination != "/sys/fs/cgroup"))' \
    "$b/config.json" >"$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
  # ds01's node runtime, as a node would have it installed: container root mapped to the
  # calling user's UID, the node's GPU device files bound in.
  install -m 0755 "$repo/dist/slurm/ds01-oci-run" "$dir/oci/ds01-oci-run"
  chmod -R a+rX "$dir/oci/bundle"
}

# The cluster's own MariaDB: its datadir, socket and pid file under DIR/mysql, TCP on
# loopback at its own port (slurmdbd's MySQL client takes a host and port, not a socket),
# root reaching it by the socket only. Its PID is recorded like the daemons'.
db() { mariadb --no-defaults --socket="$dir/mysql/mysqld.sock" -u root "$@"; }
start_mariadb() {
  mkdir -p "$dir/mysql/data"
  chown -R mysql:mysql "$dir/mysql"
  chmod 700 "$dir/mysql"
  mariadb-install-db --no-defaults --user=mysql --datadir="$dir/mysql/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$dir/log/mariadb-install.log" 2>&1 ||
    die "mariadb-install-db failed (see $dir/log/mariadb-install.log)"
  (cd / && exec setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$dir/mysql/data" \
    --socket="$dir/mysql/mysqld.sock" --pid-file="$dir/mysql/mysqld.pid" \
    --bind-address=127.0.0.1 --port=$db_port --skip-name-resolve \
    --log-error="$dir/log/mariadb.log" --innodb-buffer-pool-size=32M) </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/run/mariadb.pid"
  wait_for 30 db -e 'select 1' >/dev/null 2>&1 || die "MariaDB did not start (see $dir/log/mariadb.log)"
  head -c 18 /dev/urandom | base64 | tr -d '+/=' >"$dir/mysql/slurm.pass"
  db -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$(cat "$dir/mysql/slurm.pass")';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
    die "cannot make MariaDB's user for slurmdbd"
}

start_slurmdbd() {
  /usr/sbin/slurmdbd
  # sacctmgr answers once slurmdbd has its tables; the cluster is added as slurmctld would.
  wait_for 30 timeout 5 sacctmgr -n list cluster format=cluster >/dev/null 2>&1 ||
    die "slurmdbd does not answer (see $dir/log/slurmdbd.log)"
  sacctmgr -i add cluster ds01test >/dev/null 2>&1 || true
  sacctmgr -i add account ds01 cluster=ds01test description=ds01 organization=ds01 >/dev/null ||
    die "sacctmgr cannot add the account ds01"
}

make_netns() {
  ip netns add "$ns"
  ip link add "$host_veth" type veth peer name "$node_veth"
  ip link set "$node_veth" netns "$ns"
  ip addr add "$host_ip/24" dev "$host_veth"
  ip link set "$host_veth" up
  ip -n "$ns" addr add "$n3_ip/24" dev "$node_veth"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$node_veth" up
}

up() {
  pid_alive "$(pid_of "$dir/run/slurmctld.pid")" && die "a cluster already runs in $dir"
  [ -e "/run/netns/$ns" ] && die "namespace $ns exists: another cluster is up (down its DIR first)"
  install_missing
  mkdir -p "$dir"/{etc,state,spool,run,log,dev,munge,mysql}
  chmod 755 "$dir"
  chown slurm:slurm "$dir/state" "$dir/log" "$dir/run"
  chown munge:munge "$dir/munge"
  chmod 700 "$dir/state"

  # munged with a key of this cluster's own: /etc/munge is left alone.
  mungekey -c -f -k "$dir/munge/munge.key"
  chown munge:munge "$dir/munge/munge.key"
  runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.sock" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  wait_for 10 test -S "$dir/munge/munge.sock" || die "munged did not start (see $dir/munge/munged.log)"

  local i
  # Each node's own, as a node's /dev has its GPUs only.
  for i in 0 1 2 3 4 5; do
    mkdir -p "$dir/dev/n$((i / 2 + 1))"
    mknod -m 666 "$dir/dev/n$((i / 2 + 1))/gpu$i" c 240 "$i"
  done
  head -c 32 /dev/urandom >"$dir/state/jwt.key"
  chown slurm:slurm "$dir/state/jwt.key"
  chmod 600 "$dir/state/jwt.key"
  start_mariadb
  write_config
  write_oci
  chmod -R a+rX "$dir/etc"
  chown slurm:slurm "$dir/etc/slurmdbd.conf"
  chmod 600 "$dir/etc/slurmdbd.conf"
  make_netns

  start_slurmdbd
  /usr/sbin/slurmctld
  /usr/sbin/slurmd -N n1
  /usr/sbin/slurmd -N n2
  # Not `ip netns exec`: it remounts /sys for the namespace, and slurmd would lose the cgroups.
  nsenter --net="/run/netns/$ns" /usr/sbin/slurmd -N n3
  (cd / && SLURM_JWT=daemon exec setsid /usr/sbin/slurmrestd -a rest_auth/jwt -s openapi/v0.0.38 \
    -u nobody -g nogroup "127.0.0.1:$restd_port") >"$dir/log/slurmrestd.log" 2>&1 </dev/null &
  echo $! >"$dir/run/slurmrestd.pid"

  if ! wait_for 60 all_idle; then
    states >&2 || true
    die "the nodes did not all become idle within 60 s (logs in $dir/log)"
  fi
  wait_for 10 rest nobody /slurm/v0.0.38/ping -o /dev/null ||
    die "slurmrestd does not answer (see $dir/log/slurmrestd.log)"
  sinfo -N -o '%N %t %G'
}

# check: fails (non-zero) unless the cluster does what the tests rely on, as the account
# `nobody` (no home: the jobs run in /tmp).
ok=0
bad=0
t() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; ok=$((ok + 1)); else echo "FAIL $what"; bad=$((bad + 1)); fi
}
as_nobody() { (cd /tmp && runuser -u nobody -- env SLURM_CONF="$conf" timeout 60 "$@"); }
c_nodes() { [ "$(as_nobody srun -N3 -l --chdir=/tmp sh -c 'echo $SLURMD_NODENAME' | sort | awk '{print $2}' | tr '\n' ' ')" = "n1 n2 n3 " ]; }
c_gres() { [ "$(sinfo -h -N -o '%N %G' | sort -u | tr '\n' ' ')" = "n1 gpu:2 n2 gpu:2 n3 gpu:2 " ]; }
c_devices() {
  # One GPU of n1's two: the other one's open is denied by the devices cgroup.
  local out
  out=$(as_nobody srun -w n1 --gres=gpu:1 --chdir=/tmp sh -c "cat $dir/dev/n1/gpu0; cat $dir/dev/n1/gpu1" 2>&1 || true)
  [ "$(grep -c 'No such device or address' <<<"$out")" = 1 ] && [ "$(grep -c 'Operation not permitted' <<<"$out")" = 1 ]
}
c_oci() {
  as_nobody srun -w n2 --chdir=/tmp --container="$dir/oci/bundle" cat /proc/self/uid_map |
    grep -qE "^ +0 +$(id -u nobody) +1\$"
}
c_container_devices() {
  # The same inside a container: the node runtime binds n1's two in, the cgroup still decides.
  local out
  out=$(as_nobody srun -w n1 --gres=gpu:1 --chdir=/tmp --container="$dir/oci/bundle" sh -c 'ls /dev/gpu*; cat /dev/gpu0; cat /dev/gpu1' 2>&1 || true)
  [ "$(grep -c '^/dev/gpu[01]$' <<<"$out")" = 2 ] && [ "$(grep -c 'No such device or address' <<<"$out")" = 1 ] && [ "$(grep -c 'Operation not permitted' <<<"$out")" = 1 ]
}
# sshare lists a user's association once `user` made one; then a finished job of theirs is
# in slurmdbd: sacct (which reads it there) gives its GPUs and elapsed time. slurmdbd shows a
# user their own jobs only (PrivateData), and nothing to a user without an association.
c_sacct() {
  local id line
  id=$(as_nobody srun --chdir=/tmp --gres=gpu:1 sh -c 'echo $SLURM_JOB_ID; sleep 2' 2>/dev/null) || return 1
  for _ in $(seq 30); do
    line=$(as_nobody sacct -n -P -X -j "$id" --format=State,AllocTRES,ElapsedRaw 2>/dev/null)
    [[ $line =~ ^COMPLETED\|.*gres/gpu=1.*\|([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 2 ] && return 0
    sleep 1
  done
  echo "sacct: $line" >&2
  return 1
}
c_sshare() {
  add_user nobody >/dev/null && as_nobody sshare -n -P -U -o User,Account | grep -qx 'nobody|ds01'
}
c_rest() { rest nobody /slurm/v0.0.38/nodes | jq -e '[.nodes[].name] | sort == ["n1", "n2", "n3"]' >/dev/null; }
check() {
  t "three nodes, two GPUs each" c_gres
  t "a job step on every node" c_nodes
  t "a job's devices cgroup denies the GPU it was not given" c_devices
  t "srun --container runs the bundle with container root as the user" c_oci
  t "a container has its node's GPU files, and opens only the job's" c_container_devices
  t "slurmrestd answers a JWT of the user" c_rest
  t "sshare lists a user given an association" c_sshare
  t "sacct gives a finished job's GPUs and time (slurmdbd on the cluster's MariaDB)" c_sacct
  sacctmgr -i delete user nobody >/dev/null 2>&1 || true
  echo "$ok passed, $bad failed"
  [ "$bad" -eq 0 ]
}

cut_n3() { ip -n "$ns" link set "$node_veth" down; }
# Reconnected, n3 would return by itself within about a minute (ReturnToService=2, when
# slurmctld next pings it); resuming it, as an admin would, takes a second.
mend_n3() {
  ip -n "$ns" link set "$node_veth" up
  case $(sinfo -h -n n3 -o %t) in down*) scontrol update nodename=n3 state=resume ;; esac
}

# add_user LOGIN: an association of LOGIN's in the account ds01, for fair-share.
add_user() {
  sacctmgr -i add user "$1" account=ds01 defaultaccount=ds01 >/dev/null &&
    wait_for 10 sh -c "sacctmgr -n -P list assoc user='$1' format=user | grep -qx -- '$1'"
}

env_lines() {
  echo "export SLURM_CONF=$conf"
  echo "export DS01_SLURM_BUNDLE=$dir/oci/bundle"
  echo "export DS01_SLURM_GPUS=$dir/dev"
  echo "export DS01_SLURMRESTD=http://127.0.0.1:$restd_port"
}

# The nodes' cgroups (v1: slurm_<node> under each controller; v2: one tree), named by the
# fixed node names: what the job steps (slurmstepd and the users' programs) run in.
node_cgroups() {
  local c
  for c in /sys/fs/cgroup/*/slurm_n[123] /sys/fs/cgroup/slurm_n[123]; do
    [ -d "$c" ] && echo "$c"
  done
  return 0
}

# The processes of the job steps, which outlive a stopped slurmd (and the jobs of a node
# that was cut off).
step_processes() {
  local c
  node_cgroups | while read -r c; do find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -un
}

stop_pids() {
  local p alive
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for p in "$@"; do pid_alive "$p" && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}

down() {
  local f c pids=()
  # The jobs first, while slurmctld and the nodes can still end them.
  if pid_alive "$(pid_of "$dir/run/slurmctld.pid")"; then
    scancel --full --partition=gpu 2>/dev/null || true
    wait_for 15 sh -c '[ -z "$(squeue -h -o %i 2>/dev/null)" ]' || say "jobs still listed; stopping anyway"
  fi
  for f in "$dir/run/slurmrestd.pid" "$dir"/run/slurmd-n*.pid "$dir/run/slurmctld.pid"; do
    pid_alive "$(pid_of "$f")" && pids+=("$(pid_of "$f")")
  done
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  # Then accounting (slurmctld has handed it what it had), then its database and munge.
  pids=()
  for f in "$dir/run/slurmdbd.pid"; do
    pid_alive "$(pid_of "$f")" && pids+=("$(pid_of "$f")")
  done
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  pids=()
  for f in "$dir/run/mariadb.pid" "$dir/munge/munged.pid"; do
    pid_alive "$(pid_of "$f")" && pids+=("$(pid_of "$f")")
  done
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  mapfile -t pids < <(step_processes)
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  # The namespace goes only once nothing runs in it (it may be another DIR's live cluster).
  if [ -e "/run/netns/$ns" ]; then
    if [ -z "$(ip netns pids "$ns" 2>/dev/null)" ]; then
      ip netns del "$ns"
    else
      say "processes still run in namespace $ns: left in place"
    fi
  fi
  ip link del "$host_veth" 2>/dev/null || true
  node_cgroups | while read -r c; do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  rm -rf "$dir"
}

case $cmd in env) ;; *) [ "$(id -u)" -eq 0 ] || die "$cmd needs root" ;; esac
case $cmd in
  up) up ;;
  check) check ;;
  user) add_user "$login" ;;
  cut) cut_n3 ;;
  mend) mend_n3 ;;
  env) env_lines ;;
  down) down ;;
  *) usage ;;
esac
