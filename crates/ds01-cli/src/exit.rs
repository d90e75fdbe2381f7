//! Exit statuses and the one place where a failed command is reported.

use std::error::Error;
use std::fmt;
use std::io;
use std::process::ExitCode;

use ds01_api::{ApiError, ErrorCode, Reason};

/// How `ds01` ends. The numbers are part of the interface: scripts test them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success,
    /// The command ran but (part of) the work failed, e.g. a name could not be mapped.
    Failure,
    /// The command line was wrong; nothing was done.
    Usage,
    /// A command run in a container ended with this status (`container exec`).
    Code(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
            ExitStatus::Code(n) => ExitCode::from(n),
        }
    }
}

/// Prints what clap has to say about the command line and ends: `--help` and `--version`
/// succeed, everything else is a usage error.
pub fn parse_error(err: &clap::Error) -> ExitCode {
    // Nothing sensible is left to do if even this cannot be printed.
    let _ = err.print();
    if err.use_stderr() {
        ExitStatus::Usage.into()
    } else {
        ExitStatus::Success.into()
    }
}

/// An error that stops a command. It is printed once, by [`CliError::report`], as
/// `error: <what went wrong>` followed by its causes: no backtraces, no debug output.
#[derive(Debug)]
pub struct CliError {
    status: ExitStatus,
    message: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl CliError {
    /// The command failed; `message` says what it was doing, `source` why it failed.
    pub fn failure(
        message: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self {
            status: ExitStatus::Failure,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The command failed for a reason that `message` says in full.
    pub fn msg(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Failure,
            message: message.into(),
            source: None,
        }
    }

    /// The command line asked for something impossible; nothing was done (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Usage,
            message: message.into(),
            source: None,
        }
    }

    /// A failure to write our own output. Kept apart because a closed pipe is not an error
    /// worth reporting: `ds01 username sanitize < names | head -1` must end quietly.
    pub fn write(source: io::Error) -> Self {
        Self::failure("could not write to standard output", source)
    }

    fn is_broken_pipe(&self) -> bool {
        self.source
            .as_ref()
            .and_then(|e| e.downcast_ref::<io::Error>())
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// Prints the error on stderr and returns the exit code to end with.
    pub fn report(self) -> ExitCode {
        if self.is_broken_pipe() {
            // Whoever closed the pipe has all the output it wanted.
            return ExitStatus::Success.into();
        }
        eprintln!("error: {self}");
        let mut cause = self.source.as_deref().and_then(|e| e.source());
        while let Some(e) = cause {
            eprintln!("  caused by: {e}");
            cause = e.source();
        }
        self.status.into()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl From<ApiError> for CliError {
    /// The service's words, and the hint that fits this command line: the service names
    /// no flags, so the one place that knows them adds them.
    fn from(err: ApiError) -> Self {
        let mut message = err.message.clone();
        if let Some(hint) = hint(&err) {
            message.push_str("\n  ");
            message.push_str(&hint);
        }
        Self::msg(message)
    }
}

/// The hint for an error, from its code and reason (never from its words), with the
/// commands and flags of this command line.
fn hint(err: &ApiError) -> Option<String> {
    let name = err.subject.as_deref().map(ds01_api::shown);
    let name = name.as_deref().unwrap_or("NAME");
    Some(match (&err.reason, err.code) {
        (_, ErrorCode::ContainerExists) => {
            format!("pick another name, or remove it with `ds01 container remove {name}`")
        }
        (_, ErrorCode::ImageExists) => format!(
            "change it with `ds01 image update {name}` or delete it with `ds01 image delete {name}`"
        ),
        (_, ErrorCode::ImageInUse) => "remove those containers first, or pass --force".into(),
        (_, ErrorCode::EngineUnavailable) => {
            "the Docker engine behind ds01d is not answering; `ds01 doctor` shows more, your admin can fix it".into()
        }
        (Some(Reason::NoContainer), _) => "`ds01 container list` shows yours".into(),
        (Some(Reason::NoImageSpec), _) => format!("create it with `ds01 image create {name}`"),
        (Some(Reason::NoImageGiven), _) => format!(
            "build it with `ds01 image create {name}`, or pass --image IMAGE or --framework FW"
        ),
        (Some(Reason::NoImage), _) if err.subject.is_some() => {
            format!("build it with `ds01 image create {name}`; `ds01 image list` shows yours")
        }
        (Some(Reason::NoImage), _) => {
            "`ds01 image list` shows yours; build one with `ds01 image create NAME`".into()
        }
        (Some(Reason::NotRunning), _) => format!("start it with `ds01 container start {name}`"),
        (Some(Reason::Running), _) => {
            format!("stop it first (`ds01 container stop {name}`) or pass --force")
        }
        (Some(Reason::NoJupyter), _) => format!(
            "add it to the image with `ds01 image update IMAGE --add jupyterlab`, then `ds01 container recreate {name}`"
        ),
        (Some(Reason::NoGpus), _) => "create it without --gpus".into(),
        (Some(Reason::NoOwner), _) => "act for a user with `--as LOGIN`".into(),
        (Some(Reason::NotPositive { field }), _) => {
            format!("give --{} a positive number", field.replace('_', "-"))
        }
        (Some(Reason::OverLimit { key }), _) => match key.as_str() {
            "max_containers" => {
                "`ds01 limits` shows your limits; `ds01 container remove NAME` frees one".into()
            }
            "max_gpus" => "`ds01 limits` shows your limits and the GPUs you hold".into(),
            // ds01d's own caps on one user's connections, not policy keys.
            "connections_per_user" | "streams_per_user" => {
                "other ds01 commands of yours hold them (exec, logs -f, events -f, builds); end some"
                    .into()
            }
            "image_storage" => {
                "`ds01 image list` shows your images; `ds01 image delete NAME` frees space".into()
            }
            "keep_alive_max" => {
                "`ds01 limits` shows your limits; ask for a shorter --for".into()
            }
            _ => "`ds01 limits` shows your limits".into(),
        },
        (None, ErrorCode::Limit) => "`ds01 limits` shows your limits".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a user reads: the service's message, then this command line's hint.
    fn shown(e: ApiError) -> String {
        CliError::from(e).to_string()
    }

    #[test]
    fn hints_follow_the_reason_not_the_words() {
        let stopped = ApiError::invalid("container thesis._.1000 is not running")
            .subject("thesis")
            .because(Reason::NotRunning);
        assert_eq!(
            shown(stopped),
            "container thesis._.1000 is not running\n  start it with `ds01 container start thesis`"
        );
        // The same words without the reason get no hint: nothing is guessed from prose.
        let prose = ApiError::invalid("container thesis._.1000 is not running").subject("thesis");
        assert_eq!(shown(prose), "container thesis._.1000 is not running");
        let running = ApiError::invalid("x")
            .subject("thesis")
            .because(Reason::Running);
        assert!(shown(running)
            .ends_with("stop it first (`ds01 container stop thesis`) or pass --force"));
    }

    #[test]
    fn each_reason_has_its_hint() {
        let cases = [
            (Reason::NoContainer, "`ds01 container list` shows yours"),
            (Reason::NoImageSpec, "create it with `ds01 image create cv`"),
            (
                Reason::NoImageGiven,
                "or pass --image IMAGE or --framework FW",
            ),
            (
                Reason::NoImage,
                "build it with `ds01 image create cv`; `ds01 image list` shows yours",
            ),
            (
                Reason::NoJupyter,
                "`ds01 image update IMAGE --add jupyterlab`, then `ds01 container recreate cv`",
            ),
            (Reason::NoGpus, "create it without --gpus"),
            (Reason::NoOwner, "act for a user with `--as LOGIN`"),
            (
                Reason::NotPositive {
                    field: "pids_limit".into(),
                },
                "give --pids-limit a positive number",
            ),
            (
                Reason::OverLimit {
                    key: "max_containers".into(),
                },
                "`ds01 container remove NAME` frees one",
            ),
            (
                Reason::OverLimit {
                    key: "memory".into(),
                },
                "`ds01 limits` shows your limits",
            ),
        ];
        for (reason, hint) in cases {
            let e = ApiError::invalid("m").subject("cv").because(reason.clone());
            let text = shown(e);
            assert!(text.starts_with("m\n  "), "{reason:?}: {text}");
            assert!(text.ends_with(hint), "{reason:?}: {text}");
        }
    }

    #[test]
    fn codes_without_reasons_keep_their_hints() {
        let exists =
            ApiError::new(ErrorCode::ContainerExists, "container cv._.1 exists").subject("cv");
        assert!(shown(exists).ends_with("remove it with `ds01 container remove cv`"));
        let gone = ApiError::new(ErrorCode::EngineUnavailable, "cannot reach the engine");
        assert!(shown(gone).contains("`ds01 doctor` shows more"));
        assert_eq!(
            shown(ApiError::new(ErrorCode::Failed, "the build failed")),
            "the build failed"
        );
    }
}
