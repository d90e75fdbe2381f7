//! `ds01 container logs NAME [-f] [--tail N]`: the container's output through ds01d's frame
//! stream; stdout to stdout, stderr to stderr. `-f` follows until Ctrl-C or the container
//! stops.

use std::io::Write;

use clap::Args;
use ds01_api::endpoints::Logs;
use ds01_api::frames::{Decoder, Frame};
use ds01_api::{ContainerName, LogsRequest};
use tokio::io::AsyncReadExt;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub(super) struct LogsArgs {
    /// The container name
    name: ContainerName,
    /// Keep printing new output until Ctrl-C or the container stops
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines of what is there already
    #[arg(long, value_name = "N")]
    tail: Option<u32>,
}

pub(super) async fn logs(args: &LogsArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let request = LogsRequest {
        follow: args.follow,
        tail: args.tail,
    };
    let (io, _) = ctx
        .client
        .frames(&Logs::new(args.name.clone(), request))
        .await?;
    let mut from_service = io;
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 16 * 1024];
    let broken = |e: std::io::Error| CliError::failure("the stream from ds01d broke off", e);
    loop {
        let n = from_service.read(&mut buf).await.map_err(broken)?;
        if n == 0 {
            return Err(CliError::msg("ds01d ended the logs without saying so"));
        }
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder
            .next_frame()
            .map_err(|e| CliError::msg(e.to_string()))?
        {
            match frame {
                Frame::Stdout(bytes) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes).map_err(CliError::write)?;
                    out.flush().map_err(CliError::write)?;
                }
                Frame::Stderr(bytes) => {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(&bytes);
                    let _ = err.flush();
                }
                Frame::Exit(_) => return Ok(ExitStatus::Success),
                Frame::Error(e) => return Err(e.into()),
                _ => {}
            }
        }
    }
}
