//! What a command shows: results on stdout (text or `--json`), messages and progress on
//! stderr. Bars and spinners only on a terminal; colour only on a terminal without
//! `NO_COLOR`; nothing but the JSON with `--json`, nothing but results with `-q`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use ds01_api::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// How this run talks to the user.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
    quiet: bool,
    verbose: u8,
    color: bool,
    terminal: bool,
}

impl Output {
    /// Decides from the flags, the environment and whether stderr is a terminal.
    pub fn new(global: &GlobalArgs) -> Output {
        let terminal = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            color: terminal && !no_color,
            terminal,
        }
    }

    /// Whether results are printed as JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Whether messages (not results) may go to stderr.
    fn chatty(&self) -> bool {
        !self.json && !self.quiet
    }

    /// A message about what is done, on stderr.
    pub fn info(&self, message: impl AsRef<str>) {
        if self.chatty() {
            eprintln!("{}", message.as_ref());
        }
    }

    /// A message shown only with `-v`.
    pub fn detail(&self, message: impl AsRef<str>) {
        if self.chatty() && self.verbose > 0 {
            eprintln!("{}", self.paint("2", message.as_ref()));
        }
    }

    /// A finished step, in green on a colour terminal.
    pub fn success(&self, message: impl AsRef<str>) {
        if self.chatty() {
            eprintln!("{}", self.paint("32", message.as_ref()));
        }
    }

    /// Something the user should notice, in yellow on a colour terminal.
    pub fn warn(&self, message: impl AsRef<str>) {
        if !self.json && !self.quiet {
            eprintln!(
                "{}",
                self.paint("33", &format!("note: {}", message.as_ref()))
            );
        }
    }

    /// Bold, for table headers.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Prints one JSON value as one line on stdout.
    pub fn print_json(&self, value: &impl Serialize) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value)
            .map_err(|e| CliError::failure("could not write JSON", e))?;
        writeln!(out).map_err(CliError::write)
    }

    /// Prints a line of results on stdout (in text mode; `-q` keeps results).
    pub fn print(&self, line: impl AsRef<str>) -> Result<(), CliError> {
        writeln!(std::io::stdout().lock(), "{}", line.as_ref()).map_err(CliError::write)
    }

    /// A progress sink for a long engine flow.
    pub fn progress(&self) -> ProgressView {
        let bar = (self.chatty() && self.terminal).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ProgressView { out: *self, bar }
    }
}

/// Renders engine progress: a spinner with the current stage and the last build line on a
/// terminal, plain stage lines otherwise (build output only with `-v`).
pub struct ProgressView {
    out: Output,
    bar: Option<ProgressBar>,
}

impl ProgressView {
    /// Clears the spinner so that the result can be printed.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for ProgressView {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl ProgressView {
    /// Shows one progress event.
    pub fn report(&mut self, event: Progress) {
        match (&self.bar, event) {
            (Some(bar), Progress::Stage(stage)) => {
                bar.set_prefix(stage);
                bar.set_message("");
            }
            (Some(bar), Progress::BuildOutput(line)) => {
                if self.out.verbose > 0 {
                    bar.println(line);
                } else {
                    bar.set_message(line);
                }
            }
            (Some(bar), Progress::Fallback(why)) => bar.println(
                self.out
                    .paint("33", &format!("note: {why}; setting the user up instead")),
            ),
            (None, Progress::Stage(stage)) => self.out.info(format!("{stage}...")),
            (None, Progress::BuildOutput(line)) => self.out.detail(line),
            (None, Progress::Fallback(why)) => {
                self.out.warn(format!("{why}; setting the user up instead"))
            }
            (Some(bar), Progress::Timing(text)) if self.out.verbose > 1 => {
                bar.println(self.out.paint("2", &text))
            }
            (None, Progress::Timing(text)) if self.out.verbose > 1 => self.out.detail(text),
            (_, Progress::Timing(_)) => {}
        }
    }
}
