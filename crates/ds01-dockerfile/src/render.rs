//! Rendering an [`ImageSpec`] to a Dockerfile, in the section order of DS01's generator.
//!
//! Every user-supplied value reaches the text through one of two quoting functions: shell
//! quoting in `RUN` lines, Docker string quoting in `LABEL` and `ENV`. Header comments only
//! carry validated single-line words.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::base::Base;
use crate::identity::{ARG_GROUP_ID, ARG_SUDO, ARG_USERNAME, ARG_USER_ID};
use crate::labels;
use crate::python_setup::{
    PYTHON_CONTEXT_DIR, PYTHON_IMAGE_DIR, PYTHON_SETUP_IMAGE_PATH, PYTHON_SETUP_SCRIPT, VENV_PATH,
};
use crate::quote::{dockerfile_string, sh_word};
use crate::spec::ImageSpec;
use crate::user_setup::{USER_SETUP_CONTEXT_PATH, USER_SETUP_IMAGE_PATH, USER_SETUP_SCRIPT};

/// A rendered Dockerfile.
///
/// ```
/// use ds01_dockerfile::{render, Base, ImageName, ImageRef, ImageSpec};
///
/// let spec = ImageSpec::new(
///     ImageName::parse("plain").unwrap(),
///     Base::Custom { image: ImageRef::parse("debian:12").unwrap() },
/// );
/// let dockerfile = render(&spec);
/// assert!(dockerfile.text().contains("\nFROM debian:12\n"));
/// assert_eq!(dockerfile.sha256().len(), 64);
/// assert!(dockerfile.needs_user_setup_script());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    text: String,
    sha256: String,
    needs_user_setup_script: bool,
    needs_python_setup_script: bool,
}

impl Dockerfile {
    /// The Dockerfile text.
    ///
    /// ```
    /// # use ds01_dockerfile::{render, Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// assert!(render(&spec).text().ends_with("CMD [\"/bin/bash\"]\n"));
    /// ```
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Lowercase hex SHA-256 of [`Dockerfile::text`], for the `ds01.spec.sha256` label.
    ///
    /// The text embeds the user-setup script's own hash, so this changes when either the
    /// spec or the script changes: equal hashes mean an equal build.
    ///
    /// ```
    /// # use ds01_dockerfile::{render, Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// assert_eq!(render(&spec).sha256(), render(&spec.clone()).sha256());
    /// ```
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Whether the build context must carry the user-setup script (the spec bakes the user).
    ///
    /// ```
    /// # use ds01_dockerfile::{render, Base, ImageName, ImageRef, ImageSpec};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// spec.user.bake = false;
    /// assert!(!render(&spec).needs_user_setup_script());
    /// ```
    pub fn needs_user_setup_script(&self) -> bool {
        self.needs_user_setup_script
    }

    /// Whether the build context must carry the Python setup script (the spec installs pip
    /// packages or Jupyter, which go into the user's virtual environment).
    ///
    /// ```
    /// # use ds01_dockerfile::{render, Base, ImageName, ImageRef, ImageSpec, PipRequirement};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// assert!(!render(&spec).needs_python_setup_script());
    /// spec.add_pip(PipRequirement::parse("six").unwrap());
    /// assert!(render(&spec).needs_python_setup_script());
    /// ```
    pub fn needs_python_setup_script(&self) -> bool {
        self.needs_python_setup_script
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Renders `spec` to a Dockerfile. Rendering cannot fail: every value in a spec was
/// validated when it entered it. The same spec always gives the same bytes.
///
/// Sections, in order: header comments, `FROM` (or the user's own Dockerfile, then
/// `USER root`), image labels, `WORKDIR /workspace`, apt packages, then, when the spec has
/// pip packages or Jupyter, a Python that can make virtual environments (the base's, else
/// the distribution's) and the Jupyter server config; the user block (build arguments,
/// setup script, user labels); the user's virtual environment ([`VENV_PATH`], created and
/// handed to the user, first on `PATH`), one pip `RUN` per non-empty group and the IPython
/// kernel, run as the user so that everything in the venv is theirs (then `USER root`
/// again); `ENV`; `CMD` (not after a user's Dockerfile, which keeps its own).
///
/// ```
/// use ds01_dockerfile::{render, Base, ImageName, ImageRef, ImageSpec, PipRequirement};
///
/// let mut spec = ImageSpec::new(
///     ImageName::parse("nlp").unwrap(),
///     Base::Custom { image: ImageRef::parse("ubuntu:24.04").unwrap() },
/// );
/// spec.add_pip(PipRequirement::parse("transformers>=4.30").unwrap());
/// let text = render(&spec).text().to_owned();
/// assert!(text.contains("RUN pip install --no-cache-dir \\\n        'transformers>=4.30'\n"));
/// // pip is the venv's, run as the baked-in user, never the system's.
/// let venv = text.find("ENV PATH=\"/opt/ds01/venv/bin:${PATH}\"").unwrap();
/// let user = text.find("USER ${DS01_USER_ID}:${DS01_GROUP_ID}").unwrap();
/// let pip = text.find("RUN pip install").unwrap();
/// assert!(venv < pip && user < pip);
/// assert!(!text.contains("--break-system-packages"));
/// ```
pub fn render(spec: &ImageSpec) -> Dockerfile {
    let mut out = String::with_capacity(4096);
    header(&mut out, spec);
    let own_dockerfile = matches!(spec.base, Base::Dockerfile { .. });
    image_labels(&mut out, spec);
    if own_dockerfile {
        out.pop(); // no WORKDIR after the labels: the user's Dockerfile keeps its own
    } else {
        out.push_str("WORKDIR /workspace\n");
    }
    apt(&mut out, spec);
    let venv = spec.needs_venv();
    if venv {
        python_interpreter(&mut out);
    }
    if spec.configure_jupyter {
        jupyter_config(&mut out);
    }
    if spec.user.bake {
        user_block(&mut out);
    }
    if venv {
        venv_block(&mut out, spec.user.bake);
    }
    pip(&mut out, spec);
    if spec.configure_jupyter {
        kernel(&mut out, spec);
    }
    if venv && spec.user.bake {
        out.push_str("USER root\n");
    }
    env(&mut out, spec);
    if !own_dockerfile {
        out.push_str("\nCMD [\"/bin/bash\"]\n");
    }
    Dockerfile {
        sha256: sha256_hex(out.as_bytes()),
        text: out,
        needs_user_setup_script: spec.user.bake,
        needs_python_setup_script: venv,
    }
}

fn header(out: &mut String, spec: &ImageSpec) {
    // The first line is never `# word=value`, which Docker would read as a parser directive.
    let _ = writeln!(out, "# DS01 Custom Image: {}", spec.name);
    match &spec.base {
        Base::Aime(aime) => {
            let _ = writeln!(
                out,
                "# Framework: {} {} ({})",
                aime.framework(),
                aime.version(),
                aime.architecture()
            );
        }
        Base::Custom { .. } => out.push_str("# Framework: custom base image\n"),
        Base::Dockerfile {
            ds01_legacy: false, ..
        } => out.push_str("# Framework: your own Dockerfile, followed by ds01's steps\n"),
        Base::Dockerfile {
            ds01_legacy: true, ..
        } => out.push_str(
            "# Framework: a DS01 Dockerfile (imported; its user setup is replaced by ds01's)\n",
        ),
    }
    if let Some(use_case) = spec.use_case {
        let _ = writeln!(out, "# Use case: {use_case}");
    }
    if let Some(owner) = &spec.owner {
        let _ = writeln!(out, "# Author: {owner}");
    }
    out.push_str("# Generated by ds01 from the image spec: edit the spec, not this file.\n");
    match &spec.base {
        Base::Dockerfile {
            dockerfile,
            ds01_legacy,
        } => {
            // After ds01's header, so any parser directive in it (`# escape=`) is a comment.
            out.push_str("\n# ---- your Dockerfile ----\n");
            if *ds01_legacy {
                out.push_str(&dockerfile.without_ds01_user_setup());
            } else {
                out.push_str(dockerfile.as_str());
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
            // Its last USER may be anyone; ds01's steps run as root (the pip steps as the user).
            out.push_str("# ---- ds01 ----\nUSER root\n");
        }
        _ => {
            let _ = writeln!(out, "FROM {}", spec.base.image());
        }
    }
}

/// One `LABEL` instruction with continuation lines: one layer, one key per line.
fn label_instruction(out: &mut String, pairs: &[(&str, String)]) {
    for (i, (key, value)) in pairs.iter().enumerate() {
        let lead = if i == 0 { "LABEL " } else { "      " };
        let tail = if i + 1 < pairs.len() { " \\" } else { "" };
        let _ = writeln!(out, "{lead}{key}={value}{tail}");
    }
}

fn image_labels(out: &mut String, spec: &ImageSpec) {
    let name = spec.name.as_str();
    let mut pairs = Vec::new();
    if let Some(owner) = &spec.owner {
        pairs.push((labels::MAINTAINER, dockerfile_string(owner.as_str())));
    }
    pairs.push((
        labels::BASE_IMAGE,
        dockerfile_string(&spec.base.image().to_string()),
    ));
    pairs.push((labels::PROJECT, dockerfile_string(name)));
    if let Some(owner) = &spec.owner {
        pairs.push((labels::USERNAME_RAW, dockerfile_string(owner.as_str())));
    }
    pairs.push((labels::MANAGED, dockerfile_string("true")));
    pairs.push((labels::IMAGE, dockerfile_string(name)));
    pairs.push((
        labels::FRAMEWORK,
        dockerfile_string(&spec.base.framework_label()),
    ));
    out.push('\n');
    label_instruction(out, &pairs);
    out.push('\n');
}

/// `RUN <command> \` followed by one quoted word per line.
fn word_list(out: &mut String, words: impl Iterator<Item = impl AsRef<str>>) {
    for word in words {
        let _ = write!(out, " \\\n        {}", sh_word(word.as_ref()));
    }
}

fn apt(out: &mut String, spec: &ImageSpec) {
    let packages = &spec.packages.apt;
    if packages.is_empty() {
        return;
    }
    out.push_str("\n# System packages\n");
    out.push_str(
        "RUN apt-get update \\\n    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends",
    );
    word_list(out, packages.iter().map(|p| p.as_str()));
    out.push_str(" \\\n    && rm -rf /var/lib/apt/lists/*\n");
}

fn pip(out: &mut String, spec: &ImageSpec) {
    for (comment, requirements) in spec.packages.pip_groups() {
        if requirements.is_empty() {
            continue;
        }
        let _ = write!(out, "\n# {comment}\nRUN pip install --no-cache-dir");
        word_list(out, requirements.iter().map(|r| r.as_str()));
        out.push('\n');
    }
}

fn python_interpreter(out: &mut String) {
    out.push_str(
        "\n# Python for the user's virtual environment: the image's python3, else the distribution's\n",
    );
    let _ = writeln!(
        out,
        "# python-setup.sh sha256: {}",
        sha256_hex(PYTHON_SETUP_SCRIPT.as_bytes())
    );
    let _ = writeln!(out, "COPY {PYTHON_CONTEXT_DIR} {PYTHON_IMAGE_DIR}");
    let _ = writeln!(out, "RUN sh {PYTHON_SETUP_IMAGE_PATH} interpreter");
}

fn jupyter_config(out: &mut String) {
    // System-wide config, so the container user (not only root) gets it. No empty token or
    // password: with host networking that would open an unauthenticated server.
    out.push_str(concat!(
        "\n# Configure Jupyter Lab (system-wide, token authentication stays on)\n",
        "RUN mkdir -p /etc/jupyter \\\n",
        "    && printf '%s\\n' \\\n",
        "        \"c.ServerApp.ip = '0.0.0.0'\" \\\n",
        "        \"c.ServerApp.open_browser = False\" \\\n",
        "        \"c.ServerApp.allow_root = True\" \\\n",
        "        > /etc/jupyter/jupyter_server_config.py\n",
    ));
}

fn venv_block(out: &mut String, bake: bool) {
    out.push_str(if bake {
        "\n# The user's virtual environment: theirs, first on PATH, so `pip install` works without sudo\n"
    } else {
        "\n# The virtual environment, first on PATH (no user baked in: it belongs to root)\n"
    });
    let _ = writeln!(out, "RUN sh {PYTHON_SETUP_IMAGE_PATH} venv");
    let _ = writeln!(out, "ENV VIRTUAL_ENV={}", dockerfile_string(VENV_PATH));
    let _ = writeln!(out, "ENV PATH=\"{VENV_PATH}/bin:${{PATH}}\"");
    if bake {
        let _ = writeln!(out, "USER ${{{ARG_USER_ID}}}:${{{ARG_GROUP_ID}}}");
    }
}

fn kernel(out: &mut String, spec: &ImageSpec) {
    let name = spec.name.as_str();
    let display = format!("{name} ({})", spec.base.framework_label());
    let _ = writeln!(
        out,
        "\n# IPython kernel\nRUN python3 -m ipykernel install --sys-prefix --name {} --display-name {}",
        sh_word(name),
        sh_word(&display)
    );
}

fn user_block(out: &mut String) {
    out.push_str(
        "\n# User/Group Setup (DS01 - baked into image to avoid docker commit at container creation)\n",
    );
    let _ = writeln!(
        out,
        "ARG {ARG_USER_ID}\nARG {ARG_GROUP_ID}\nARG {ARG_USERNAME}\n\
         # 1 when the owner's policy allows sudo; without it no sudoers rule is written.\n\
         ARG {ARG_SUDO}"
    );
    let _ = writeln!(
        out,
        "# The script fails the build unless all three build arguments are valid.\n\
         # user-setup.sh sha256: {}",
        sha256_hex(USER_SETUP_SCRIPT.as_bytes())
    );
    let _ = writeln!(
        out,
        "COPY {USER_SETUP_CONTEXT_PATH} {USER_SETUP_IMAGE_PATH}"
    );
    let _ = writeln!(out, "RUN sh {USER_SETUP_IMAGE_PATH}");

    // Only reached when the RUN above succeeded, and filled from the same arguments it used,
    // so the labels always describe the user the image really has.
    out.push_str("\n# DS01 Labels for container creation optimization\n");
    let arg = |name: &str| format!("\"${{{name}}}\"");
    label_instruction(
        out,
        &[
            (labels::HAS_USER_SETUP, dockerfile_string("true")),
            (labels::USER_ID, arg(ARG_USER_ID)),
            (labels::GROUP_ID, arg(ARG_GROUP_ID)),
            (labels::USERNAME, arg(ARG_USERNAME)),
            (labels::MAINTAINER_ID, arg(ARG_USER_ID)),
            (labels::USER_ID_LEGACY, arg(ARG_USER_ID)),
        ],
    );
}

fn env(out: &mut String, spec: &ImageSpec) {
    if spec.env.is_empty() {
        return;
    }
    out.push_str("\n# Environment variables\n");
    for (name, value) in &spec.env {
        let _ = writeln!(out, "ENV {name}={}", dockerfile_string(value.as_str()));
    }
}
