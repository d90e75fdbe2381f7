//! `ds01 usage` (your own), `ds01 admin usage` and `ds01 admin report` (the admin's): one
//! request each to the usage ledger, rendered as a table, CSV, JSON or Markdown.

use clap::{Args, Subcommand, ValueEnum};
use ds01_api::endpoints::{AdminReport, AdminUsage, Usage};
use ds01_api::{
    AdminUsageQuery, ReportQuery, UsageBy, UsageQuery, UsageReport, UsageRow, UsageTable,
    UsageTotals,
};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  ds01 usage
  ds01 usage --since 7d --json
GPU time is in full-GPU equivalents (a MIG slice counts its share of a GPU); idle GPU time
was held while the container used no CPU and had no open session (and, where the server
can measure it, no GPU). With --json: one object {\"user\", \"uid\", \"since\", \"until\",
\"gpu_seconds\", \"idle_gpu_seconds\", \"cpu_seconds\", \"memory_byte_seconds\",
\"gpu_util_percent\", \"containers\": [one object per container]}.")]
pub struct UsageArgs {
    /// From when: a span back from now (`30d`, `12h`), Unix seconds or RFC 3339
    #[arg(long, value_name = "WHEN", default_value = "30d")]
    since: String,
}

/// The admin's commands on the ledger (part of `ds01 admin`).
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Show one month's usage by user, group or container
    #[command(after_help = "\
Examples:
  ds01 admin usage --by group --month 2026-11
  ds01 admin usage --by container --format csv > november.csv")]
    Usage {
        /// How rows are grouped
        #[arg(long, value_enum, default_value = "user")]
        by: By,
        /// The month, YYYY-MM (UTC); default the current one
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// How to print it (--json is --format json)
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Print the monthly report (Markdown) and post its JSON to the configured webhook
    #[command(after_help = "\
Example:
  ds01 admin report --month 2026-11 > report-2026-11.md
GPU-hours by user and group, idle GPU-hours held, the top holders, the change from the
month before, and accounts unused for --unused-days. With a `[usage] webhook` in ds01d's
configuration, ds01d posts the report as JSON there (--no-webhook: it does not).")]
    Report {
        /// The month, YYYY-MM (UTC); default the previous one
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// List accounts with no use for this many days
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        unused_days: u32,
        /// Do not post the report to the webhook
        #[arg(long)]
        no_webhook: bool,
    },
}

/// `--by`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    User,
    Group,
    Container,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Runs `ds01 usage`.
pub async fn own(args: &UsageArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let query = UsageQuery {
        since: Some(args.since.clone()),
    };
    let summary = ctx.client.ask(&Usage(query)).await?;
    if ctx.out.json() {
        ctx.out.print_json(&summary)?;
        return Ok(ExitStatus::Success);
    }
    ctx.out.print(format!(
        "{} since {}: {}",
        ds01_api::shown(&summary.user),
        clock(summary.since),
        totals_sentence(&summary.totals)
    ))?;
    if summary.containers.is_empty() {
        return Ok(ExitStatus::Success);
    }
    ctx.out.print(ctx.out.bold(&format!(
        "{:<28} {:>9} {:>9} {:>9} {:>11}  GPUS",
        "CONTAINER", "GPU-H", "IDLE-H", "CPU-H", "MEM-GIB-H"
    )))?;
    for c in &summary.containers {
        let t = &c.totals;
        ctx.out.print(format!(
            "{:<28} {:>9} {:>9} {:>9} {:>11}  {}",
            ds01_api::shown(&c.container),
            hours(t.gpu_seconds),
            hours(t.idle_gpu_seconds),
            hours(t.cpu_seconds),
            gib_hours(t.memory_byte_seconds),
            c.gpus.join(",")
        ))?;
    }
    Ok(ExitStatus::Success)
}

/// Runs `ds01 admin usage` and `ds01 admin report`.
pub async fn admin(command: &LedgerCommand, ctx: &Context) -> Result<ExitStatus, CliError> {
    match command {
        LedgerCommand::Usage { by, month, format } => {
            let by = match by {
                By::User => UsageBy::User,
                By::Group => UsageBy::Group,
                By::Container => UsageBy::Container,
            };
            let table = ctx
                .client
                .ask(&AdminUsage(AdminUsageQuery {
                    by,
                    month: month.clone(),
                }))
                .await?;
            let format = if ctx.out.json() {
                Format::Json
            } else {
                *format
            };
            for line in render_table(&table, format) {
                ctx.out.print(line)?;
            }
            Ok(ExitStatus::Success)
        }
        LedgerCommand::Report {
            month,
            unused_days,
            no_webhook,
        } => {
            let report = ctx
                .client
                .ask(&AdminReport(ReportQuery {
                    month: month.clone(),
                    unused_days: *unused_days,
                    webhook: !no_webhook,
                }))
                .await?;
            if let Some(hook) = &report.webhook {
                match (&hook.error, hook.status) {
                    (Some(e), _) => ctx.out.warn(format!(
                        "the report was not posted to {}: {}",
                        ds01_api::shown(&hook.url),
                        ds01_api::shown(e)
                    )),
                    (None, Some(s)) if !(200..300).contains(&s) => ctx.out.warn(format!(
                        "{} answered the report with HTTP {s}",
                        ds01_api::shown(&hook.url)
                    )),
                    _ => ctx
                        .out
                        .info(format!("posted to {}", ds01_api::shown(&hook.url))),
                }
            }
            if ctx.out.json() {
                ctx.out.print_json(&report)?;
            } else {
                ctx.out.print(markdown(&report))?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// Hours with two decimals.
fn hours(seconds: f64) -> String {
    format!("{:.2}", seconds / 3600.0)
}

fn gib_hours(byte_seconds: f64) -> String {
    format!("{:.1}", byte_seconds / 3600.0 / f64::from(1u32 << 30))
}

/// `2026-11-05 10:00 UTC`.
pub(crate) fn clock(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn totals_sentence(t: &UsageTotals) -> String {
    let util = t
        .gpu_util_percent
        .map(|u| format!(", GPU utilisation {u:.0} %"))
        .unwrap_or_default();
    format!(
        "{} GPU-hours ({} of them idle), {} CPU-hours, {} GiB-hours of memory limit{util}",
        hours(t.gpu_seconds),
        hours(t.idle_gpu_seconds),
        hours(t.cpu_seconds),
        gib_hours(t.memory_byte_seconds)
    )
}

/// The lines of an admin table in `format`.
fn render_table(table: &UsageTable, format: Format) -> Vec<String> {
    let head = table.by.as_str().to_ascii_uppercase();
    match format {
        Format::Json => vec![serde_json::to_string(table).unwrap_or_default()],
        Format::Csv => {
            let mut lines = vec![format!(
                "{},user,group,containers,gpu_seconds,idle_gpu_seconds,cpu_seconds,memory_byte_seconds",
                table.by.as_str()
            )];
            lines.extend(table.rows.iter().map(|r| {
                format!(
                    "{},{},{},{},{:.3},{:.3},{:.3},{:.0}",
                    csv_field(&r.key),
                    csv_field(r.user.as_deref().unwrap_or("")),
                    csv_field(r.group.as_deref().unwrap_or("")),
                    r.containers,
                    r.totals.gpu_seconds,
                    r.totals.idle_gpu_seconds,
                    r.totals.cpu_seconds,
                    r.totals.memory_byte_seconds
                )
            }));
            lines
        }
        Format::Table => {
            // The second column says what the key does not: a user's group, a container's user.
            let (second, of): (&str, fn(&UsageRow) -> Option<&str>) = match table.by {
                UsageBy::User => ("GROUP", |r| r.group.as_deref()),
                UsageBy::Container => ("USER", |r| r.user.as_deref()),
                UsageBy::Group => ("", |_| None),
            };
            let mut lines = vec![format!(
                "{:<32} {:<14} {:>4} {:>9} {:>9} {:>9} {:>11}",
                head, second, "CTRS", "GPU-H", "IDLE-H", "CPU-H", "MEM-GIB-H"
            )];
            lines.extend(table.rows.iter().map(|r| {
                format!(
                    "{:<32} {:<14} {:>4} {:>9} {:>9} {:>9} {:>11}",
                    ds01_api::shown(&r.key),
                    ds01_api::shown(of(r).unwrap_or("")),
                    r.containers,
                    hours(r.totals.gpu_seconds),
                    hours(r.totals.idle_gpu_seconds),
                    hours(r.totals.cpu_seconds),
                    gib_hours(r.totals.memory_byte_seconds)
                )
            }));
            if table.rows.is_empty() {
                lines.push(format!("no usage recorded in {}", table.month));
            }
            lines
        }
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Text fit for a Markdown table cell.
fn cell(text: &str) -> String {
    ds01_api::shown(text).replace('|', "\\|")
}

fn user_rows(rows: &[UsageRow], with_group: bool) -> String {
    let mut out = String::new();
    for r in rows {
        let group = if with_group {
            format!(" {} |", cell(r.group.as_deref().unwrap_or("")))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| {} |{group} {} | {} | {} | {} |\n",
            cell(&r.key),
            r.containers,
            hours(r.totals.gpu_seconds),
            hours(r.totals.idle_gpu_seconds),
            hours(r.totals.cpu_seconds)
        ));
    }
    out
}

/// The report as Markdown.
fn markdown(r: &UsageReport) -> String {
    let t = &r.totals;
    let idle_share = if t.gpu_seconds > 0.0 {
        format!(" ({:.0} %)", t.idle_gpu_seconds / t.gpu_seconds * 100.0)
    } else {
        String::new()
    };
    let mut md = format!(
        "# GPU and CPU usage, {}\n\n{} to {}.\n\n- GPU-hours: {}\n- idle GPU-hours held: {}{idle_share}\n- CPU-hours: {}\n- GiB-hours of memory limit: {}\n",
        r.month,
        clock(r.from),
        clock(r.until),
        hours(t.gpu_seconds),
        hours(t.idle_gpu_seconds),
        hours(t.cpu_seconds),
        gib_hours(t.memory_byte_seconds)
    );
    md.push_str("\n## By user\n\n| user | group | containers | GPU-hours | idle GPU-hours | CPU-hours |\n|---|---|---:|---:|---:|---:|\n");
    md.push_str(&user_rows(&r.by_user, true));
    md.push_str("\n## By group\n\n| group | containers | GPU-hours | idle GPU-hours | CPU-hours |\n|---|---:|---:|---:|---:|\n");
    md.push_str(&user_rows(&r.by_group, false));
    md.push_str("\n## Top holders\n\n| container | user | GPU-hours | idle GPU-hours |\n|---|---|---:|---:|\n");
    for h in &r.top_holders {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&h.key),
            cell(h.user.as_deref().unwrap_or("")),
            hours(h.totals.gpu_seconds),
            hours(h.totals.idle_gpu_seconds)
        ));
    }
    md.push_str(&format!(
        "\n## Against {}\n\nGPU-hours then: {}, now: {}.\n\n| user | {} | {} |\n|---|---:|---:|\n",
        r.previous_month,
        hours(r.previous_totals.gpu_seconds),
        hours(t.gpu_seconds),
        r.previous_month,
        r.month
    ));
    for c in &r.change {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            cell(&c.user),
            hours(c.previous_gpu_seconds),
            hours(c.gpu_seconds)
        ));
    }
    md.push_str(&format!(
        "\n## Accounts unused for {} days\n\n",
        r.unused_days
    ));
    if r.unused.is_empty() {
        md.push_str("None.\n");
    } else {
        md.push_str("| user | UID | last use |\n|---|---:|---|\n");
        for u in &r.unused {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&u.user),
                u.uid,
                u.last_used.map_or_else(|| "never".to_owned(), clock)
            ));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, gpu_seconds: f64) -> UsageRow {
        UsageRow {
            key: key.into(),
            user: Some(key.into()),
            group: Some("student".into()),
            containers: 1,
            totals: UsageTotals {
                gpu_seconds,
                ..Default::default()
            },
        }
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let table = UsageTable {
            month: "2026-11".into(),
            by: UsageBy::User,
            from: 0,
            until: 0,
            rows: vec![row("ann", 7200.0), row("b,\"x\"", 0.0)],
        };
        let lines = render_table(&table, Format::Csv);
        assert_eq!(
            lines[0],
            "user,user,group,containers,gpu_seconds,idle_gpu_seconds,cpu_seconds,memory_byte_seconds"
        );
        assert_eq!(lines[1], "ann,ann,student,1,7200.000,0.000,0.000,0");
        assert!(lines[2].starts_with("\"b,\"\"x\"\"\","), "{}", lines[2]);
    }

    #[test]
    fn the_table_shows_what_the_key_does_not() {
        let mut table = UsageTable {
            month: "2026-11".into(),
            by: UsageBy::Container,
            from: 0,
            until: 0,
            rows: vec![row("a._.1000", 3600.0)],
        };
        table.rows[0].user = Some("ann".into());
        let lines = render_table(&table, Format::Table);
        assert!(lines[0].starts_with("CONTAINER") && lines[0].contains(" USER "));
        assert!(lines[1].starts_with("a._.1000") && lines[1].contains(" ann "));
        assert!(lines[1].contains(" 1.00 "), "{}", lines[1]);
        table.by = UsageBy::Group;
        assert_eq!(
            render_table(&table, Format::Table)[0]
                .matches("GROUP")
                .count(),
            1
        );
        table.rows.clear();
        assert_eq!(
            render_table(&table, Format::Table)[1],
            "no usage recorded in 2026-11"
        );
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(clock(0), "1970-01-01 00:00 UTC");
        assert_eq!(hours(5400.0), "1.50");
    }
}
