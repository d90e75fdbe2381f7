//! Questions asked on a terminal. Scripts and pipes are never asked anything: without a
//! terminal on both stdin and stderr, a question is not put and the caller decides what
//! that means (a destructive command then needs `--yes`).

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::CliError;

/// Whether a person can answer: stdin and stderr are both terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks a yes/no question on stderr; `None` when nobody can answer. The default is no.
pub fn confirm(question: &str) -> Result<Option<bool>, CliError> {
    if !interactive() {
        return Ok(None);
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ").map_err(CliError::write)?;
    err.flush().map_err(CliError::write)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failure("cannot read the answer", e))?;
    Ok(Some(is_yes(&answer)))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::is_yes;

    #[test]
    fn only_an_explicit_yes_agrees() {
        assert!(is_yes("y\n"));
        assert!(is_yes(" Yes "));
        assert!(!is_yes("\n"));
        assert!(!is_yes("n"));
        assert!(!is_yes("yes please"));
    }
}
