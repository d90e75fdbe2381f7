//! `ds01 doctor`: what a user or admin checks first when something does not work. The
//! client checks that the service answers and who it takes the caller to be; the service
//! reports what it sees of the engine and the server.

use ds01_api::endpoints::{Doctor, Version, WhoAmI};
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
            if let Ok(Some(docker)) = client.ask(&Version).await.map(|v| v.docker_socket) {
                let answered = ping(std::path::Path::new(&docker));
                checks.push(Check {
                    check: "docker socket".into(),
                    ok: answered.is_ok(),
                    detail: match answered {
                        Ok(()) => format!("answers on {docker}: `eval \"$(ds01 docker-env)\"`"),
                        Err(e) => format!("{docker}: {e}"),
                    },
                });
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

/// Docker's `GET /_ping` on the Docker-API socket, answered `OK`.
fn ping(socket: &std::path::Path) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    let limit = Some(std::time::Duration::from_secs(5));
    stream.set_read_timeout(limit)?;
    stream.set_write_timeout(limit)?;
    stream.write_all(b"GET /_ping HTTP/1.1\r\nHost: ds01d\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.take(64 << 10).read_to_string(&mut answer)?;
    if answer.starts_with("HTTP/1.1 200") && answer.ends_with("OK") {
        Ok(())
    } else {
        let first = answer.lines().next().unwrap_or("no answer").to_owned();
        Err(std::io::Error::other(format!(
            "answered `{first}`, not Docker's OK"
        )))
    }
}

/// Runs `ds01 docker-env`: the `DOCKER_HOST` line, from ds01d's own word on where its
/// Docker-API socket is.
pub async fn docker_env(ctx: &crate::context::Context) -> Result<ExitStatus, CliError> {
    let version = ctx.client.ask(&Version).await?;
    let Some(socket) = version.docker_socket else {
        return Err(CliError::msg(
            "ds01d serves no Docker-API socket on this server; your admin turns it on with `docker_socket` in /etc/ds01/config.toml",
        ));
    };
    let host = format!("unix://{socket}");
    // The socket speaks the classic build API, not BuildKit's sessions.
    if ctx.out.json() {
        ctx.out
            .print_json(&serde_json::json!({ "DOCKER_HOST": host, "DOCKER_BUILDKIT": "0" }))?;
    } else {
        ctx.out.print(format!("export DOCKER_HOST={host}"))?;
        ctx.out.print("export DOCKER_BUILDKIT=0")?;
    }
    Ok(ExitStatus::Success)
}
