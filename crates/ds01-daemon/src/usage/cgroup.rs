//! A container's CPU counter and memory limit read from its cgroup's files, the same
//! counters the engine's stats report. The engine's stats call waits for its collector's
//! next tick (about a second per container on Docker 20.10), which makes a round over
//! hundreds of containers take minutes; the files take microseconds. A container's cgroup
//! is found once, from its first process's `/proc/<pid>/cgroup`, and kept by ID (its path
//! does not change when it restarts). Where no file can be read (another cgroup layout, a
//! ds01d outside the host's mount namespace), the engine's stats are used.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use ds01_engine::UsageReading;

const ROOT: &str = "/sys/fs/cgroup";

/// Where one container's counters are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Files {
    /// cgroup v1: `cpuacct.usage` (ns) and `memory.limit_in_bytes`.
    V1 { cpu: PathBuf, memory: PathBuf },
    /// cgroup v2: `cpu.stat` (`usage_usec`) and `memory.max`.
    V2 { dir: PathBuf },
}

/// The cgroups found so far, by container ID.
#[derive(Default)]
pub(crate) struct Cgroups(Mutex<HashMap<String, Files>>);

impl Cgroups {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Files>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Container `id`'s counters now, if its cgroup is known and readable.
    pub fn read(&self, id: &str) -> Option<UsageReading> {
        let files = self.lock().get(id)?.clone();
        read(&files)
    }

    /// Finds container `id`'s cgroup from its process `pid`; whether it can be read.
    pub fn learn(&self, id: &str, pid: u32) -> bool {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        match locate(&text, Path::new(ROOT)).filter(|f| read(f).is_some()) {
            Some(files) => {
                self.lock().insert(id.to_owned(), files);
                true
            }
            None => false,
        }
    }

    /// Forgets the containers not in `keep`.
    pub fn keep(&self, keep: &HashSet<&str>) {
        self.lock().retain(|id, _| keep.contains(id.as_str()));
    }
}

/// The counters' files from a `/proc/<pid>/cgroup` text, under `root`.
fn locate(proc_cgroup: &str, root: &Path) -> Option<Files> {
    let mut v1_cpu = None;
    let mut v1_memory = None;
    let mut v2 = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if controllers.is_empty() {
            v2 = Some(root.join(relative));
        }
        for c in controllers.split(',') {
            match c {
                "cpuacct" => v1_cpu = Some((controllers.to_owned(), relative.to_owned())),
                "memory" => v1_memory = Some(relative.to_owned()),
                _ => {}
            }
        }
    }
    if let (Some((mount, cpu)), Some(memory)) = (v1_cpu, v1_memory) {
        // `cpuacct` is mounted alone or joined with `cpu` (as `cpu,cpuacct`).
        let cpu = [mount.as_str(), "cpuacct", "cpu,cpuacct"]
            .iter()
            .map(|m| root.join(m).join(&cpu).join("cpuacct.usage"))
            .find(|p| p.exists())?;
        return Some(Files::V1 {
            cpu,
            memory: root
                .join("memory")
                .join(memory)
                .join("memory.limit_in_bytes"),
        });
    }
    v2.map(|dir| Files::V2 { dir })
}

fn read(files: &Files) -> Option<UsageReading> {
    let (cpu_ns, limit) = match files {
        Files::V1 { cpu, memory } => (
            std::fs::read_to_string(cpu).ok()?.trim().parse().ok()?,
            std::fs::read_to_string(memory)
                .ok()?
                .trim()
                .parse::<u64>()
                .ok(),
        ),
        Files::V2 { dir } => {
            let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
            let usec: u64 = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))?
                .trim()
                .parse()
                .ok()?;
            let max = std::fs::read_to_string(dir.join("memory.max")).ok()?;
            (usec.saturating_mul(1000), max.trim().parse::<u64>().ok())
        }
    };
    // No limit (v2's `max`, v1's page-rounded 2^63): the host's memory, as the engine says.
    let host = *HOST_MEMORY;
    Some(UsageReading {
        cpu_ns,
        memory_limit: limit.map_or(host, |l| if host > 0 { l.min(host) } else { l }),
    })
}

/// The host's memory in bytes (`MemTotal`), 0 when unknown.
static HOST_MEMORY: LazyLock<u64> = LazyLock::new(|| {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
});

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";

    #[test]
    fn v1_files_are_found_under_the_cpuacct_and_memory_mounts() {
        let root = tempfile::tempdir().unwrap();
        let cpu = root.path().join("cpu,cpuacct/docker/abc");
        let memory = root.path().join("memory/docker/abc");
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::create_dir_all(&memory).unwrap();
        std::fs::write(cpu.join("cpuacct.usage"), "123456789\n").unwrap();
        std::fs::write(memory.join("memory.limit_in_bytes"), "16777216\n").unwrap();
        let files = locate(V1, root.path()).unwrap();
        assert_eq!(
            read(&files),
            Some(UsageReading {
                cpu_ns: 123_456_789,
                memory_limit: 16 << 20
            })
        );
        // No limit: the host's memory.
        std::fs::write(
            memory.join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        assert_eq!(read(&files).unwrap().memory_limit, *HOST_MEMORY);
    }

    #[test]
    fn v2_reads_cpu_stat_and_memory_max() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("system.slice/docker-abc.scope");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 2500\nuser_usec 2000\n").unwrap();
        std::fs::write(dir.join("memory.max"), "max\n").unwrap();
        let files = locate("0::/system.slice/docker-abc.scope\n", root.path()).unwrap();
        let r = read(&files).unwrap();
        assert_eq!((r.cpu_ns, r.memory_limit), (2_500_000, *HOST_MEMORY));
        assert_eq!(locate("garbage", root.path()), None);
    }
}
