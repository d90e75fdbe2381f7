//! A user's own Dockerfile, held in a spec and built with ds01's steps appended.

use crate::reference::ImageRef;
use crate::validated_text::validated_text;

/// Largest Dockerfile accepted, in bytes.
pub const MAX_DOCKERFILE_LEN: usize = 64 * 1024;

/// Why a user's Dockerfile was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Dockerfile {}: {reason}", line.map_or_else(|| "is refused".to_owned(), |l| format!("is refused at line {l}")))]
pub struct DockerfileError {
    /// 1-based line of the problem, when it has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

/// One instruction (or a comment or blank line) of a Dockerfile, with the lines it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// 0-based line range in the text.
    pub lines: std::ops::Range<usize>,
    /// The keyword, uppercased, and the arguments with continuations joined; `None` for
    /// comments and blank lines.
    pub instruction: Option<(String, String)>,
}

/// The text of a user's Dockerfile (their own, or a DS01 `~/dockerfiles/NAME.Dockerfile`),
/// checked enough that ds01 can append its steps and knows which images it builds on.
///
/// Accepted: UTF-8 up to [`MAX_DOCKERFILE_LEN`] bytes, without control characters other than
/// tabs and newlines (`\r\n` becomes `\n`), with at least one `FROM`, not ending inside a
/// continued instruction (which would swallow ds01's first step), and naming every image it
/// builds on literally: a `$` in `FROM` or `COPY --from` is refused, because ds01d checks
/// those images (another user's `ds01-<uid>/...` is not yours to build on).
///
/// ```
/// use ds01_dockerfile::UserDockerfile;
///
/// let d = UserDockerfile::parse("FROM debian:12 AS build\nRUN make\nFROM build\nCOPY --from=alpine:3 /x /x\n").unwrap();
/// let images: Vec<String> = d.images().iter().map(|i| i.to_string()).collect();
/// assert_eq!(images, ["debian:12", "alpine:3"]);
/// assert_eq!(d.final_image().to_string(), "debian:12");
///
/// assert!(UserDockerfile::parse("FROM $BASE\n").is_err());
/// assert!(UserDockerfile::parse("FROM debian:12\nRUN apt-get update && \\\n").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDockerfile {
    text: String,
    images: Vec<ImageRef>,
    final_image: ImageRef,
    /// Where each image is named: the instruction's lines, and whether it is a `FROM`
    /// (else a `COPY`/`ADD --from=`), with the reference as written.
    uses: Vec<ImageUse>,
    /// Whether a `COPY` or `ADD` takes files from the build context (no `--from=`).
    context_files: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ImageUse {
    lines: std::ops::Range<usize>,
    from: bool,
    written: String,
}

impl UserDockerfile {
    /// Parses and checks a Dockerfile's text.
    pub fn parse(input: &str) -> Result<UserDockerfile, DockerfileError> {
        let whole = |reason: String| DockerfileError { line: None, reason };
        if input.len() > MAX_DOCKERFILE_LEN {
            return Err(whole(format!(
                "it is larger than {} KiB",
                MAX_DOCKERFILE_LEN / 1024
            )));
        }
        let text = input.replace("\r\n", "\n");
        for (n, line) in text.lines().enumerate() {
            if let Some(bad) = line.chars().find(|&c| c.is_control() && c != '\t') {
                return Err(DockerfileError {
                    line: Some(n + 1),
                    reason: format!("it contains the control character {bad:?}"),
                });
            }
        }
        let chunks = chunks(&text)?;
        let mut stages: Vec<(String, ImageRef)> = Vec::new();
        let mut images: Vec<ImageRef> = Vec::new();
        let mut context_files = false;
        let mut uses: Vec<ImageUse> = Vec::new();
        let mut final_image = None;
        for chunk in &chunks {
            let Some((keyword, args)) = &chunk.instruction else {
                continue;
            };
            let line = Some(chunk.lines.start + 1);
            let fail = |reason: String| DockerfileError { line, reason };
            let mut add = |reference: &str, what: &str| -> Result<(), DockerfileError> {
                uses.push(ImageUse {
                    lines: chunk.lines.clone(),
                    from: what == "the base image",
                    written: reference.to_owned(),
                });
                if reference.contains('$') {
                    return Err(fail(format!(
                        "{what} {reference:?} uses a variable; name the image literally"
                    )));
                }
                let image = ImageRef::parse(reference)
                    .map_err(|e| fail(format!("{what} {reference:?}: {e}")))?;
                if !images.contains(&image) {
                    images.push(image);
                }
                Ok(())
            };
            match keyword.as_str() {
                "FROM" => {
                    let words: Vec<&str> = args
                        .split_whitespace()
                        .filter(|w| !w.starts_with("--"))
                        .collect();
                    let (reference, alias) = match words.as_slice() {
                        [r] => (*r, None),
                        [r, as_, alias] if as_.eq_ignore_ascii_case("as") => (*r, Some(*alias)),
                        _ => {
                            return Err(fail(format!(
                                "FROM {args:?} is not `FROM IMAGE [AS NAME]`"
                            )))
                        }
                    };
                    let image = match stages
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(reference))
                    {
                        Some((_, image)) => image.clone(),
                        None => {
                            if !reference.eq_ignore_ascii_case("scratch") {
                                add(reference, "the base image")?;
                            }
                            ImageRef::parse(&reference.to_ascii_lowercase())
                                .map_err(|e| fail(format!("the base image {reference:?}: {e}")))?
                        }
                    };
                    if let Some(alias) = alias {
                        stages.push((alias.to_owned(), image.clone()));
                    }
                    final_image = Some(image);
                }
                "COPY" | "ADD" => {
                    if !args.split_whitespace().any(|w| w.starts_with("--from=")) {
                        context_files = true;
                    }
                    for word in args.split_whitespace() {
                        let Some(from) = word.strip_prefix("--from=") else {
                            continue;
                        };
                        let stage = from.bytes().all(|b| b.is_ascii_digit())
                            || stages
                                .iter()
                                .any(|(name, _)| name.eq_ignore_ascii_case(from));
                        if !stage {
                            add(from, "COPY --from image")?;
                        }
                    }
                }
                // A trigger runs in the build of whoever builds on this image, where its
                // `--from` names an image nobody checked here: refused outright.
                "ONBUILD" if args.to_ascii_lowercase().contains("--from") => {
                    return Err(fail(
                        "ONBUILD with --from is refused: name the image in a COPY of the image that builds on this one".into(),
                    ));
                }
                // BuildKit's way to read another image; refused so that no builder ds01 may
                // one day use reads an image that was not checked.
                "RUN"
                    if args
                        .split_whitespace()
                        .any(|w| w.starts_with("--mount") && w.contains("from=")) =>
                {
                    return Err(fail(
                        "RUN --mount with from= is refused: copy from the image with COPY --from"
                            .into(),
                    ));
                }
                _ => {}
            }
        }
        let final_image = final_image.ok_or_else(|| whole("it has no FROM instruction".into()))?;
        Ok(UserDockerfile {
            text,
            images,
            final_image,
            uses,
            context_files,
        })
    }

    /// Whether a `COPY` or `ADD` takes files from the build context rather than from an
    /// image or stage: ds01 builds from the Dockerfile alone, so such a build cannot work.
    ///
    /// ```
    /// use ds01_dockerfile::UserDockerfile;
    /// assert!(UserDockerfile::parse("FROM debian:12\nCOPY app.py /app/\n").unwrap().copies_context_files());
    /// assert!(!UserDockerfile::parse("FROM debian:12\nCOPY --from=debian:12 /etc/os-release /x\n").unwrap().copies_context_files());
    /// ```
    pub fn copies_context_files(&self) -> bool {
        self.context_files
    }

    /// The same Dockerfile with every image `replace` maps written as its replacement
    /// (stage names untouched), e.g. an image named by ID turned into the tag that was
    /// checked. Fails if the result would not name exactly the replaced images.
    ///
    /// ```
    /// use ds01_dockerfile::{ImageRef, UserDockerfile};
    ///
    /// let d = UserDockerfile::parse("FROM abcd AS a\nFROM debian:12\nCOPY --from=abcd /x /x\nCOPY --from=a /y /y\n").unwrap();
    /// let tag = ImageRef::parse("ds01-1000/mine:latest").unwrap();
    /// let r = d.with_images(|i| (i.to_string() == "abcd").then(|| tag.clone())).unwrap();
    /// assert_eq!(r.as_str(), "FROM ds01-1000/mine:latest AS a\nFROM debian:12\nCOPY --from=ds01-1000/mine:latest /x /x\nCOPY --from=a /y /y\n");
    /// ```
    pub fn with_images(
        &self,
        replace: impl Fn(&ImageRef) -> Option<ImageRef>,
    ) -> Result<UserDockerfile, DockerfileError> {
        let mut lines: Vec<String> = self.text.split_inclusive('\n').map(str::to_owned).collect();
        let mut wanted = Vec::new();
        for image in &self.images {
            let new = replace(image).unwrap_or_else(|| image.clone());
            if !wanted.contains(&new) {
                wanted.push(new);
            }
        }
        for u in &self.uses {
            let Some(new) = ImageRef::parse(&u.written).ok().and_then(|i| replace(&i)) else {
                continue;
            };
            let new = new.to_string();
            let (old, new) = if u.from {
                (u.written.clone(), new)
            } else {
                (format!("--from={}", u.written), format!("--from={new}"))
            };
            let mut first = true;
            'lines: for line in &mut lines[u.lines.clone()] {
                let mut at = 0;
                for word in line.split_whitespace() {
                    let start = at + line[at..].find(word).unwrap_or(0);
                    at = start + word.len();
                    let keyword = std::mem::take(&mut first);
                    if keyword || word == "\\" || (u.from && word.starts_with("--") && word != old)
                    {
                        continue;
                    }
                    if word == old {
                        line.replace_range(start..at, &new);
                        break 'lines;
                    }
                    if u.from {
                        break 'lines;
                    }
                }
            }
        }
        let out = UserDockerfile::parse(&lines.concat())?;
        if out.images != wanted {
            return Err(DockerfileError {
                line: None,
                reason: "its images could not be rewritten to the checked ones".into(),
            });
        }
        Ok(out)
    }

    /// The text as stored (`\r\n` turned into `\n`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every image the Dockerfile builds on or copies from, in order of appearance; stage
    /// names and `scratch` are not images.
    pub fn images(&self) -> &[ImageRef] {
        &self.images
    }

    /// The image the last stage (the one ds01 appends to) starts from.
    pub fn final_image(&self) -> &ImageRef {
        &self.final_image
    }

    /// The text without DS01's own user setup (its `ARG DS01_*` lines and the `RUN` that
    /// reads them), which ds01's user block replaces: DS01's deleted accounts that held the
    /// UID and needed `adduser`.
    ///
    /// ```
    /// use ds01_dockerfile::UserDockerfile;
    ///
    /// let d = UserDockerfile::parse("FROM debian:12\nARG DS01_USER_ID\nRUN set -e && \\\n    if [ -n \"$DS01_USER_ID\" ]; then adduser x; fi\nRUN echo kept\n").unwrap();
    /// assert_eq!(d.without_ds01_user_setup(), "FROM debian:12\nRUN echo kept\n");
    /// ```
    pub fn without_ds01_user_setup(&self) -> String {
        let lines: Vec<&str> = self.text.split_inclusive('\n').collect();
        let mut out = String::with_capacity(self.text.len());
        for chunk in chunks(&self.text).expect("checked when parsed") {
            let drop = chunk.instruction.as_ref().is_some_and(|(k, args)| {
                (k == "ARG" && args.trim_start().starts_with("DS01_"))
                    || (k == "RUN" && args.contains("DS01_USER_ID"))
            });
            if !drop {
                for line in &lines[chunk.lines] {
                    out.push_str(line);
                }
            }
        }
        out
    }
}

/// A line that continues on the next one: ends in `\` and optional blanks.
fn continued(line: &str) -> Option<&str> {
    line.trim_end_matches([' ', '\t']).strip_suffix('\\')
}

/// Splits a Dockerfile into instructions, comments and blank lines, as Docker's parser
/// does: comment and blank lines inside a continued instruction are skipped.
pub(crate) fn chunks(text: &str) -> Result<Vec<Chunk>, DockerfileError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = lines[i].trim_start();
        if first.is_empty() || first.starts_with('#') {
            out.push(Chunk {
                lines: i..i + 1,
                instruction: None,
            });
            i += 1;
            continue;
        }
        let start = i;
        let mut joined = String::new();
        loop {
            if i == lines.len() {
                return Err(DockerfileError {
                    line: Some(start + 1),
                    reason: "the file ends inside this instruction (its last line ends in `\\`)"
                        .into(),
                });
            }
            let line = lines[i];
            i += 1;
            let trimmed = line.trim_start();
            if i - 1 > start && (trimmed.is_empty() || trimmed.starts_with('#')) {
                continue;
            }
            match continued(line) {
                Some(body) => {
                    joined.push_str(body);
                    joined.push(' ');
                }
                None => {
                    joined.push_str(line);
                    break;
                }
            }
        }
        let joined = joined.trim();
        let (keyword, args) = joined.split_once([' ', '\t']).unwrap_or((joined, ""));
        out.push(Chunk {
            lines: start..i,
            instruction: Some((keyword.to_ascii_uppercase(), args.trim().to_owned())),
        });
    }
    Ok(out)
}

validated_text!(UserDockerfile, DockerfileError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_stage_images_and_stage_names() {
        let d = UserDockerfile::parse(
            "# syntax=docker/dockerfile:1\r\nFROM --platform=linux/amd64 Debian:12 AS Base\r\n\
             RUN echo \\\r\n  # a comment inside\r\n\r\n  done\r\n\
             FROM base AS second\nCOPY --from=0 /a /a\nCOPY --from=second /b /b\n\
             COPY --from=ds01-fixture/debian11:latest /c /c\nFROM scratch\n",
        );
        // Docker lowercases nothing: an uppercase repository is refused as Docker would.
        assert!(d.unwrap_err().to_string().contains("line 2"));

        let d = UserDockerfile::parse(
            "FROM debian:12 AS base\nFROM base AS second\nCOPY --from=0 /a /a\n\
             COPY --from=second /b /b\nCOPY --from=ds01-fixture/debian11:latest /c /c\n",
        )
        .unwrap();
        let images: Vec<String> = d.images().iter().map(|i| i.to_string()).collect();
        assert_eq!(images, ["debian:12", "ds01-fixture/debian11:latest"]);
        assert_eq!(d.final_image().to_string(), "debian:12");
        assert!(!d.as_str().contains('\r'));

        let s = UserDockerfile::parse("FROM scratch\nCOPY --from=busybox:1 /bin /bin\n").unwrap();
        assert_eq!(s.images().len(), 1);
        assert_eq!(s.final_image().to_string(), "scratch");
    }

    #[test]
    fn refusals_name_the_line_and_the_reason() {
        for (text, needle) in [
            ("RUN echo hi\n", "no FROM"),
            ("", "no FROM"),
            ("FROM debian:12\nRUN a \\\n", "line 2: the file ends inside"),
            ("FROM debian:12\nRUN a \\\n# comment\n", "ends inside"),
            ("FROM $BASE\n", "uses a variable"),
            ("ARG B=debian\nFROM ${B}:12\n", "line 2"),
            ("FROM debian:12\nCOPY --from=$X /a /a\n", "uses a variable"),
            ("FROM debian:12 AS\n", "not `FROM IMAGE [AS NAME]`"),
            ("FROM debian:12\nRUN echo \u{1b}[31m\n", "control character"),
            ("FROM debian:12\rRUN x\n", "control character"),
            ("FROM Debian:12\n", "line 1"),
        ] {
            let msg = UserDockerfile::parse(text).unwrap_err().to_string();
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
        let big = format!("FROM debian:12\n{}", "# x\n".repeat(MAX_DOCKERFILE_LEN / 4));
        assert!(UserDockerfile::parse(&big)
            .unwrap_err()
            .to_string()
            .contains("larger than 64 KiB"));
    }

    #[test]
    fn every_image_reference_is_found_and_can_be_rewritten() {
        let id = "ab".repeat(32);
        let text = format!(
            "FROM --platform=linux/amd64 sha256:{id} AS one\nFROM debian:12 AS x\n\
             COPY --from=abcd /a /a\nCOPY --chown=1:1 \\\n  --from={id} /b /b\n\
             COPY --from=one /c /c\nCOPY --from=x /d /d\nFROM abcd\n"
        );
        let d = UserDockerfile::parse(&text).unwrap();
        let images: Vec<String> = d.images().iter().map(|i| i.to_string()).collect();
        assert_eq!(
            images,
            [
                format!("sha256:{id}"),
                "debian:12".into(),
                "abcd".into(),
                id.clone()
            ]
        );
        let mine = ImageRef::parse("ds01-1000/mine:latest").unwrap();
        let r = d
            .with_images(|i| (i.to_string() != "debian:12").then(|| mine.clone()))
            .unwrap();
        let images: Vec<String> = r.images().iter().map(|i| i.to_string()).collect();
        assert_eq!(images, ["ds01-1000/mine:latest", "debian:12"]);
        assert!(
            !r.as_str().contains("abcd") && !r.as_str().contains(&id),
            "{}",
            r.as_str()
        );
        assert!(r
            .as_str()
            .contains("COPY --from=one /c /c\nCOPY --from=x /d /d\n"));
        assert!(r
            .as_str()
            .starts_with("FROM --platform=linux/amd64 ds01-1000/mine:latest AS one\n"));

        let trigger = UserDockerfile::parse("FROM debian:12\nONBUILD COPY --from=abcd /a /a\n");
        assert!(trigger.unwrap_err().to_string().contains("ONBUILD"));
        let mount = UserDockerfile::parse(
            "FROM debian:12\nRUN --mount=type=bind,from=abcd,target=/x true\n",
        );
        assert!(mount.unwrap_err().to_string().contains("RUN --mount"));
        assert!(
            UserDockerfile::parse("FROM debian:12\nRUN --mount=type=cache,target=/c true\n")
                .is_ok()
        );
    }

    #[test]
    fn chunks_follow_dockerfile_continuations() {
        let c = chunks("FROM a\n\nRUN x \\\n  # c\n  y\nLABEL k=v\n").unwrap();
        let kinds: Vec<_> = c
            .iter()
            .map(|c| (c.lines.clone(), c.instruction.as_ref().map(|i| i.0.clone())))
            .collect();
        assert_eq!(
            kinds,
            [
                (0..1, Some("FROM".into())),
                (1..2, None),
                (2..5, Some("RUN".into())),
                (5..6, Some("LABEL".into()))
            ]
        );
        assert_eq!(c[2].instruction.as_ref().unwrap().1, "x    y");
    }
}
