//! What every engine command needs: who it acts for, the configuration, the connected
//! engine, where image specs live, and the labels its resources must carry.

use std::path::PathBuf;

use ds01_engine::{Engine, Identity};

use crate::cli::GlobalArgs;
use crate::config::{self, Config};
use crate::exit::CliError;
use crate::output::Output;
use crate::store::SpecStore;

/// Labels added to every resource the command creates, as `k=v,k2=v2`. Hidden on purpose:
/// it is for test suites and admin tooling that must find what they made.
const RESOURCE_LABELS_ENV: &str = "DS01_RESOURCE_LABELS";

/// Overrides where image specs are kept (`<dir>/users/<uid>/images`).
const STATE_DIR_ENV: &str = "DS01_STATE_DIR";

/// The shared state of one engine command.
pub struct Context {
    pub who: Identity,
    pub acting_for_other: bool,
    pub config: Config,
    pub engine: Engine,
    pub out: Output,
    pub store: SpecStore,
    pub resource_labels: Vec<(String, String)>,
}

impl Context {
    /// Resolves the identity, reads the configuration and connects to the engine.
    pub async fn new(global: &GlobalArgs) -> Result<Context, CliError> {
        let out = Output::new(global);
        let who = Identity::resolve(global.as_user.as_deref())?;
        let config = Config::load()?;
        let resource_labels = resource_labels()?;
        let store = spec_store(&who, global.as_user.is_some(), &config);
        let engine = Engine::connect().await?;
        Ok(Context {
            who,
            acting_for_other: global.as_user.is_some(),
            config,
            engine,
            out,
            store,
            resource_labels,
        })
    }

    /// The home directory of the user acted for: `$HOME` for the caller, the passwd entry
    /// for `--as` (which may not exist on this host for LDAP users that never logged in).
    pub fn user_home(&self) -> Option<PathBuf> {
        if self.acting_for_other {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(self.who.uid()))
                .ok()
                .flatten()
                .map(|u| u.dir)
        } else {
            config::home()
        }
    }
}

/// Where image specs live: `DS01_STATE_DIR`, else the configured state dir for `--as`,
/// else the caller's own config directory.
fn spec_store(who: &Identity, acting_for_other: bool, config: &Config) -> SpecStore {
    let dir = match std::env::var_os(STATE_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(state) => per_user(PathBuf::from(state), who),
        None if acting_for_other => per_user(config.state_dir.clone(), who),
        None => config::config_home()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("ds01/images"),
    };
    let legacy = (!acting_for_other)
        .then(config::home)
        .flatten()
        .map(|h| h.join("dockerfiles"));
    SpecStore::new(dir, legacy)
}

fn per_user(state: PathBuf, who: &Identity) -> PathBuf {
    state
        .join("users")
        .join(who.uid().to_string())
        .join("images")
}

fn resource_labels() -> Result<Vec<(String, String)>, CliError> {
    let Ok(value) = std::env::var(RESOURCE_LABELS_ENV) else {
        return Ok(vec![]);
    };
    value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    CliError::usage(format!("{RESOURCE_LABELS_ENV}: `{pair}` is not KEY=VALUE"))
                })
        })
        .collect()
}

/// Resolves when the user presses Ctrl-C; engine flows then roll back what they made.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // Without a signal handler there is nothing to wait for.
        std::future::pending::<()>().await;
    }
}
