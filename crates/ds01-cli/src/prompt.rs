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

/// Offers `choices` (a name and a short description each) as a numbered list on stderr
/// and returns the index picked; `None` when nobody can answer or the answer is empty or
/// not one of the numbers.
pub fn pick(question: &str, choices: &[(String, String)]) -> Result<Option<usize>, CliError> {
    if !interactive() || choices.is_empty() {
        return Ok(None);
    }
    let width = choices.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut err = std::io::stderr().lock();
    writeln!(err, "{question}").map_err(CliError::write)?;
    for (i, (name, about)) in choices.iter().enumerate() {
        writeln!(err, "  {:>2}  {name:<width$}  {about}", i + 1).map_err(CliError::write)?;
    }
    write!(err, "Number (Enter cancels): ").map_err(CliError::write)?;
    err.flush().map_err(CliError::write)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failure("cannot read the answer", e))?;
    Ok(picked(&answer, choices.len()))
}

fn picked(answer: &str, count: usize) -> Option<usize> {
    let n: usize = answer.trim().parse().ok()?;
    (1..=count).contains(&n).then(|| n - 1)
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::{is_yes, picked};

    #[test]
    fn only_a_listed_number_picks() {
        assert_eq!(picked("2\n", 3), Some(1));
        assert_eq!(picked(" 1 ", 3), Some(0));
        assert_eq!(picked("\n", 3), None);
        assert_eq!(picked("0", 3), None);
        assert_eq!(picked("4", 3), None);
        assert_eq!(picked("thesis", 3), None);
    }

    #[test]
    fn only_an_explicit_yes_agrees() {
        assert!(is_yes("y\n"));
        assert!(is_yes(" Yes "));
        assert!(!is_yes("\n"));
        assert!(!is_yes("n"));
        assert!(!is_yes("yes please"));
    }
}
