//! The AIME MLC image catalog (`ml_images.repo`): framework, version and GPU architecture to
//! an image.
//!
//! One row per line, fields separated by `, `:
//!
//! ```text
//! Pytorch, 2.8.0, [CUDA_ADA], aimehub/pytorch-2.8.0-cuda12.6.3
//! Tensorflow, 2.14.0, [CUDA_ADA;CUDA_AMPERE], aimehub/tensorflow-2.14.0-cuda12.1
//! ```
//!
//! The file lists newest versions first, so "no version" means the first matching row.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::reference::ImageRef;

/// Why a catalog could not be read or a lookup found nothing. Lookup errors list what exists.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog file could not be read.
    #[error("cannot read the image catalog {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A row does not have the `Framework, Version, [ARCH;…], image` form.
    #[error("image catalog line {line}: {reason} (in {text:?})")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line's text.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No row has this framework.
    #[error("the image catalog has no framework {given:?}; it has: {}", known.join(", "))]
    UnknownFramework {
        /// What was asked for.
        given: String,
        /// Every framework in the catalog, in file order.
        known: Vec<String>,
    },
    /// The framework exists, but not in this version.
    #[error(
        "the image catalog has no {framework} version {given:?}; it has: {}",
        known.join(", ")
    )]
    UnknownVersion {
        /// The framework, as the catalog spells it.
        framework: String,
        /// What was asked for.
        given: String,
        /// Every version of the framework, newest first.
        known: Vec<String>,
    },
    /// The framework (and version, if given) exists, but not for this architecture.
    #[error(
        "the image catalog has no {framework}{} image for architecture {given:?}; \
         architectures it has for it: {}",
        version.as_deref().map(|v| format!(" {v}")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownArchitecture {
        /// The framework, as the catalog spells it.
        framework: String,
        /// The version, if one was asked for.
        version: Option<String>,
        /// What was asked for.
        given: String,
        /// The architectures available for that framework (and version).
        known: Vec<String>,
    },
}

/// One catalog row.
///
/// ```
/// use ds01_dockerfile::Catalog;
///
/// let catalog = Catalog::parse("Tensorflow, 2.14.0, [CUDA_ADA;CUDA_AMPERE], aimehub/tensorflow-2.14.0-cuda12.1\n").unwrap();
/// let entry = &catalog.entries()[0];
/// assert_eq!(entry.framework, "Tensorflow");
/// assert_eq!(entry.version, "2.14.0");
/// assert_eq!(entry.architectures, ["CUDA_ADA", "CUDA_AMPERE"]);
/// assert_eq!(entry.image.to_string(), "aimehub/tensorflow-2.14.0-cuda12.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogEntry {
    /// Framework as the catalog spells it (`Pytorch`).
    pub framework: String,
    /// Version (`2.8.0`, `2.7.1-aime`).
    pub version: String,
    /// GPU architectures the image runs on (`CUDA_ADA`, `CUDA_AMPERE`, `ROCM6`…), never empty.
    pub architectures: Vec<String>,
    /// The image.
    pub image: ImageRef,
}

impl CatalogEntry {
    /// Whether the row lists `arch` (compared ignoring ASCII case).
    ///
    /// ```
    /// # use ds01_dockerfile::Catalog;
    /// let c = Catalog::parse("Pytorch, 2.1, [CUDA;CUDA_AMPERE], aimehub/p\n").unwrap();
    /// assert!(c.entries()[0].supports("cuda_ampere"));
    /// assert!(!c.entries()[0].supports("CUDA_ADA"));
    /// ```
    pub fn supports(&self, arch: &str) -> bool {
        self.architectures
            .iter()
            .any(|a| a.eq_ignore_ascii_case(arch))
    }
}

impl fmt::Display for CatalogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}, [{}], {}",
            self.framework,
            self.version,
            self.architectures.join(";"),
            self.image
        )
    }
}

/// A parsed image catalog, rows in file order.
///
/// ```
/// use ds01_dockerfile::Catalog;
///
/// let catalog = Catalog::parse("\
/// Pytorch, 2.8.0, [CUDA_ADA], aimehub/pytorch-2.8.0-cuda12.6.3
/// Pytorch, 2.7.1, [CUDA_AMPERE], aimehub/pytorch-2.7.1-cuda11.8.0
/// ").unwrap();
/// let entry = catalog.resolve("pytorch", None, "CUDA_AMPERE").unwrap();
/// assert_eq!(entry.image.to_string(), "aimehub/pytorch-2.7.1-cuda11.8.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// Parses catalog text. Blank lines and lines starting with `#` are skipped; any other
    /// line that is not a valid row is an error naming its line number.
    ///
    /// ```
    /// use ds01_dockerfile::Catalog;
    /// assert!(Catalog::parse("Pytorch, 2.8.0, CUDA_ADA, aimehub/p\n").is_err()); // no brackets
    /// ```
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .map(|(index, line)| {
                parse_row(line).map_err(|reason| CatalogError::Syntax {
                    line: index + 1,
                    text: line.to_owned(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Catalog { entries })
    }

    /// Reads and parses a catalog file.
    ///
    /// ```no_run
    /// let catalog = ds01_dockerfile::Catalog::load("aime-mlc/ml_images.repo".as_ref())?;
    /// # Ok::<(), ds01_dockerfile::CatalogError>(())
    /// ```
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_owned(),
            source,
        })?;
        Catalog::parse(&text)
    }

    /// All rows, in file order.
    ///
    /// ```
    /// # use ds01_dockerfile::Catalog;
    /// assert!(Catalog::parse("").unwrap().entries().is_empty());
    /// ```
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// Finds the image for `framework`, `version` and `arch`.
    ///
    /// `framework` and `arch` are compared ignoring ASCII case (`pytorch` finds `Pytorch`);
    /// `version` must match exactly. Without a version the first matching row in file order
    /// wins, which is the newest since the catalog is ordered newest-first. A row listing
    /// several architectures (`[CUDA_ADA;CUDA_AMPERE]`) matches each of them.
    ///
    /// ```
    /// use ds01_dockerfile::{Catalog, CatalogError};
    ///
    /// let catalog = Catalog::parse("Tensorflow, 2.14.0, [CUDA_ADA;CUDA_AMPERE], aimehub/tf-2.14\n").unwrap();
    /// assert!(catalog.resolve("tensorflow", Some("2.14.0"), "CUDA_AMPERE").is_ok());
    /// let err = catalog.resolve("jax", None, "CUDA_ADA").unwrap_err();
    /// assert!(matches!(err, CatalogError::UnknownFramework { .. }));
    /// assert!(err.to_string().contains("it has: Tensorflow"));
    /// ```
    pub fn resolve(
        &self,
        framework: &str,
        version: Option<&str>,
        arch: &str,
    ) -> Result<&CatalogEntry, CatalogError> {
        let of_framework: Vec<&CatalogEntry> = self
            .entries
            .iter()
            .filter(|e| e.framework.eq_ignore_ascii_case(framework))
            .collect();
        let Some(first) = of_framework.first() else {
            return Err(CatalogError::UnknownFramework {
                given: framework.to_owned(),
                known: unique(self.entries.iter().map(|e| e.framework.as_str())),
            });
        };
        let candidates: Vec<&CatalogEntry> = match version {
            Some(v) => of_framework
                .iter()
                .copied()
                .filter(|e| e.version == v)
                .collect(),
            None => of_framework.clone(),
        };
        if candidates.is_empty() {
            return Err(CatalogError::UnknownVersion {
                framework: first.framework.clone(),
                given: version.unwrap_or_default().to_owned(),
                known: unique(of_framework.iter().map(|e| e.version.as_str())),
            });
        }
        candidates
            .iter()
            .copied()
            .find(|e| e.supports(arch))
            .ok_or_else(|| CatalogError::UnknownArchitecture {
                framework: first.framework.clone(),
                version: version.map(str::to_owned),
                given: arch.to_owned(),
                known: unique(
                    candidates
                        .iter()
                        .flat_map(|e| e.architectures.iter().map(String::as_str)),
                ),
            })
    }
}

/// Distinct values in first-seen order.
fn unique<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

fn parse_row(line: &str) -> Result<CatalogEntry, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [framework, version, archs, image] = fields[..] else {
        return Err(format!(
            "expected 4 comma-separated fields (framework, version, [ARCH;…], image), found {}",
            fields.len()
        ));
    };
    validate_field(framework, "framework")?;
    validate_field(version, "version")?;
    let inner = archs
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .ok_or_else(|| format!("the architectures {archs:?} are not in [brackets]"))?;
    let architectures: Vec<String> = inner.split(';').map(|a| a.trim().to_owned()).collect();
    for arch in &architectures {
        validate_field(arch, "architecture")?;
    }
    let image = ImageRef::parse(image).map_err(|e| e.to_string())?;
    Ok(CatalogEntry {
        framework: framework.to_owned(),
        version: version.to_owned(),
        architectures,
        image,
    })
}

/// Catalog words (framework, version, architecture) end up in labels and comments of
/// rendered Dockerfiles, so they are held to `[A-Za-z0-9._+-]{1,64}`.
pub(crate) fn validate_field(value: &str, what: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the {what} {value:?} is not 1 to 64 of letters, digits, '.', '_', '+', '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned() -> Catalog {
        Catalog::parse(include_str!("../tests/fixtures/aime-ml_images.repo")).unwrap()
    }

    fn image(c: &Catalog, fw: &str, v: Option<&str>, arch: &str) -> String {
        c.resolve(fw, v, arch)
            .unwrap_or_else(|e| panic!("{fw} {v:?} {arch}: {e}"))
            .image
            .to_string()
    }

    #[test]
    fn parses_every_row_of_the_pinned_catalog() {
        let c = pinned();
        assert_eq!(c.entries().len(), 115);
        let first = &c.entries()[0];
        assert_eq!(
            first.to_string(),
            "Pytorch, 2.8.0-aime, [CUDA_ADA], aimehub/pytorch-2.8.0-aime-cuda12.6.3"
        );
        let multi = c
            .entries()
            .iter()
            .filter(|e| e.architectures.len() > 1)
            .count();
        assert_eq!(multi, 12);
    }

    #[test]
    fn latest_is_the_first_row_in_file_order() {
        let c = pinned();
        // The images DS01's lookup found (reference 1.3).
        assert_eq!(
            image(&c, "pytorch", None, "CUDA_AMPERE"),
            "aimehub/pytorch-2.7.1-aime-cuda11.8.0"
        );
        assert_eq!(
            image(&c, "pytorch", None, "CUDA_ADA"),
            "aimehub/pytorch-2.8.0-aime-cuda12.6.3"
        );
        assert_eq!(
            image(&c, "Tensorflow", None, "CUDA_ADA"),
            "aimehub/tensorflow-2.16.1-cuda12.3"
        );
        assert_eq!(
            image(&c, "pytorch", None, "ROCM6"),
            "aimehub/pytorch-2.6.0-rocm6.2"
        );
    }

    #[test]
    fn multi_architecture_rows_match_each_architecture() {
        let c = pinned();
        // DS01 skipped these rows and fell back to TF 2.11.0 for CUDA_AMPERE.
        let tf = c.resolve("tensorflow", None, "CUDA_AMPERE").unwrap();
        assert_eq!(tf.architectures, ["CUDA_ADA", "CUDA_AMPERE"]);
        assert_ne!(tf.version, "2.11.0");
        for arch in ["CUDA_ADA", "CUDA_AMPERE", "cuda_ampere"] {
            let e = c.resolve("Tensorflow", Some("2.14.0"), arch).unwrap();
            assert!(e.supports(arch));
        }
    }

    #[test]
    fn pinned_versions_resolve_exactly() {
        let c = pinned();
        assert_eq!(
            image(&c, "Pytorch", Some("2.7.1"), "CUDA_AMPERE"),
            "aimehub/pytorch-2.7.1-cuda11.8.0"
        );
        assert_eq!(
            image(&c, "Pytorch", Some("2.7.1-aime"), "CUDA_AMPERE"),
            "aimehub/pytorch-2.7.1-aime-cuda11.8.0"
        );
    }

    #[test]
    fn unknown_values_list_what_exists() {
        let c = pinned();
        let err = c.resolve("jax", None, "CUDA_ADA").unwrap_err();
        let CatalogError::UnknownFramework { known, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(known, &["Pytorch", "Tensorflow", "ROCM", "Mxnet"]);
        assert!(err.to_string().contains("\"jax\""), "{err}");

        let err = c.resolve("pytorch", Some("9.9"), "CUDA_ADA").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, CatalogError::UnknownVersion { .. }), "{msg}");
        assert!(
            msg.contains("no Pytorch version \"9.9\"")
                && msg.contains("2.8.0-aime, 2.8.0, 2.7.1-aime"),
            "{msg}"
        );

        let err = c
            .resolve("pytorch", Some("2.8.0"), "CUDA_AMPERE")
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("no Pytorch 2.8.0 image for architecture \"CUDA_AMPERE\""),
            "{msg}"
        );
        assert!(msg.ends_with("CUDA_BLACKWELL, CUDA_ADA"), "{msg}");

        let err = c.resolve("pytorch", None, "TPU").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("no Pytorch image for architecture \"TPU\""),
            "{msg}"
        );
        for arch in [
            "CUDA_ADA",
            "CUDA_AMPERE",
            "CUDA_BLACKWELL",
            "ROCM6",
            "ROCM5",
            "CUDA",
        ] {
            assert!(msg.contains(arch), "{arch} missing from {msg}");
        }
    }

    #[test]
    fn malformed_rows_name_their_line() {
        for (text, needle) in [
            ("Pytorch, 2.8.0, [CUDA_ADA]\n", "expected 4"),
            ("Pytorch, 2.8.0, CUDA_ADA, img\n", "[brackets]"),
            ("Pytorch, 2.8.0, [], img\n", "architecture \"\""),
            (
                "Pytorch, 2.8.0, [CUDA_ADA], Not An Image\n",
                "not a valid image reference",
            ),
            ("Py torch, 2.8.0, [CUDA_ADA], img\n", "framework"),
            (
                "\n# comment\nPytorch, 2.8.0, [CUDA_ADA], img, extra\n",
                "line 3",
            ),
        ] {
            let msg = Catalog::parse(text).unwrap_err().to_string();
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
    }

    #[test]
    fn load_reports_the_path() {
        let err = Catalog::load(Path::new("/nonexistent/ml_images.repo")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/ml_images.repo"),
            "{err}"
        );
    }
}
