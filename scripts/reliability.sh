#!/usr/bin/env bash
# Runs the reliability suites (faults on a throwaway daemon, failure and interrupt tests,
# load, trust boundaries, hostile input) and rewrites docs/reliability.md with what they
# measured: pass counts, wall times, the load throughput and the exact messages users get.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/reliability.md}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

scripts/ensure-engine.sh
scripts/fixture-images.sh
cargo build -q --tests --workspace

suite() { # NAME CARGO-ARGS...
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  cargo test -q "$@" -- --nocapture >"$logs/$name.log" 2>&1 || { cat "$logs/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print($end - $start)" >"$logs/$name.time"
}
echo "reliability: faults (a few minutes)" >&2
suite faults -p ds01-tests --test faults
echo "reliability: create failures and interrupts" >&2
suite failures -p ds01-tests --test create_failures
echo "reliability: ownership and lifecycle" >&2
suite lifecycle -p ds01-tests --test build_and_lifecycle
echo "reliability: load" >&2
suite load -p ds01-cli --test load
echo "reliability: hostile input" >&2
suite hostile -p ds01-tests --test hostile_input
echo "reliability: CLI usage" >&2
suite usage -p ds01-cli --test usage
echo "reliability: security, as throwaway users" >&2
suite security -p ds01-tests --test security
echo "reliability: policy and GPUs" >&2
suite policy -p ds01-tests --test policy_gpus
echo "reliability: the service under one user's flood" >&2
suite service -p ds01-tests --test boundary_service

python3 - "$out" "$logs" <<'PY'
import datetime, os, re, subprocess, sys
out, logs = sys.argv[1], sys.argv[2]
def log(n): return open(f"{logs}/{n}.log", errors="replace").read()
def secs(n): return float(open(f"{logs}/{n}.time").read())
def result(n):
    m = re.findall(r"test result: ok\. (\d+) passed; (\d+) failed; (\d+) ignored", log(n))
    return tuple(map(int, m[-1])) if m else (0, 0, 0)
engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"],
                        capture_output=True, text=True).stdout.strip()
head = (f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, Docker Engine {engine}, "
        "by `scripts/reliability.sh` (which rewrites this file).")
load = re.search(r"load: (.*)", log("load"))
reported = sorted(set(re.findall(r"^reported: (.*)$", log("faults"), re.M)))
service = re.search(r"service: (settings .*)", log("service"))

rows = [("Faults on a throwaway daemon", "faults"), ("Failures and interrupts", "failures"),
        ("Ownership and lifecycle", "lifecycle"), ("Load, 20 users", "load"),
        ("Hostile input (property runs)", "hostile"), ("CLI usage", "usage"),
        ("Security, as throwaway users through ds01d", "security"),
        ("Policy and GPU allocation through ds01d", "policy"),
        ("The service under one user's flood, through ds01d", "service")]
L = ["# Reliability", "", head, "",
"ds01d holds the root-equivalent Docker socket of a shared server for its users. These are its guarantees,",
"the tests that hold it to them (all run by `.ci/run` on every submission), and what they measured.", "",
"## Guarantees", "",
"| guarantee | how it is kept | tested by |", "|---|---|---|",
"| **No debris.** A failed, interrupted or crashed create or build leaves no container or image. | Every resource a call makes carries a per-call `ds01.operation` label and is recorded; on failure it is removed, found by ID and by label. Ctrl-C is honoured between engine calls and during waits only, never by dropping a request the engine would still carry out, so nothing appears after the rollback looked. A journal per container name / image tag in ds01d's root-only state directory, held under a file lock, names the last call's operation: when that call died with the daemon, the next call removes exactly what it made. A build is cancelled (Ctrl-C, the client gone, `build_timeout`) by closing its request to the engine, which stops the running step; the classic builder commits every step as an untagged image, so the step images the build made (and an untagged child of the last one, committed as the cancel arrived) are then removed, newest first, without force and only while untagged. | `tests/boundary_builds.rs` (Ctrl-C, a killed client, `build_timeout`, a failing and an out-of-memory step: no image, no step container, no spec marked built), `tests/create_failures.rs` (setup failure, guard refusal, interrupt during setup and before commit, dead run), `crates/ds01-cli/tests/interrupt_install.rs` (a real SIGINT to `ds01 container create`), `tests/faults.rs` (daemon killed during build, setup, the layer's load, the engine's commit and after create; full disk) |",
"| **A retry always works.** | The same journal and the `ds01.role=setup` label let a retry clear a dead run's setup container and per-container image; a taken name is refused without touching the existing container. | `tests/faults.rs`, `tests/create_failures.rs` |",
"| **No lost image.** The user's earlier image survives a failed or killed rebuild. | The engine tags only on success; ds01 never removes a user's image except on `image delete`, which refuses while a container uses it. Removing a container removes only its own per-container image, and only when nothing else uses it. | `a_failed_rebuild_keeps_the_earlier_image…`, `a_build_killed_while_a_step_runs_keeps_the_earlier_image`, `a_committed_image_in_use_by_another_container_is_kept` |",
"| **No disk-filling commit.** | `useradd --no-log-init`, `lastlog`/`faillog` truncated in the same step, and no image is made from a setup container without a size check of every file it wrote. ds01 writes the layer itself from the container's overlay upper directory (`lstat`, no link followed) and refuses any file whose apparent size exceeds 64 MiB, naming it. Where the engine commits instead (writes a layer cannot hold, such as a FIFO or a file capability, or no upper directory on this host), a guard checks the same before the commit, by the upper directory or else through the engine's changes list and an archive stat per file. | `the_sparse_file_guard_refuses_the_commit` (ds01's layer), `the_guard_holds_on_the_engines_commit_too`, `layer::tests::an_oversized_file_is_refused_by_name`, `guard::tests::the_walk_finds_the_largest_file_by_apparent_size_and_follows_no_link`; the commit flow at UID 1722830498 on Debian 11 (an image under 64 KiB larger than its base) |",
"| **Exactly one of two concurrent creates wins.** | The per-name lock, and the final name held by the setup container from the first step. | `of_two_concurrent_creates_exactly_one_wins`, the load test |",
"| **Clear errors, never a hang.** | Engine errors are mapped to messages that say what to do (engine gone, disk full, name taken, image missing); every fault test bounds each call and fails on a hang. | `tests/faults.rs` (messages below), `tests/create_failures.rs` |",
"| **Trust boundaries.** | Users never get the Docker socket: ds01d is the only door, and knows callers by the kernel's peer credentials. Ownership is the UID in `<name>._.<uid>` and `ds01-<uid>/`; another user's containers cannot be named and their images not used; mounts are walked without following links and must be the caller's own (or under an admin-listed root); containers get `no-new-privileges` and no capabilities unless the policy allows sudo; the user's environment and `~/.config` have no say; `--as` is for root and the admin group; state lives in a root-only directory, never `/tmp`. Labels that claim a user are checked against `/etc/passwd` and `/etc/group`. | `tests/security.rs` (two throwaway users, one LDAP-style with a 10-digit UID, against a ds01d on a temporary socket: every hole of the socket era refused, the everyday flows working), `labels_claiming_an_absent_user_are_not_trusted`, hostile-input label property |",
"| **Fair shares.** | The admin's policy (user, group, default) caps containers, memory, CPUs, shm, processes and GPUs, naming the limit and its source; image builds too: each step gets the user's memory (no swap), CPUs, shm and, under a ds01d-made pids cgroup, processes, at most `max_builds` at once and for at most `build_timeout`; GPUs are exclusive and least-allocated, recorded only in the containers' labels, so a restart keeps every allocation. | `tests/policy_gpus.rs` (a file inventory of 3 GPUs with MIG slices, three users, concurrent requests, `--wait`, a restart, DS01-labelled containers, DS01's imported limits), `tests/boundary_builds.rs` (limits read inside a step, a fork bomb bounded, a step over its memory killed, a second build refused) |",
"| **The service stays up for everyone.** One user's idle, slow or numerous connections cannot starve another's requests or the reaper. | ds01d's own accept loop admits each connection by its kernel UID: at most `connections_per_user` (default 64) connections and `streams_per_user` (16) streaming requests per UID (root: the global cap only); beyond, an immediate 429 with an `ApiError` (`limit`) and the connection closed. A request head must be complete within `header_timeout` (10 s) of its first byte, and its body as long again after it, and a connection with nothing in flight is closed after `idle_timeout` (30 s); an answer that streams and an upgraded exec, logs or cp session are never idle. The global cap (`max_connections`, 4096) stays under the descriptor limit, which ds01d raises from soft to hard at start (`LimitNOFILE=65536` in the unit), with a quarter (at least 256) kept for the engine socket, state files and the reaper, and room for one engine connection per connection. | `tests/boundary_service.rs` (figures below), `server::limits::tests`, `server::accept::tests`, `config::tests::bad_server_values_are_refused_by_key` |",
"| **Hostile input is refused, never pasted.** | Every outside value is parsed once into a validated type; package specs, env values and labels are quoted for `/bin/sh` and Docker; messages escape control characters. | `tests/hostile_input.rs` (proptest, ≥ 20,000 cases per string parser) |",
"", "## Measured", "",
"| suite | passed | failed | wall time |", "|---|---:|---:|---:|"]
for title, n in rows:
    p, f, _ = result(n)
    L.append(f"| {title} | {p} | {f} | {secs(n):.0f} s |")
L += ["", "Load: " + (load.group(1) if load else "(no figure)") + ".", "",
"The service under one user's flood (`tests/boundary_service.rs`, with the small `[server]` settings named in the figure):",
"user A, a throwaway account whose connections carry its own peer credentials, opens connections on ds01d's socket far",
"beyond its cap for 45 s, a few of them sending request heads that never end; meanwhile user B sends `GET /v1/version`",
"(a raw request: from `connect` to the answer's head, so ds01d's own answer time) and runs `ds01 container start` and",
"`container list` (whole CLI runs, process start included), and the reaper has to stop B's idle container. The idle and",
"head figures are seen from A's side, from its `connect` (or a head's first byte) to the close, polled every 0.25 s.", "",
"Flood: " + (service.group(1) if service else "(no figure)") + ".", "",
      "What users are told when the daemon dies or the disk fills (from the fault run):", ""]
L += [f"- `{r}`" if "`" not in r else f"- {r}" for r in reported]
L += ["", "## Limits", "",
"- Between ds01d's check of a mount path and dockerd's bind mount, the owner of the directory could swap it",
"  for a link (see docs/architecture.md); only the user's own trees are open to that.",
"- The fault tests run one throwaway daemon in its own network namespace; a daemon on another host",
"  (`DOCKER_HOST=tcp://…`) is not covered by the host-local locks.",
"- No coverage-guided fuzzer runs: the toolchain here is stable-only, so the hostile-input runs are",
"  property tests with large, bounded case counts.", ""]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write("\n".join(L))
print(f"wrote {out}", file=sys.stderr)
PY
