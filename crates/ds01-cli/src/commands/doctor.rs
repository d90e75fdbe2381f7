//! `ds01 doctor`: what a user or admin checks first when something does not work.

use ds01_dockerfile::Catalog;
use ds01_engine::{Engine, Identity};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::exit::{CliError, ExitStatus};
use crate::output::Output;

/// Below this much free space under the engine's root, builds and commits start failing.
const LOW_DISK_BYTES: u64 = 10 << 30;

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    ok: bool,
    detail: String,
}

/// Runs every check, prints one line (or JSON object) per check, and fails if any failed.
pub async fn run(global: &GlobalArgs) -> Result<ExitStatus, CliError> {
    let out = Output::new(global);
    let mut checks = Vec::new();
    let mut add = |check, ok, detail: String| checks.push(Check { check, ok, detail });

    match Identity::resolve(global.as_user.as_deref()) {
        Ok(who) => add(
            "identity",
            true,
            format!("acting for {who}, account {}", who.username()),
        ),
        // Root administers; it acts for users with --as and owns no containers itself.
        Err(ds01_engine::IdentityError::Root) => add(
            "identity",
            true,
            "root: pass --as LOGIN:UID:GID to act for a user".into(),
        ),
        Err(e) => add("identity", false, e.to_string()),
    }
    match Config::load() {
        Ok(config) => {
            let sources: Vec<String> = config
                .sources
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            add(
                "config",
                true,
                if sources.is_empty() {
                    "no configuration file; built-in defaults".into()
                } else {
                    format!("read {}", sources.join(", "))
                },
            );
            match Catalog::load(&config.catalog) {
                Ok(catalog) => add(
                    "catalog",
                    true,
                    format!("{}: {} images", config.catalog.display(), catalog.entries().len()),
                ),
                // Without a catalog only --framework is unavailable; custom bases still work.
                Err(e) => add(
                    "catalog",
                    !config.catalog_configured,
                    format!("{e} (set `catalog` in the configuration, or pass --catalog; needed only for --framework)"),
                ),
            }
        }
        Err(e) => add("config", false, e.to_string()),
    }
    match Engine::connect().await {
        Ok(engine) => {
            add(
                "engine",
                true,
                format!(
                    "reachable at {}, API {}",
                    engine.host(),
                    engine.api_version()
                ),
            );
            match engine.docker().info().await {
                Ok(info) => {
                    add(
                        "engine access",
                        true,
                        "you may use the engine (its API answered)".into(),
                    );
                    add(
                        "storage driver",
                        true,
                        format!(
                            "{} (Docker {})",
                            info.driver.unwrap_or_default(),
                            info.server_version.unwrap_or_default()
                        ),
                    );
                    let root = info
                        .docker_root_dir
                        .unwrap_or_else(|| "/var/lib/docker".into());
                    match free_bytes(&root) {
                        Some(free) => add(
                            "disk space",
                            free >= LOW_DISK_BYTES,
                            format!(
                                "{:.1} GiB free under {root}",
                                free as f64 / (1u64 << 30) as f64
                            ),
                        ),
                        None => add(
                            "disk space",
                            true,
                            format!("cannot measure {root} from here"),
                        ),
                    }
                }
                Err(e) => add("engine access", false, format!("the engine refused: {e}")),
            }
        }
        Err(e) => add("engine", false, e.to_string()),
    }

    let ok = checks.iter().all(|c| c.ok);
    for c in &checks {
        if out.json() {
            out.print_json(c)?;
        } else {
            out.print(format!(
                "{} {:<15} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.check,
                c.detail
            ))?;
        }
    }
    Ok(if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Free bytes on the filesystem holding `path`, as `df` reports them.
fn free_bytes(path: &str) -> Option<u64> {
    let output = std::process::Command::new("df")
        .args(["-Pk", path])
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.lines().nth(1)?;
    let available_kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(available_kib * 1024)
}
