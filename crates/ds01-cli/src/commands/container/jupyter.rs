//! `ds01 container jupyter`: JupyterLab in a container, on the server's loopback, and the
//! two lines a user needs to reach it (the URL, the ssh tunnel from a laptop).

use clap::Args;
use ds01_api::endpoints::Jupyter;
use ds01_api::{ContainerName, JupyterRequest};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

pub(super) const JUPYTER_AFTER_HELP: &str = "\
Examples:
  ds01 container jupyter thesis
  ds01 container jupyter thesis --port 8890

JupyterLab runs as you inside the container (started if needed), its log in
~/.ds01/jupyter.log there. ds01d forwards 127.0.0.1:PORT on the server to it until the
container stops. Every user of the server can reach that port: the token in the URL is what
keeps them out, so do not share the URL. Running the command again prints the same URL.
The image needs JupyterLab: `ds01 image update NAME --add jupyterlab`.

With --json: {\"name\", \"port\", \"token\", \"url\", \"ssh\", \"log\", \"reused\"}";

#[derive(Debug, Args)]
pub struct JupyterArgs {
    /// The container name
    name: ContainerName,
    /// The port on the server's loopback (default: a free one from 8888 up)
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
}

pub(super) async fn jupyter(args: &JupyterArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    ctx.out
        .info(format!("starting JupyterLab in {}...", args.name.as_str()));
    let request = JupyterRequest { port: args.port };
    let server = ctx
        .client
        .ask(&Jupyter::new(args.name.clone(), request))
        .await?;
    if ctx.out.json() {
        ctx.out.print_json(&server)?;
        return Ok(ExitStatus::Success);
    }
    if server.reused {
        ctx.out.success("JupyterLab was running already");
    } else {
        ctx.out
            .success(format!("JupyterLab answers on 127.0.0.1:{}", server.port));
    }
    ctx.out.print(&server.url)?;
    ctx.out.info(format!(
        "From a laptop, open a tunnel, then the URL above there:\n  {}\nLog in the container: {}",
        server.ssh, server.log
    ));
    Ok(ExitStatus::Success)
}
