//! `requirements.txt` files as users have them, read into validated [`PipRequirement`]s.

use crate::package::PipRequirement;

/// Most requirement lines one file may hold.
pub const MAX_REQUIREMENTS: usize = 1000;

/// Why a requirements file was refused: the first bad line, by number and text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementsError {
    /// A line is not a requirement ds01 accepts.
    #[error("requirements line {line} ({text:?}): {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// The line as written (cut to 200 characters).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More lines than [`MAX_REQUIREMENTS`].
    #[error("the requirements file lists more than {MAX_REQUIREMENTS} packages")]
    TooMany,
}

/// Reads a `requirements.txt`: one requirement per line; blank lines, `# comments` and
/// trailing ` # comments` are skipped, and spaces inside a requirement are dropped
/// (`requests >= 2.31` is `requests>=2.31`). Everything else must be a requirement
/// [`PipRequirement::parse`] accepts. Options (`-r`, `-e`, `--index-url`, `--hash`, …),
/// URLs, paths and environment markers are refused with the line that has them: they would
/// make the image depend on files or indexes the spec does not hold.
///
/// ```
/// use ds01_dockerfile::parse_requirements;
///
/// let reqs = parse_requirements("# training\nrequests >= 2.31\n\nsix  # for old code\n").unwrap();
/// let names: Vec<&str> = reqs.iter().map(|r| r.as_str()).collect();
/// assert_eq!(names, ["requests>=2.31", "six"]);
///
/// let err = parse_requirements("numpy\n-e .\n").unwrap_err().to_string();
/// assert!(err.starts_with("requirements line 2 (\"-e .\")"), "{err}");
/// ```
pub fn parse_requirements(text: &str) -> Result<Vec<PipRequirement>, RequirementsError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let fail = |reason: String| RequirementsError::Line {
            line,
            text: raw.chars().take(200).collect(),
            reason,
        };
        // A comment starts at a `#` at the line start or after whitespace (pip's rule).
        let content = match raw.find('#') {
            Some(0) => "",
            Some(at) if raw[..at].ends_with([' ', '\t']) => &raw[..at],
            _ => raw,
        };
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        if content.starts_with('-') {
            let option = content.split([' ', '=', '\t']).next().unwrap_or(content);
            return Err(fail(format!(
                "pip options such as {option} are not supported: list the packages themselves, \
                 one per line (a spec must build from what it holds, without other files or \
                 package indexes)"
            )));
        }
        if content.ends_with('\\') {
            return Err(fail(
                "line continuations are not supported: write one requirement per line".into(),
            ));
        }
        if content.contains(" --") {
            return Err(fail(
                "per-requirement options (such as --hash) are not supported".into(),
            ));
        }
        if content.starts_with('.') || content.starts_with('/') || content.contains("://") {
            return Err(fail(
                "paths and URLs are not supported: give a package name from PyPI".into(),
            ));
        }
        let compact: String = content
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t'))
            .collect();
        let requirement = PipRequirement::parse(&compact).map_err(|e| fail(e.to_string()))?;
        if out.len() == MAX_REQUIREMENTS {
            return Err(RequirementsError::TooMany);
        }
        out.push(requirement);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines_with_comments_blanks_and_spaces() {
        let text = "\
# requirements for the thesis
numpy>=1.24,<2
pandas == 2.2.2   # pinned

Scikit_Learn[all]~=1.4\r
torch==2.3.1+cu118
\t
ray[tune,serve]>=2.9
";
        let got: Vec<String> = parse_requirements(text)
            .unwrap()
            .into_iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "numpy>=1.24,<2",
                "pandas==2.2.2",
                "Scikit_Learn[all]~=1.4",
                "torch==2.3.1+cu118",
                "ray[tune,serve]>=2.9"
            ]
        );
        assert!(parse_requirements("").unwrap().is_empty());
        assert!(parse_requirements("# only a comment\n\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hostile_lines_are_refused_naming_the_line() {
        for (text, line, needle) in [
            ("-e .\n", 1, "options such as -e"),
            ("numpy\n-r other.txt\n", 2, "options such as -r"),
            (
                "--index-url https://evil.example/simple\n",
                1,
                "--index-url",
            ),
            (
                "--extra-index-url=https://evil.example\n",
                1,
                "--extra-index-url",
            ),
            ("-c constraints.txt\n", 1, "-c"),
            ("--trusted-host evil\n", 1, "--trusted-host"),
            ("a==1 \\\n    --hash=sha256:00\n", 1, "continuations"),
            ("a==1 --hash=sha256:00\n", 1, "--hash"),
            ("./local/pkg\n", 1, "paths and URLs"),
            ("/abs/pkg.whl\n", 1, "paths and URLs"),
            ("git+https://github.com/a/b\n", 1, "paths and URLs"),
            ("pkg @ https://x/y.whl\n", 1, "paths and URLs"),
            ("pkg@file:/x\n", 1, "URL"),
            ("x; python_version<'3.8'\n", 1, "';'"),
            ("ok\nnumpy; rm -rf /\n", 2, "';'"),
            ("pkg$(id)\n", 1, "not a version clause"),
            ("pkg`id`\n", 1, "not a version clause"),
            ("a|b\n", 1, "not a version clause"),
            ("päckage\n", 1, "non-ASCII"),
            ("pkg\u{0}\n", 1, "control"),
        ] {
            let err = parse_requirements(text).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("requirements line {line} (")),
                "{text:?}: {msg}"
            );
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
        let many = "six\n".repeat(MAX_REQUIREMENTS + 1);
        assert_eq!(
            parse_requirements(&many).unwrap_err(),
            RequirementsError::TooMany
        );
    }
}
