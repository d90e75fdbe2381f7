//! `GET /v1/doctor`: what the service can see of the server (the client adds what only it
//! can see, such as whether the socket answers at all).

use std::path::Path;

use ds01_api::Check;
use ds01_dockerfile::Catalog;

use crate::authz::BaseRule;
use crate::Daemon;

/// Below this much free space under the engine's root, builds and commits start failing.
const LOW_DISK_BYTES: u64 = 10 << 30;

/// Every check, in the order an admin reads them.
pub async fn doctor(d: &Daemon) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |check: &str, ok: bool, detail: String| {
        checks.push(Check {
            check: check.to_owned(),
            ok,
            detail,
        })
    };
    add(
        "config",
        true,
        match &d.config.source {
            Some(p) => format!("ds01d read {}", p.display()),
            None => "no configuration file; built-in defaults".into(),
        },
    );
    add(
        "docker socket",
        true,
        match &d.docker_socket {
            Some(p) => format!(
                "users' docker, docker-compose and SDKs: DOCKER_HOST=unix://{} (`ds01 docker-env`)",
                p.display()
            ),
            None => "no Docker-API socket (`docker_socket` in the configuration)".into(),
        },
    );
    match d.engine.info().await {
        Ok(info) => {
            add(
                "engine",
                true,
                format!(
                    "Docker Engine {} (API {}), storage driver {}",
                    info.version, info.api_version, info.storage_driver
                ),
            );
            // Informational: per-container limits still apply with cgroupfs.
            add(
                "aggregate limits",
                true,
                if info.cgroup_driver == "systemd" {
                    "the engine uses the systemd cgroup driver: per-user slices are possible".into()
                } else {
                    format!(
                        "the engine uses the {} cgroup driver: per-user aggregate limits are off, per-container limits apply",
                        info.cgroup_driver
                    )
                },
            );
            // Informational: either way `disk` is enforced, by the driver or the reaper.
            add("disk limits", true, d.disk_mechanism.describe(&info));
            match free_bytes(Path::new(&info.root_dir)) {
                Some(free) => add(
                    "disk",
                    free >= LOW_DISK_BYTES,
                    format!("{} GiB free under {}", free >> 30, info.root_dir),
                ),
                None => add("disk", true, format!("cannot see {}", info.root_dir)),
            }
        }
        Err(e) => add("engine", false, e.to_string()),
    }
    match Catalog::load(&d.config.catalog) {
        Ok(c) => add(
            "catalog",
            true,
            format!(
                "{} entries in {}",
                c.entries().len(),
                d.config.catalog.display()
            ),
        ),
        Err(e) => add(
            "catalog",
            d.config.file.catalog.is_none(),
            format!("{e} (only `--framework` needs it)"),
        ),
    }
    // A warning, not a failure: the default refuses other users' images already, but
    // lets users build on anything else an admin or a pull left on the engine.
    let bases = BaseRule::from_config(&d.config);
    add(
        "image bases",
        true,
        match bases {
            BaseRule::NotAUsers => format!("warning: {}", bases.describe()),
            BaseRule::Listed(_) => bases.describe(),
        },
    );
    for root in &d.config.file.mount_roots {
        let nosuid = mount_is_nosuid(root);
        add(
            "mount root",
            nosuid != Some(false),
            match nosuid {
                Some(true) => format!("{} is on a nosuid file system", root.display()),
                Some(false) => format!(
                    "{} is not on a nosuid file system: where sudo is allowed, container root could plant setuid binaries there; mount it nosuid",
                    root.display()
                ),
                None => format!("{} cannot be checked", root.display()),
            },
        );
    }
    add(
        "state",
        true,
        format!(
            "journals, specs and the audit log in {}",
            d.state_dir.display()
        ),
    );
    checks
}

fn free_bytes(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

fn mount_is_nosuid(path: &Path) -> Option<bool> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.flags().contains(nix::sys::statvfs::FsFlags::ST_NOSUID))
}
