//! `ds01 doctor`: what a user or admin checks first when something does not work. The
//! client checks that the service answers and who it takes the caller to be; the service
//! reports what it sees of the engine and the server.

use ds01_api::endpoints::{Doctor, WhoAmI};
use ds01_api::Check;

use crate::cli::GlobalArgs;
use crate::client::{socket_path, Client};
use crate::exit::{CliError, ExitStatus};
use crate::output::Output;

/// Runs every check, prints one line (or JSON object) per check, and fails if any failed.
pub async fn run(global: &GlobalArgs) -> Result<ExitStatus, CliError> {
    let out = Output::new(global);
    let mut checks = Vec::new();
    let socket = socket_path();
    match Client::connect(None).await {
        Ok(client) => {
            checks.push(Check {
                check: "service".into(),
                ok: true,
                detail: format!("ds01d answers on {}", socket.display()),
            });
            match client.ask(&WhoAmI).await {
                Ok(me) => checks.push(Check {
                    check: "identity".into(),
                    ok: true,
                    detail: format!(
                        "{} (UID {}){}, by the kernel's peer credentials; ds01d {}",
                        ds01_api::shown(&me.login),
                        me.uid,
                        if me.admin { ", admin" } else { "" },
                        me.daemon_version
                    ),
                }),
                Err(e) => checks.push(Check {
                    check: "identity".into(),
                    ok: false,
                    detail: e.to_string(),
                }),
            }
            match client.ask(&Doctor).await {
                Ok(found) => checks.extend(found),
                Err(e) => checks.push(Check {
                    check: "server".into(),
                    ok: false,
                    detail: e.to_string(),
                }),
            }
        }
        Err(e) => checks.push(Check {
            check: "service".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
    let ok = checks.iter().all(|c| c.ok);
    for c in &checks {
        if out.json() {
            out.print_json(c)?;
        } else {
            out.print(format!(
                "{} {:<17} {}",
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
