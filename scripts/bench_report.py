#!/usr/bin/env python3
"""Renders docs/performance.md from the hyperfine JSON files scripts/bench.sh leaves in its
work directory. Usage: bench_report.py WORK_DIR OUT_FILE"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

work, out = sys.argv[1], sys.argv[2]
facts = dict(line.strip().split("=", 1) for line in open(f"{work}/facts.env") if "=" in line)


def results(name):
    return {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}


def med(r):
    return r["median"]


def ms(seconds):
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


def docker(fmt):
    return subprocess.run(["docker", "info", "--format", fmt], capture_output=True, text=True).stdout.strip()


engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"],
                        capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) // (1 << 20)
load = open("/proc/loadavg").read().split()[:3]
load_start = open(f"{work}/load_start").read().split()[:3]
head = (f"Machine: {os.cpu_count()} cores ({cpu}), {mem} GiB, {platform.system()} {platform.release()}; "
        f"Docker Engine {engine}, storage driver {docker('{{.Driver}}')}; "
        f"measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `scripts/bench.sh`. "
        f"Load average (1/5/15 min) when the run began: {' / '.join(load_start)}; at its end, after its "
        f"own 20-user runs: {' / '.join(load)}. On this 2-core machine single figures move by tens of "
        "percent between runs.")

def spread(a, b, ratio):
    """The ratio's uncertainty from both sides' relative standard deviations."""
    rel = lambda r: (r.get("stddev") or 0) / r["mean"]
    return ratio * (rel(a) ** 2 + rel(b) ** 2) ** 0.5



CLUSTER_HEADING = "## Create to running: one server and through Slurm"


def cluster_section(alone):
    """The create-to-running comparison; `alone`: measured by DS01_BENCH_ONLY=cluster."""
    r = results("cluster")
    one = r["ds01 container create --start (one server)"]
    slurm = r["ds01 container create, until running (Slurm)"]
    ratio = med(slurm) / med(one)
    err = spread(slurm, one, ratio)
    # The timed script's own timestamps, one line a run; the warm-up run's come first.
    stamps = [[float(x) for x in l.split()] for l in open(f"{work}/cluster_phases.txt") if l.strip()]
    stamps = stamps[-len(slurm["times"]):]
    phase = lambda i: statistics.median(t[i] - t[0] for t in stamps)
    S = [CLUSTER_HEADING, ""]
    if alone:
        S += [f"Measured on its own {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by "
              "`DS01_BENCH_ONLY=cluster scripts/bench.sh` (the rest of this page is from the run named at its "
              f"top). Load average (1/5/15 min) when it began: {' / '.join(load_start)}; at its end: "
              f"{' / '.join(load)}.", ""]
    else:
        S += ["`DS01_BENCH_ONLY=cluster scripts/bench.sh` reruns this section alone (and rewrites only it).", ""]
    S += ["| path | create to running | ratio |", "|---|---:|---:|",
          f"| one server: `ds01 container create s --image ds01-fixture/debian11:latest --start` "
          f"| {ms(med(one))} ({len(one['times'])} runs) | |",
          f"| Slurm: `ds01 container create k --image ds01-fixture/debian11:latest`, then waiting until it runs "
          f"| {ms(med(slurm))} ({len(slurm['times'])} runs) | {ratio:.1f}x ± {err:.1f} |", "",
          "Where the Slurm path's time goes: medians over the same runs of the timed script's own",
          "timestamps, counted from the script's start (hyperfine's figure adds bash's own start-up):", "",
          "| point in the timed script | since its start |", "|---|---:|",
          f"| `ds01 container create` returned: bundle made, job submitted | {ms(phase(1))} |",
          f"| `ds01 container list --json` first says `running`: Slurm placed the job on a node | {ms(phase(2))} |",
          f"| the container's `sleep infinity` runs on its node (srun, rootless runc) | {ms(phase(3))} |", "",
          f"- *Both paths*: the same LDAP-style user (UID {facts['ldap_uid']}, no account in the image), the same",
          "  image, the release builds of `ds01` and ds01d, no GPUs (no `--gpus`), in one hyperfine run.",
          "  Each run is a first create: the previous run's container (and on one server its image",
          "  tag, home volume and workspace) is removed before it, untimed.",
          "- *One server*: ds01d's create through the engine: the commit flow (the user's account written",
          "  into an image of the user's own, as in *commit flow* above), the container with its home",
          "  volume and workspace, and, for `--start`, the engine's start. The command returns once the",
          "  engine has started the container.",
          "- *Slurm*: a second ds01d with `[cluster] backend = \"slurm\"` (its own socket, state directory and",
          "  config) against a throwaway three-node Slurm cluster on this same machine",
          "  (`scripts/slurm-cluster.sh`: slurmctld, slurmdbd on a MariaDB of its own, and three slurmd, one in a network namespace of its own).",
          "  ds01d exports the image's file system from the engine into an OCI bundle (a never-started",
          "  container of the image, `docker export`, unpacked and handed to the user), writes runc's spec and",
          "  submits the job with `sbatch` as the user, then returns. The timed script then runs",
          "  `ds01 container list --json` as the user every 50 ms (each list runs `squeue` as the user) until",
          "  the container's state is `running`, Slurm's job state once it has placed the job on a node, and",
          "  then reads the process table every 10 ms until the job's step (`srun --container`) has started",
          "  `sleep infinity` under rootless runc as the user's UID. A run that does not get there within 60 s",
          "  fails the benchmark. Polling notices each point up to its interval late (the list, also by up",
          "  to one list's own time).",
          "- *Not measured*: nodes on other machines (here no network lies between the nodes and the",
          "  controller, and the bundle is written and read on one local disk, not shared storage), real GPUs,",
          "  a busy queue (every job here finds idle nodes), larger images (the export grows with the image).",
          ""]
    return S


if facts.get("only") == "cluster":
    # Only this section is new: the rest of the page stays as its own run left it.
    old = open(out).read().split("\n") if os.path.exists(out) else ["# Performance", ""]
    if CLUSTER_HEADING in old:
        start = old.index(CLUSTER_HEADING)
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
    else:
        start = end = len(old)
    open(out, "w").write("\n".join(old[:start] + cluster_section(True) + old[end:]))
    print(f"wrote {out} (its section {CLUSTER_HEADING[3:]!r} only)", file=sys.stderr)
    print("\n".join(cluster_section(True)[2:10]), file=sys.stderr)
    sys.exit(0)

rows = []  # (figure, ds01 command, ds01 median, docker command, docker median, target ratio)


def pair(name, ours, theirs, target, label):
    r = results(name)
    a, b = r[ours], r[theirs]
    ratio = med(a) / med(b)
    rows.append((label, ours, a, theirs, b, ratio, target))


pair("baked", "ds01 container create (baked)", "docker create", 1.0, "baked create")
pair("commit", "ds01 container create (commit flow)", "docker run useradd + commit + rm + create", 1.0,
     f"commit flow, UID {facts['ldap_uid']}, Debian 11")
pair("parallel", "20 users: ds01 container create (baked)", "20 x docker create", 1.5, "20 creates at once")
pair("list", "ds01 container list (200)", "docker ps -a --filter label=", 1.0, "container list, 200 containers")
pair("list", "ds01 image list (100)", "docker images ds01-<uid>/*", None, "image list, 100 images")
pair("docker_create", "docker create through ds01d (baked)", "docker create (engine socket)", None,
     "`docker create` through the Docker-API socket")
pair("docker_ps", "docker ps -a through ds01d (200)", "docker ps -a (engine socket)", None,
     "`docker ps -a` through the Docker-API socket")

update = results("update")["ds01 image update (unchanged)"]
cli = results("cli")
startup = results("startup")


def verdict(ok):
    return "met" if ok else "**not met**"


L = ["# Performance", "", head, "",
     "Rerun with `scripts/bench.sh` (as root; 5 to 10 minutes once the release build and the",
     "fixture images exist). Every figure is a median of whole processes timed by `hyperfine`,",
     "both sides in the same run on the same engine.", "",
     "**Path measured:** CLI through ds01d, as users run it: `ds01` (release build) runs as an",
     "unprivileged throwaway account (`setpriv`), talks to a ds01d (release build) on a temporary",
     "socket with its own state directory, which talks to the engine. The docker CLI side runs as",
     "root, as only root or the docker group can. Nothing here is the library in-process.", "",
     "## Against the docker CLI", "",
     "The ratio is of the medians; ± is its spread from both sides' standard deviations. A target",
     "is *met* when the ratio is within it, and *within noise* when the spread reaches past it: the",
     "next run on this machine may land on either side.", "",
     "| figure | ds01 | docker CLI | ratio | target | |",
     "|---|---:|---:|---:|---:|---|"]
for label, ours, a, theirs, b, ratio, target in rows:
    t = f"<= {target:.1f}x" if target else "-"
    err = spread(a, b, ratio)
    ok = ""
    if target:
        ok = verdict(ratio <= target) + (" (within noise)" if ratio <= target < ratio + err else "")
    L.append(f"| {label} | {ms(med(a))} ({len(a['times'])} runs) | {ms(med(b))} ({len(b['times'])} runs) "
             f"| {ratio:.2f}x ± {err:.2f} | {t} | {ok} |")
L += ["",
      "- *baked create*: `ds01 container create b --image ds01-<uid>/base:latest` of an image the user",
      "  built with `ds01 image create` (account baked in), against `docker create` of the same image.",
      "  ds01d recorded the account verdict when it built the image, so no temporary container reads",
      "  `/etc/passwd`. Each run is a first create, as users get it: ds01 also tags the image for the",
      "  container, makes its home volume and `~/workspace/b`; all of it is removed before each run.",
      f"- *commit flow*: `ds01 container create c --image ds01-fixture/debian11` as an LDAP-style user at UID",
      f"  {facts['ldap_uid']}, against the sequence by hand: `docker run` of `groupadd`, `useradd --no-log-init`",
      "  and truncation of lastlog/faillog, `docker commit`, `docker rm`, `docker create`. In place of",
      "  `docker commit`, ds01d writes the setup container's writes as one layer itself (checking every",
      "  file's size) and loads it onto the base; it also checks the account in the `/etc/passwd` and",
      "  `/etc/group` the setup container ends with, and the setup script also writes `~/.bashrc` lines",
      "  and a sudo rule. Each run is a first create: the image, home volume and `~/workspace/c` are",
      "  removed before it.",
      "- *20 creates at once*: 20 users each run `ds01 container create` of their own baked image at the",
      "  same moment, against 20 simultaneous `docker create` of the same 20 images. User 1's image is",
      "  from `ds01 image create`; the 19 others are the images their own commit flows made (a build",
      "  costs tens of seconds here), whose verdicts the commit flow recorded. Each is a first create",
      "  (own tag, home volume, workspace), undone before each run.",
      "- *lists*: 200 containers of one user (and their others), 100 image tags of one user.",
      "- *Docker-API socket*: the docker CLI run by the unprivileged user with `DOCKER_HOST` at ds01d's",
      "  Docker-API socket, against the same CLI as root on the engine's socket. The create is a first",
      "  create of the user's baked image through ds01's create pipeline (policy, own network, home",
      "  volume, labels), undone before each run; `ps -a` lists the user's 200 containers (ds01d asks the",
      "  engine for them and keeps only the caller's), against the engine listing all of its containers.", ""]
L += cluster_section(False)
L += ["## Absolute", "",
      "| figure | median | target | |", "|---|---:|---:|---|",
      f"| `ds01 image update` of an unchanged spec | {ms(med(update))} ({len(update['times'])} runs) | <= 100 ms "
      f"| {verdict(med(update) <= 0.1)} |"]
rss = {k: int(facts[k]) / 1024 for k in ("rss_idle_start", "rss_idle", "rss_peak", "rss_after")}
L += [f"| ds01d resident memory, idle after start | {rss['rss_idle_start']:.1f} MiB | <= 32 MiB "
      f"| {verdict(rss['rss_idle_start'] <= 32)} |",
      f"| ds01d resident memory, idle after the build and 19 commit flows | {rss['rss_idle']:.1f} MiB | <= 32 MiB "
      f"| {verdict(rss['rss_idle'] <= 32)} |",
      f"| ds01d peak resident memory during the 20-user runs (VmHWM) | {rss['rss_peak']:.1f} MiB | <= 128 MiB "
      f"| {verdict(rss['rss_peak'] <= 128)} |",
      f"| ds01d resident memory at the end | {rss['rss_after']:.1f} MiB | | |",
      f"| one `ds01 image create` on Debian 11, no packages (1 run, not a target) | {float(facts['build_s']):.1f} s | | |",
      ""]

n = lambda r: 100_000 / med(r)
plain = cli["ds01 -q username sanitize (100,000 names)"]
js = cli["ds01 -q username sanitize --json (100,000 names)"]
L += ["## Username mapping (CLI, no service)", "",
      "100,000 names on standard input; these commands do not talk to ds01d.", "",
      "| command | time | names per second |", "|---|---:|---:|",
      f"| `ds01 -q username sanitize` | {ms(med(plain))} | {n(plain):,.0f} |",
      f"| `ds01 -q username sanitize --json` | {ms(med(js))} | {n(js):,.0f} |", "",
      "## CLI start-up", "", "| command | time |", "|---|---:|"]
L += [f"| `{c}` | {ms(med(r))} |" for c, r in startup.items()]
ctx_bytes, ctx_us = int(facts["ctx_bytes"]), int(facts["ctx_us"])
L += ["", "## Build context", "",
      "ds01 sends the Dockerfile and the user-setup script only (library, in-process: the",
      f"`context_size` example): {ctx_bytes:,} bytes for a catalog spec with every package group, made in",
      f"{ctx_us} µs (median of 51). DS01 sent the whole project workspace instead.", ""]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write("\n".join(L))
print(f"wrote {out}", file=sys.stderr)
for label, ours, a, theirs, b, ratio, target in rows:
    print(f"{label}: {ms(med(a))} vs {ms(med(b))} = {ratio:.2f}x ± {spread(a, b, ratio):.2f}", file=sys.stderr)
print(f"update {ms(med(update))}; rss {rss}", file=sys.stderr)
c = results("cluster")
one, slurm = c["ds01 container create --start (one server)"], c["ds01 container create, until running (Slurm)"]
print(f"create to running: one server {ms(med(one))}, Slurm {ms(med(slurm))} = {med(slurm) / med(one):.1f}x",
      file=sys.stderr)
