//! What every service command needs: the connection to ds01d and the output settings.

use crate::cli::GlobalArgs;
use crate::client::Client;
use crate::exit::CliError;
use crate::output::Output;

/// The shared state of one command.
pub struct Context {
    pub client: Client,
    pub out: Output,
}

impl Context {
    /// Connects to the service, acting for `--as` when given (the service decides whether
    /// the caller may).
    pub async fn new(global: &GlobalArgs) -> Result<Context, CliError> {
        Ok(Context {
            out: Output::new(global),
            client: Client::connect(global.as_user.clone()).await?,
        })
    }
}

/// The caller's home directory, for `~` in paths.
pub fn home() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// Resolves `~` and relative paths the way the user's shell would, so that the service
/// gets absolute paths (it checks them again, without following links).
pub fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    let expanded = match (path.strip_prefix("~"), home()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_owned(),
    };
    if expanded.is_absolute() {
        return expanded;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&expanded))
        .unwrap_or(expanded)
}
