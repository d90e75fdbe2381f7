//! `ds01 status` (the server as a user may see it) and `ds01 admin top` (who holds each GPU
//! and what the reaper stops next, for admins).

use std::time::Duration;

use ds01_api::endpoints::{AdminTopView, Status};
use ds01_api::{shown, AdminTop, ServerStatus};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};
use crate::output::Output;

/// "1 h 5 min", "40 s".
fn span(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

/// Runs `ds01 status`.
pub async fn status(ctx: &Context) -> Result<ExitStatus, CliError> {
    let status = ctx.client.ask(&Status).await?;
    if ctx.out.json() {
        ctx.out.print_json(&status)?;
    } else {
        render_status(&status, &ctx.out)?;
    }
    Ok(ExitStatus::Success)
}

fn render_status(s: &ServerStatus, out: &Output) -> Result<(), CliError> {
    if s.gpus.is_empty() {
        out.print("GPUs: none on this server")?;
    } else {
        let free = s.gpus.iter().filter(|g| !g.held).count();
        out.print(out.bold(&format!("GPUs: {free} of {} free", s.gpus.len())))?;
        for g in &s.gpus {
            let who = match (&g.user, g.held, g.mine) {
                (_, false, _) => "free".to_owned(),
                (_, true, true) => "yours".to_owned(),
                (Some(u), true, false) => format!("held by {}", shown(u)),
                (None, true, false) => "held".to_owned(),
            };
            let profile = g
                .profile
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            out.print(format!(
                "  {:<6} {}{profile}: {who}",
                g.slot,
                shown(&g.name)
            ))?;
        }
    }
    if s.high_demand {
        out.print("High-demand mode: idle timeouts are shorter while the GPUs are taken")?;
    }
    out.print(format!("Waiting for a GPU: {} request(s)", s.queue_length))?;
    for (name, position) in &s.my_queue {
        out.print(format!("  yours: {} at place {position}", shown(name)))?;
    }
    if s.containers.is_empty() {
        out.print("Your containers: none")?;
        return Ok(());
    }
    out.print(out.bold("Your containers:"))?;
    for c in &s.containers {
        let stop = match (&c.stops_in_secs, &c.stop_rule) {
            (Some(secs), Some(rule)) => format!(", stops in {} ({rule})", span(*secs)),
            _ => String::new(),
        };
        let gpus = if c.gpus.is_empty() {
            String::new()
        } else {
            format!(", GPUs {}", c.gpus.join(" "))
        };
        out.print(format!("  {:<20} {}{gpus}{stop}", shown(&c.name), c.state))?;
    }
    Ok(())
}

/// Runs `ds01 admin top`, once or (with `watch`) every `interval` until Ctrl-C.
pub async fn top(ctx: &Context, watch: bool, interval: u64) -> Result<ExitStatus, CliError> {
    loop {
        let top = ctx.client.ask(&AdminTopView).await?;
        if ctx.out.json() {
            ctx.out.print_json(&top)?;
        } else {
            if watch {
                // Home and clear, as top(1) redraws.
                print!("\x1b[H\x1b[2J");
            }
            render_top(&top, &ctx.out)?;
        }
        if !watch {
            return Ok(ExitStatus::Success);
        }
        tokio::time::sleep(Duration::from_secs(interval.max(1))).await;
    }
}

fn render_top(t: &AdminTop, out: &Output) -> Result<(), CliError> {
    out.print(out.bold(&format!(
        "{:<6} {:<24} {:<28} {:<24} {:>12} {:<5} {:>5}",
        "SLOT", "NAME", "CONTAINER", "USER", "HELD", "IDLE", "UTIL"
    )))?;
    for g in &t.gpus {
        out.print(format!(
            "{:<6} {:<24} {:<28} {:<24} {:>12} {:<5} {:>5}",
            g.slot,
            shown(&g.name),
            g.container
                .as_deref()
                .map(shown)
                .unwrap_or_else(|| "free".into()),
            g.user.as_deref().map(shown).unwrap_or_default(),
            g.held_secs.map(span).unwrap_or_default(),
            match g.idle {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            },
            g.utilisation
                .map(|u| format!("{u:.0}%"))
                .unwrap_or_else(|| "-".into()),
        ))?;
    }
    if t.high_demand {
        out.print("high-demand mode is on")?;
    }
    if t.next_stops.is_empty() {
        out.print("the reaper stops nothing while containers keep as they are")?;
        return Ok(());
    }
    out.print(out.bold("Next stops:"))?;
    for s in &t.next_stops {
        out.print(format!(
            "  in {:<14} {:<28} {:<24} {}",
            span(s.in_secs),
            shown(&s.container),
            shown(&s.user),
            s.rule
        ))?;
    }
    Ok(())
}
