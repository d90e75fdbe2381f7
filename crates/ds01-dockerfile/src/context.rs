//! The gzip-compressed tar build context sent to the engine.
//!
//! It holds only what the Dockerfile uses, never a user's workspace, and its bytes depend only
//! on the spec: fixed order, fixed modification times, owners and modes, no gzip timestamp.

use flate2::{Compression, GzBuilder};

use crate::python_setup::{PYTHON_CA_CONTEXT_PATH, PYTHON_SETUP_CONTEXT_PATH, PYTHON_SETUP_SCRIPT};
use crate::render::{render, Dockerfile};
use crate::spec::ImageSpec;
use crate::user_setup::{USER_SETUP_CONTEXT_PATH, USER_SETUP_SCRIPT};

/// Modification time of every entry: 2000-01-01T00:00:00Z. Any fixed value would do; a
/// nonzero one keeps tools that treat 0 as "unknown" quiet.
const MTIME: u64 = 946_684_800;

/// A build context: `Dockerfile` at the root plus the files it copies, as tar.gz bytes.
///
/// ```
/// use ds01_dockerfile::{build_context, Base, ImageName, ImageRef, ImageSpec};
///
/// let spec = ImageSpec::new(
///     ImageName::parse("x").unwrap(),
///     Base::Custom { image: ImageRef::parse("debian:12").unwrap() },
/// );
/// let a = build_context(&spec);
/// let b = build_context(&spec);
/// assert_eq!(a.as_bytes(), b.as_bytes());
/// assert_eq!(&a.as_bytes()[..2], &[0x1f, 0x8b]); // gzip
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    bytes: Vec<u8>,
    dockerfile_sha256: String,
}

impl BuildContext {
    /// Packs a rendered Dockerfile together with the files it needs.
    ///
    /// ```
    /// # use ds01_dockerfile::{render, BuildContext, Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// let dockerfile = render(&spec);
    /// let context = BuildContext::new(&dockerfile);
    /// assert_eq!(context.dockerfile_sha256(), dockerfile.sha256());
    /// ```
    pub fn new(dockerfile: &Dockerfile) -> BuildContext {
        BuildContext::with_ca(dockerfile, None)
    }

    /// Like [`BuildContext::new`], plus CA certificates (PEM) that pip in the image's venv
    /// trusts, when the Dockerfile sets up Python: the admin's, for a network whose proxy
    /// intercepts TLS. They are host configuration, so the Dockerfile and its hash do not
    /// change with them.
    ///
    /// ```
    /// # use ds01_dockerfile::{render, BuildContext, Base, ImageName, ImageRef, ImageSpec, PipRequirement};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// spec.add_pip(PipRequirement::parse("six").unwrap());
    /// let dockerfile = render(&spec);
    /// let with = BuildContext::with_ca(&dockerfile, Some(b"-----BEGIN CERTIFICATE-----\n"));
    /// assert_eq!(with.dockerfile_sha256(), BuildContext::new(&dockerfile).dockerfile_sha256());
    /// assert_ne!(with.as_bytes(), BuildContext::new(&dockerfile).as_bytes());
    /// ```
    pub fn with_ca(dockerfile: &Dockerfile, ca_certificates: Option<&[u8]>) -> BuildContext {
        let mut files: Vec<(&str, &[u8])> = vec![("Dockerfile", dockerfile.text().as_bytes())];
        if dockerfile.needs_user_setup_script() {
            files.push((USER_SETUP_CONTEXT_PATH, USER_SETUP_SCRIPT.as_bytes()));
        }
        if dockerfile.needs_python_setup_script() {
            files.push((PYTHON_SETUP_CONTEXT_PATH, PYTHON_SETUP_SCRIPT.as_bytes()));
            if let Some(ca) = ca_certificates {
                files.push((PYTHON_CA_CONTEXT_PATH, ca));
            }
        }
        BuildContext {
            bytes: pack(&files),
            dockerfile_sha256: dockerfile.sha256().to_owned(),
        }
    }

    /// The tar.gz bytes, ready to send as the body of a build request.
    ///
    /// ```
    /// # use ds01_dockerfile::{build_context, Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// assert!(!build_context(&spec).as_bytes().is_empty());
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The tar.gz bytes, without copying.
    ///
    /// ```
    /// # use ds01_dockerfile::{build_context, Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// let bytes: Vec<u8> = build_context(&spec).into_bytes();
    /// assert_eq!(bytes[0], 0x1f);
    /// ```
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// SHA-256 of the Dockerfile inside, the value for the `ds01.spec.sha256` label.
    ///
    /// ```
    /// # use ds01_dockerfile::{build_context, render, Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// assert_eq!(build_context(&spec).dockerfile_sha256(), render(&spec).sha256());
    /// ```
    pub fn dockerfile_sha256(&self) -> &str {
        &self.dockerfile_sha256
    }
}

/// Renders `spec` and packs the build context for it.
///
/// ```
/// use ds01_dockerfile::{build_context, Base, ImageName, ImageRef, ImageSpec};
///
/// let spec = ImageSpec::new(
///     ImageName::parse("x").unwrap(),
///     Base::Custom { image: ImageRef::parse("debian:12").unwrap() },
/// );
/// assert_eq!(build_context(&spec).dockerfile_sha256().len(), 64);
/// ```
pub fn build_context(spec: &ImageSpec) -> BuildContext {
    BuildContext::new(&render(spec))
}

/// Renders `spec` and packs it with the admin's CA certificates for pip (see
/// [`BuildContext::with_ca`]).
///
/// ```
/// # use ds01_dockerfile::{build_context, build_context_with_ca, Base, ImageName, ImageRef, ImageSpec};
/// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
/// // Without pip packages there is no Python step, so nothing to trust.
/// assert_eq!(build_context_with_ca(&spec, Some(b"pem")), build_context(&spec));
/// ```
pub fn build_context_with_ca(spec: &ImageSpec, ca_certificates: Option<&[u8]>) -> BuildContext {
    BuildContext::with_ca(&render(spec), ca_certificates)
}

fn pack(files: &[(&str, &[u8])]) -> Vec<u8> {
    // gzip header without file name or timestamp (mtime 0 means "not given").
    let gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        // Writing into memory has no I/O that could fail, and the paths are short constants.
        tar.append_data(&mut header, path, *data)
            .expect("appending to an in-memory tar cannot fail");
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .expect("finishing an in-memory tar.gz cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Base, ImageName, ImageRef, PipRequirement};
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn spec() -> ImageSpec {
        let mut spec = ImageSpec::new(
            ImageName::parse("ctx").unwrap(),
            Base::Custom {
                image: ImageRef::parse("debian:12").unwrap(),
            },
        );
        spec.add_pip(PipRequirement::parse("transformers>=4.30").unwrap());
        spec
    }

    fn entries(context: &BuildContext) -> Vec<(String, u32, u64, Vec<u8>)> {
        let mut archive = tar::Archive::new(GzDecoder::new(context.as_bytes()));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let header = entry.header().clone();
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                    data,
                )
            })
            .collect()
    }

    #[test]
    fn holds_the_dockerfile_and_the_setup_script_only() {
        let spec = spec();
        let context = build_context(&spec);
        let entries = entries(&context);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "ds01/user-setup.sh",
                "ds01/python/python-setup.sh"
            ]
        );
        assert_eq!(entries[0].3, render(&spec).text().as_bytes());
        assert_eq!(entries[1].3, USER_SETUP_SCRIPT.as_bytes());
        assert_eq!(entries[2].3, PYTHON_SETUP_SCRIPT.as_bytes());
        for (_, mode, mtime, _) in &entries {
            assert_eq!((*mode, *mtime), (0o644, MTIME));
        }
    }

    #[test]
    fn every_copy_source_is_in_the_context() {
        let context = build_context(&spec());
        let entries = entries(&context);
        let dockerfile = String::from_utf8(entries[0].3.clone()).unwrap();
        let sources: Vec<&str> = dockerfile
            .lines()
            .filter_map(|l| l.strip_prefix("COPY "))
            .map(|rest| rest.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(sources, ["ds01/python/", USER_SETUP_CONTEXT_PATH]);
        for source in sources {
            assert!(
                entries.iter().any(|e| e.0.starts_with(source)),
                "{source} missing"
            );
        }
    }

    #[test]
    fn without_baking_there_is_no_script() {
        let mut spec = spec();
        spec.user.bake = false;
        let names: Vec<String> = entries(&build_context(&spec))
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(names, ["Dockerfile", "ds01/python/python-setup.sh"]);
    }

    #[test]
    fn ca_certificates_travel_only_with_the_python_step() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let names =
            |c: &BuildContext| -> Vec<String> { entries(c).into_iter().map(|e| e.0).collect() };
        let with = build_context_with_ca(&spec(), Some(pem));
        assert_eq!(
            names(&with).last().map(String::as_str),
            Some(PYTHON_CA_CONTEXT_PATH)
        );
        assert_eq!(entries(&with).last().unwrap().3, pem);
        assert_eq!(
            with.dockerfile_sha256(),
            build_context(&spec()).dockerfile_sha256()
        );
        let mut plain = spec();
        plain.remove_package("transformers");
        assert!(!names(&build_context_with_ca(&plain, Some(pem)))
            .iter()
            .any(|n| n.starts_with("ds01/python")));
    }

    #[test]
    fn same_spec_same_bytes_different_spec_different_hash() {
        let a = build_context(&spec());
        let b = build_context(&spec().clone());
        assert_eq!(a, b);
        let mut other = spec();
        other.add_pip(PipRequirement::parse("wandb").unwrap());
        let c = build_context(&other);
        assert_ne!(a.dockerfile_sha256(), c.dockerfile_sha256());
        assert_ne!(a.as_bytes(), c.as_bytes());
    }
}
