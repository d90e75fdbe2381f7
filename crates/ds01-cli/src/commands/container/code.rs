//! `ds01 container code`: what VS Code on a laptop needs to work inside a container as the
//! user, without the Docker socket (users never get it): ssh to the server, and from there
//! `ds01 container exec -i` running an sshd of the user's own in the container, which VS
//! Code's Remote-SSH then talks to as to any host.

use clap::Args;
use ds01_api::endpoints::{ListContainers, ShowContainer};
use ds01_api::ContainerName;
use serde_json::json;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

pub(super) const CODE_AFTER_HELP: &str = "\
Prints an ssh config block for your laptop and the one-time setup of the container: VS
Code's Remote-SSH extension then connects to the host `ds01-NAME`. The connection runs
`ds01 container exec -i NAME` on this server and an sshd of yours inside the container
(the image needs openssh-server: `ds01 image update IMAGE --add-apt openssh-server`).
Dev Containers' \"attach to a running container\" needs the Docker socket, which ds01 does
not hand out, so no .devcontainer file is written.

ds01's tests follow these lines with ssh into the container's sshd; VS Code itself
is not run by them.";

#[derive(Debug, Args)]
pub struct CodeArgs {
    /// The container name
    name: ContainerName,
}

pub(super) async fn code(args: &CodeArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let containers = ctx.client.ask(&ListContainers::default()).await?;
    let name = args.name.as_str();
    let Some(found) = containers.iter().find(|c| c.name == name) else {
        return Err(CliError::msg(format!(
            "no container {name} of yours\n  `ds01 container list` shows yours"
        )));
    };
    // The owner's login (also with --as), and the account it has inside the container,
    // which only ds01d knows (DS01's scripts spelt it otherwise).
    let login = &found.user;
    let account = ctx
        .client
        .ask(&ShowContainer::new(args.name.clone()))
        .await?
        .account;
    let server = hostname();
    let dir = "$HOME/.ds01/ssh";
    let proxy = format!(
        "ssh -T {login}@{server} \"ds01 container exec -i {name} -- sh -c 'exec /usr/sbin/sshd -i -f {dir_escaped}/sshd_config'\"",
        dir_escaped = dir.replace('$', "\\$"),
    );
    let ssh_config = format!(
        "Host ds01-{name}\n    HostName ds01-{name}\n    User {account}\n    ProxyCommand {proxy}\n"
    );
    let setup = format!(
        "ds01 container exec {name} -- sh -c 'd={dir}; mkdir -p $d && chmod 700 $d && \
         {{ [ -f $d/host_key ] || ssh-keygen -q -t ed25519 -N \"\" -f $d/host_key; }} && \
         printf \"HostKey %s/host_key\\nAuthorizedKeysFile %s/authorized_keys\\nPidFile none\\nUsePAM no\\nStrictModes no\\n\" $d $d > $d/sshd_config'"
    );
    let authorize = format!(
        "ssh {login}@{server} \"ds01 container exec -i {name} -- sh -c 'cat >> ~/.ds01/ssh/authorized_keys'\" < ~/.ssh/id_ed25519.pub",
    );
    if ctx.out.json() {
        ctx.out.print_json(&json!({
            "name": name,
            "host": format!("ds01-{name}"),
            "ssh_config": ssh_config,
            "setup": setup,
            "authorize": authorize,
        }))?;
        return Ok(ExitStatus::Success);
    }
    ctx.out.print(format!(
        "# 1. Once, on this server: an sshd key and config of yours in the container\n{setup}\n\n\
         # 2. Once, on your laptop: let your key in\n{authorize}\n\n\
         # 3. In ~/.ssh/config on your laptop; then in VS Code: Remote-SSH: Connect to Host... ds01-{name}\n{ssh_config}"
    ))?;
    Ok(ExitStatus::Success)
}

/// This server's name, as the laptop's ssh should reach it (the admin may know better).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "SERVER".to_owned())
}
