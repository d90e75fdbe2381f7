#!/usr/bin/env bash
# Reproduces every figure of docs/performance.md on this machine and rewrites that file:
# create flows (baked / commit / bare, UID 1000 vs 1722830498), username throughput (library
# and CLI), CLI start-up, and build-context size against sending a whole workspace.
# Needs the engine (scripts/ensure-engine.sh) and the fixture images (scripts/fixture-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/performance.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/ensure-engine.sh
scripts/fixture-images.sh
cargo build -q --release -p ds01-cli
cargo build -q --release -p ds01-tests --example context_size
ds01=target/release/ds01

echo "bench: create flows (a few minutes)" >&2
cargo bench -q --bench create 2>/dev/null >"$work/create.txt"
echo "bench: username sanitizer (criterion)" >&2
cargo bench -q -p ds01-username --bench sanitize -- --noplot 2>/dev/null >"$work/username.txt"

# 100,000 names: the golden inputs repeated.
python3 - "$work/names.txt" <<'PY'
import json, sys
rows = [json.loads(l)["input"] for l in open("crates/ds01-username/tests/fixtures/usernames.jsonl")]
names = [r.replace("\n", " ").replace("\r", " ") for r in rows]
with open(sys.argv[1], "w") as f:
    for i in range(100_000):
        f.write(names[i % len(names)] + "\n")
PY
# A workspace as users have them: a data file, a model checkpoint, many small sources.
mkdir -p "$work/workspace/src" "$work/workspace/data"
head -c $((40 << 20)) /dev/urandom >"$work/workspace/data/train.parquet"
head -c $((20 << 20)) /dev/urandom >"$work/workspace/model.ckpt"
for i in $(seq 2000); do printf 'import torch\nprint(%d)\n' "$i" >"$work/workspace/src/m$i.py"; done
read -r ctx_bytes ctx_us < <(target/release/examples/context_size)

python3 - "$out" "$ds01" "$work" "$ctx_bytes" "$ctx_us" <<'PY'
import io, os, platform, re, statistics, subprocess, sys, tarfile, time, datetime
out, ds01, work, ctx_bytes, ctx_us = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

def median_run(cmd, runs, stdin_path=None):
    times = []
    for _ in range(runs):
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        t = time.perf_counter()
        subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)

engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"],
                        capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) // (1 << 20)
head = (f"Machine: {os.cpu_count()} cores ({cpu}), {mem} GiB, {platform.system()} {platform.release()}; "
        f"Docker Engine {engine}; measured {datetime.date.today().isoformat()} by `scripts/bench.sh`.")

create = open(f"{work}/create.txt").read()
rows = re.findall(r"^(.+?)\s{2,}([\d.]+) ms$", create, re.M)
ratios = re.findall(r"^(.+?)\s+([\d.]+)x\s+\((.+)\)$", create, re.M)

crit = open(f"{work}/username.txt").read()
per_batch = re.findall(r"golden inputs/(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", crit)
n_golden = sum(1 for _ in open("crates/ds01-username/tests/fixtures/usernames.jsonl"))
def ns_per_name(value, unit):
    scale = {"ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6}[unit]
    return float(value) * scale / n_golden

names = f"{work}/names.txt"
cli_plain = median_run([ds01, "-q", "username", "sanitize"], 7, names)
cli_json = median_run([ds01, "-q", "username", "sanitize", "--json"], 7, names)
start_version = median_run([ds01, "--version"], 31)
start_one = median_run([ds01, "username", "sanitize", "h.baker@hertie-school.lan"], 31)

def tar_workspace():
    buf = io.BytesIO()
    t = time.perf_counter()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(f"{work}/workspace", arcname=".")
    return len(buf.getvalue()), time.perf_counter() - t
ws = [tar_workspace() for _ in range(3)]
ws_bytes, ws_s = ws[0][0], statistics.median(t for _, t in ws)

L = ["# Performance", "", head, "",
     "Every figure is a median; each table says of how many runs. Rerun with `scripts/bench.sh`.", "",
     "## Time to a created container (`cargo bench --bench create`)", "",
     "Median of 7 runs after one warm-up, on the local Debian 11 fixture image. *Bare* is a plain",
     "`docker create` of the same baked image through the API: the floor. The baked flow checks the",
     "account in the image's `/etc/passwd` once per image ID and caches the verdict; the uncached row is",
     "the first create from a new image.", "",
     "| flow | median |", "|---|---:|"]
L += [f"| {name.strip()} | {ms} ms |" for name, ms in rows]
L += ["", "| ratio | measured | target |", "|---|---:|---|"]
L += [f"| {name.strip()} | {x}× | {target} |" for name, x, target in ratios]
L += ["", "## Username mapping", "",
      f"Library (criterion, {n_golden} golden inputs per iteration; time per name from the batch median):", "",
      "| function | ns per name |", "|---|---:|"]
L += [f"| `{fn}` | {ns_per_name(v, u):.0f} |" for fn, v, u in per_batch]
L += ["", "CLI batch, 100,000 names on standard input (median of 7 runs, release binary):", "",
      "| command | time | names per second |", "|---|---:|---:|",
      f"| `ds01 -q username sanitize` | {cli_plain*1e3:.0f} ms | {100_000/cli_plain:,.0f} |",
      f"| `ds01 -q username sanitize --json` | {cli_json*1e3:.0f} ms | {100_000/cli_json:,.0f} |",
      "", "## CLI start-up (median of 31 runs)", "",
      "| command | time |", "|---|---:|",
      f"| `ds01 --version` | {start_version*1e3:.1f} ms |",
      f"| `ds01 username sanitize h.baker@hertie-school.lan` | {start_one*1e3:.1f} ms |",
      "", "## Build context", "",
      "ds01 sends the Dockerfile and the user-setup script only. DS01 (at HEAD) sent the whole project",
      "workspace; the comparison workspace here holds a 40 MiB data file, a 20 MiB checkpoint and 2,000",
      "small sources (random bytes, so it compresses as real data does).", "",
      "| context | size | time to make it |", "|---|---:|---:|",
      f"| ds01 (catalog spec, every package group) | {ctx_bytes:,} bytes | {ctx_us} µs (median of 51) |",
      f"| whole workspace, tar.gz | {ws_bytes:,} bytes | {ws_s*1e3:.0f} ms (median of 3) |",
      f"| ratio | {ws_bytes/ctx_bytes:,.0f}× smaller | {ws_s*1e6/max(ctx_us,1):,.0f}× faster |", ""]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write("\n".join(L))
print(f"wrote {out}", file=sys.stderr)
PY
