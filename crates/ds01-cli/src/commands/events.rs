//! `ds01 events` and `ds01 why`: what ds01d did to your containers, and why.

use clap::Args;
use ds01_api::endpoints::{Events, EventsQuery, FollowEvents, Why};
use ds01_api::{ContainerName, Event};
use http_body_util::BodyExt;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ds01 events --since 2h
  ds01 events --container thesis --follow
With --json: one object per event: {\"time\", \"ts\", \"uid\", \"user\", \"container\", \"kind\", \"detail\"}")]
pub struct EventsArgs {
    /// Only events since then: a span back from now (`30m`, `2h`), Unix seconds, or RFC 3339
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only events of this container
    #[arg(long, value_name = "NAME")]
    container: Option<ContainerName>,
    /// Keep printing new events as they happen (Ctrl-C ends)
    #[arg(short, long)]
    follow: bool,
    /// Every user's events (admins)
    #[arg(long)]
    all_users: bool,
}

/// Runs `ds01 events`.
pub async fn events(args: &EventsArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let query = EventsQuery {
        since: args.since.clone(),
        container: args.container.as_ref().map(|c| c.to_string()),
        follow: args.follow,
        all_users: args.all_users,
    };
    if !args.follow {
        let list = ctx.client.ask(&Events(query)).await?;
        if list.is_empty() && !ctx.out.json() {
            ctx.out.info("no events");
        }
        for e in &list {
            print(ctx, e)?;
        }
        return Ok(ExitStatus::Success);
    }
    let mut body = ctx.client.lines(&FollowEvents(query)).await?;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| CliError::msg(format!("ds01d broke off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(e) = serde_json::from_slice::<Event>(&line) {
                print(ctx, &e)?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn print(ctx: &Context, e: &Event) -> Result<(), CliError> {
    if ctx.out.json() {
        return ctx.out.print_json(e);
    }
    ctx.out.print(format!(
        "{}  {:<24} {:<12} {}",
        e.time,
        ds01_api::shown(&e.container),
        e.kind,
        ds01_api::shown(&e.detail)
    ))
}

/// Runs `ds01 why NAME`.
pub async fn why(name: &ContainerName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let story = ctx.client.ask(&Why::new(name.clone())).await?;
    if ctx.out.json() {
        ctx.out.print_json(&story)?;
        return Ok(ExitStatus::Success);
    }
    for line in &story.story {
        ctx.out.print(ds01_api::shown(line))?;
    }
    Ok(ExitStatus::Success)
}
