//! `ds01 username sanitize` and `ds01 username slice`.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};

use clap::{Args, Subcommand};
use ds01_username::{sanitize_compat, SliceGroup, SliceName, Username};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::exit::{CliError, ExitStatus};

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct UsernameArgs {
    #[command(subcommand)]
    command: UsernameCommand,
}

const SANITIZE_AFTER_HELP: &str = "\
Output:
  One line per input, in input order. A name that cannot be mapped gives an
  empty line on stdout (so line N of the output always belongs to line N of
  the input) and an error naming it on stderr (unless -q).
  With --json, one object per input line instead:
    {\"input\": \"h.baker@hertie-school.lan\", \"username\": \"h-baker\"}
    {\"input\": \"@x\", \"error\": \"`@x` maps to an empty account name; ...\"}

Examples:
  ds01 username sanitize h.baker@hertie-school.lan     # prints h-baker
  getent passwd | cut -d: -f1 | ds01 username sanitize
  ds01 username sanitize --json < logins.txt
  ds01 username sanitize --compat 'al:ice'             # prints al:ice
  ds01 username sanitize -- -n                         # a name that starts with `-`

Exit status:
  0  every name mapped (with --compat: every line was UTF-8 text)
  1  at least one name could not be mapped; the others are still printed
  2  usage error";

const SLICE_AFTER_HELP: &str = "\
The user part follows DS01's slice rules: `.`, `-` and every character outside
[A-Za-z0-9_:] become `_`, so systemd does not read the name as nested slices.
With --json: {\"input\": ..., \"slice\": ..., \"group\": ..., \"user\": ...}.

Examples:
  ds01 username slice --group student h.baker@hertie-school.lan
      # prints ds01-student-h_baker.slice

Exit status:
  0  the slice name was printed
  1  the login leaves an empty user part
  2  usage error, including a GROUP that is not a plain [a-z0-9_]+ word";

#[derive(Debug, Subcommand)]
enum UsernameCommand {
    /// Map login names to container account names
    ///
    /// Applies DS01's rules: drop everything from the first `@`, turn `.` and any
    /// character outside [A-Za-z0-9_:-] into `-`, collapse and trim `-`, and shorten
    /// names over 32 characters with a hash. Names no account can have (empty,
    /// holding `:`, all digits) are refused unless --compat is given.
    #[command(after_help = SANITIZE_AFTER_HELP)]
    Sanitize(SanitizeArgs),

    /// Print the systemd slice name `ds01-<group>-<user>.slice` for a login
    #[command(after_help = SLICE_AFTER_HELP)]
    Slice(SliceArgs),
}

#[derive(Debug, Args)]
struct SanitizeArgs {
    /// Login names to map; without any, names are read from stdin, one per line
    #[arg(value_name = "NAME")]
    names: Vec<String>,

    /// Print what DS01's old scripts gave, unusable names included (for migration tools)
    #[arg(long)]
    compat: bool,
}

#[derive(Debug, Args)]
struct SliceArgs {
    /// Resource group of the user, a plain [a-z0-9_]+ word such as `student`
    #[arg(long, value_name = "GROUP")]
    group: SliceGroup,

    /// Login name, e.g. h.baker@hertie-school.lan
    #[arg(value_name = "NAME")]
    name: String,
}

pub fn run(args: &UsernameArgs, global: &GlobalArgs) -> Result<ExitStatus, CliError> {
    match &args.command {
        UsernameCommand::Sanitize(args) => sanitize(args, global),
        UsernameCommand::Slice(args) => slice(args, global),
    }
}

/// One line of `--json` output; exactly one of `username` and `error` is present.
#[derive(Serialize)]
struct Record<'a> {
    input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Writes one result per input and counts the failures. Its buffers live as long as the
/// batch, so a line costs no allocation beyond the mapped name itself.
struct Sanitizer<'g, W: Write> {
    out: W,
    global: &'g GlobalArgs,
    compat: bool,
    /// Flush after each line, so results show up at once on a terminal or an interactive pipe.
    flush_each_line: bool,
    message: String,
    names: u64,
    failures: u64,
}

impl<W: Write> Sanitizer<'_, W> {
    fn name(&mut self, input: &str) -> io::Result<()> {
        self.names += 1;
        if self.compat {
            let mapped = sanitize_compat(input);
            return self.success(input, &mapped);
        }
        match Username::from_login(input) {
            Ok(user) => self.success(input, user.as_str()),
            Err(err) => {
                self.message.clear();
                // Writing into a String cannot fail.
                let _ = write!(self.message, "{err}");
                self.failure(input)
            }
        }
    }

    fn not_utf8(&mut self, bytes: &[u8], line: u64) -> io::Result<()> {
        self.names += 1;
        self.message.clear();
        let _ = write!(
            self.message,
            "line {line} of standard input is not valid UTF-8; login names are text"
        );
        self.failure(&String::from_utf8_lossy(bytes))
    }

    fn success(&mut self, input: &str, username: &str) -> io::Result<()> {
        if self.global.json {
            let record = Record {
                input,
                username: Some(username),
                error: None,
            };
            serde_json::to_writer(&mut self.out, &record)?;
            self.out.write_all(b"\n")?;
        } else {
            self.out.write_all(username.as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        self.end_line()
    }

    fn failure(&mut self, input: &str) -> io::Result<()> {
        self.failures += 1;
        if self.global.json {
            let record = Record {
                input,
                username: None,
                error: Some(&self.message),
            };
            serde_json::to_writer(&mut self.out, &record)?;
            self.out.write_all(b"\n")?;
        } else {
            // The empty line keeps output line N paired with input line N for `while read`.
            self.out.write_all(b"\n")?;
            if !self.global.quiet {
                if self.flush_each_line {
                    // So a terminal shows the message right after its empty line.
                    self.out.flush()?;
                }
                // One write per message: stderr is unbuffered, and a batch may hold many.
                self.message.insert_str(0, "error: ");
                self.message.push('\n');
                // A closed stderr must not stop the results that still go to stdout.
                let _ = io::stderr().write_all(self.message.as_bytes());
            }
        }
        self.end_line()
    }

    fn end_line(&mut self) -> io::Result<()> {
        if self.flush_each_line {
            self.out.flush()?;
        }
        Ok(())
    }
}

fn sanitize(args: &SanitizeArgs, global: &GlobalArgs) -> Result<ExitStatus, CliError> {
    let stdout = io::stdout();
    let interactive = stdout.is_terminal();
    let mut sanitizer = Sanitizer {
        out: BufWriter::with_capacity(64 * 1024, stdout.lock()),
        global,
        compat: args.compat,
        flush_each_line: interactive,
        message: String::new(),
        names: 0,
        failures: 0,
    };

    if args.names.is_empty() {
        let stdin = io::stdin();
        if stdin.is_terminal() && !global.quiet {
            eprintln!("Reading login names from standard input, one per line (Ctrl-D ends)...");
            sanitizer.flush_each_line = true;
        }
        read_lines(stdin.lock(), &mut sanitizer)?;
    } else {
        for name in &args.names {
            sanitizer.name(name).map_err(CliError::write)?;
        }
    }
    sanitizer.out.flush().map_err(CliError::write)?;

    if global.verbose > 0 {
        eprintln!(
            "{} names: {} mapped, {} refused",
            sanitizer.names,
            sanitizer.names - sanitizer.failures,
            sanitizer.failures
        );
    }
    Ok(if sanitizer.failures == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Feeds every line of `input` to the sanitizer, reusing one buffer. Lines end in `\n`; a
/// `\r` before it (files from Windows) is dropped, and so is a missing `\n` at the very end.
fn read_lines<W: Write>(
    mut input: impl BufRead,
    sanitizer: &mut Sanitizer<'_, W>,
) -> Result<(), CliError> {
    let mut line = Vec::with_capacity(256);
    let mut number = 0;
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::failure("could not read names from standard input", e))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let mut text = line.as_slice();
        if let Some(rest) = text.strip_suffix(b"\n") {
            text = rest;
        }
        if let Some(rest) = text.strip_suffix(b"\r") {
            text = rest;
        }
        match std::str::from_utf8(text) {
            Ok(name) => sanitizer.name(name),
            Err(_) => sanitizer.not_utf8(text, number),
        }
        .map_err(CliError::write)?;
    }
}

/// The `--json` output of `slice`; either the three names or `error` is present.
#[derive(Serialize)]
struct SliceRecord<'a> {
    input: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    slice: Option<SliceParts<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct SliceParts<'a> {
    slice: &'a str,
    group: &'a str,
    user: &'a str,
}

fn slice(args: &SliceArgs, global: &GlobalArgs) -> Result<ExitStatus, CliError> {
    let result = SliceName::new(&args.group, &args.name);
    let mut out = io::stdout().lock();
    if global.json {
        let record = SliceRecord {
            input: &args.name,
            slice: result.as_ref().ok().map(|slice| SliceParts {
                slice: slice.as_str(),
                group: slice.group(),
                user: slice.user(),
            }),
            error: result.as_ref().err().map(ToString::to_string),
        };
        serde_json::to_writer(&mut out, &record)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(CliError::write)?;
    } else if let Ok(slice) = &result {
        writeln!(out, "{slice}").map_err(CliError::write)?;
    } else if let Err(err) = &result {
        if !global.quiet {
            eprintln!("error: {err}");
        }
    }
    Ok(match result {
        Ok(_) => ExitStatus::Success,
        Err(_) => ExitStatus::Failure,
    })
}
