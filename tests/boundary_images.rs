//! Images named by ID or digest do not skip ownership: bob (an LDAP-style account) builds a
//! private image, and alice tries it by every spelling the engine resolves (full ID with and
//! without `sha256:`, 12- and 4-character prefixes, a digest) through every route that takes
//! an image (`--image`, `--base`, `FROM`, `COPY --from`, a later stage's `FROM`, a catalog
//! the client sends), with `ds01` and with raw HTTP on the socket. Each attempt must get the
//! very answer a nonexistent image of the same form gets, name nothing of bob, and leave
//! nothing behind. Her own image and a shared base by ID work, her untagged old build does
//! not; `allowed_bases` narrows the shared bases.

use std::collections::BTreeSet;
use std::process::Output;

use ds01_tests::check::{docker, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN11, DEBIAN12};

/// Every route a user can name an image through.
#[derive(Debug, Clone, Copy)]
enum Route {
    Image,
    Base,
    From,
    CopyFrom,
    SecondStage,
    /// A catalog the client sends, as a container's and as an image's base.
    CatalogContainer,
    CatalogImage,
}

const ROUTES: [Route; 7] = [
    Route::Image,
    Route::Base,
    Route::From,
    Route::CopyFrom,
    Route::SecondStage,
    Route::CatalogContainer,
    Route::CatalogImage,
];

fn catalog(reference: &str) -> String {
    format!("Evil, 1.0, [CUDA_ADA], {reference}\n")
}

impl Route {
    fn dockerfile(self, reference: &str) -> Option<String> {
        match self {
            Route::Image | Route::Base | Route::CatalogContainer | Route::CatalogImage => None,
            Route::From => Some(format!("FROM {reference}\nRUN true\n")),
            Route::CopyFrom => Some(format!(
                "FROM {DEBIAN12} AS x\nCOPY --from={reference} /etc/hostname /tmp/h\nFROM x\n"
            )),
            Route::SecondStage => Some(format!("FROM {DEBIAN12} AS one\nFROM {reference}\n")),
        }
    }

    /// `ds01 ...` as `user`, naming `reference`.
    fn ds01(self, daemon: &TestDaemon, user: &TestUser, reference: &str) -> Output {
        match self {
            Route::Image => daemon.ds01(user, &["container", "create", "x", "--image", reference]),
            Route::Base => daemon.ds01(user, &["image", "create", "x", "--base", reference]),
            Route::CatalogContainer | Route::CatalogImage => {
                let file = user.write_file("try/catalog.repo", &catalog(reference));
                let noun = match self {
                    Route::CatalogContainer => "container",
                    _ => "image",
                };
                daemon.ds01(
                    user,
                    &[
                        noun,
                        "create",
                        "x",
                        "--framework",
                        "evil",
                        "--catalog",
                        file.to_str().unwrap(),
                    ],
                )
            }
            _ => {
                let file = user.write_file("try/Dockerfile", &self.dockerfile(reference).unwrap());
                daemon.ds01(
                    user,
                    &[
                        "image",
                        "create",
                        "x",
                        "--dockerfile",
                        file.to_str().unwrap(),
                    ],
                )
            }
        }
    }

    /// The same request as raw HTTP on the socket, with curl run as `user`: the HTTP status
    /// and the answer's lines without the operation's ID (which differs per request).
    fn http(self, daemon: &TestDaemon, user: &TestUser, reference: &str) -> String {
        let (path, body) = match self {
            Route::Image => (
                "/v1/containers",
                serde_json::json!({"name": "x", "image": reference}),
            ),
            Route::Base => (
                "/v1/images",
                serde_json::json!({"name": "x", "base": reference}),
            ),
            Route::CatalogContainer => (
                "/v1/containers",
                serde_json::json!({"name": "x", "framework": "evil", "catalog": catalog(reference)}),
            ),
            Route::CatalogImage => (
                "/v1/images",
                serde_json::json!({"name": "x", "framework": "evil", "catalog": catalog(reference)}),
            ),
            _ => (
                "/v1/images",
                serde_json::json!({"name": "x", "dockerfile": self.dockerfile(reference)}),
            ),
        };
        let socket = daemon.socket();
        let out = user.run_as(
            "curl",
            [
                "-sS",
                "--unix-socket",
                socket.to_str().unwrap(),
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &body.to_string(),
                "-w",
                "\nstatus %{http_code}",
                &format!("http://ds01d{path}"),
            ],
        );
        assert!(out.status.success(), "curl: {}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("{\"operation\""))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Exit status and stderr with the reference as typed replaced, for comparing answers.
fn answer(out: &Output, reference: &str) -> (Option<i32>, String) {
    (
        out.status.code(),
        text(&out.stderr).replace(reference, "REF"),
    )
}

/// A hex string that is no prefix of any image ID on the engine, `len` long, with a letter
/// in it (all digits in `COPY --from` is a stage's index, not an image).
fn absent_hex(len: usize) -> String {
    let ids = docker(&["images", "-aq", "--no-trunc"]);
    let ids: BTreeSet<&str> = ids
        .lines()
        .map(|l| l.trim_start_matches("sha256:"))
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from_digit((state % 16) as u32, 16).unwrap()
            })
            .collect::<String>()
    };
    std::iter::repeat_with(&mut next)
        .find(|h| {
            h.bytes().any(|b| b.is_ascii_alphabetic())
                && !ids.iter().any(|id| id.starts_with(h.as_str()))
        })
        .unwrap()
}

/// The spellings of the image with hex ID `hex` (64 characters) that the engine resolves.
fn spellings(hex: &str) -> Vec<(&'static str, String)> {
    vec![
        ("full ID", hex.to_owned()),
        ("sha256: ID", format!("sha256:{hex}")),
        ("12-character prefix", hex[..12].to_owned()),
        ("4-character prefix", hex[..4].to_owned()),
        ("digest", format!("ds01-fixture/debian12@sha256:{hex}")),
    ]
}

fn image_id(reference: &str) -> String {
    let id = docker(&["image", "inspect", "-f", "{{.Id}}", reference]);
    assert!(id.starts_with("sha256:"), "no image {reference}: {id:?}");
    id.trim_start_matches("sha256:").to_owned()
}

/// What alice has on the engine and in ds01d's state: containers, images, specs, the
/// workspace a create of `x` would make.
fn traces(
    sweeper: &Sweeper,
    daemon: &TestDaemon,
    alice: &TestUser,
) -> (String, String, bool, bool) {
    let filter = format!("label=ds01.test={}", sweeper.label().1);
    let name = format!("name=x._.{}", alice.uid());
    let specs = daemon
        .state_dir()
        .join("users")
        .join(alice.uid().to_string())
        .join("images");
    (
        docker(&["ps", "-aq", "--filter", &name]),
        docker(&[
            "images",
            "-q",
            "--filter",
            &filter,
            "--filter",
            &format!("reference=ds01-{}/*", alice.uid()),
        ]),
        std::fs::read_dir(&specs).is_ok_and(|mut d| d.next().is_some()),
        alice.home().join("workspace/x").exists(),
    )
}

#[test]
fn another_users_image_is_refused_by_every_spelling_like_a_missing_one() {
    let sweeper = Sweeper::new("boundary-images");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::plain("imgid");
    let bob = TestUser::ldap("imgid");
    daemon.ok(
        daemon.ds01(&bob, &["image", "create", "secret", "--base", DEBIAN12]),
        "bob builds his image",
    );
    let bobs = image_id(&format!("ds01-{}/secret:latest", bob.uid()));
    let missing = absent_hex(64);
    let before = traces(&sweeper, &daemon, &alice);
    assert_eq!(before, (String::new(), String::new(), false, false));

    let bob_names = [
        bob.login().to_owned(),
        bob.uid().to_string(),
        format!("ds01-{}", bob.uid()),
        "secret".to_owned(),
    ];
    let spelt_bob = spellings(&bobs);
    let spelt_missing = spellings(&missing);
    for ((form, theirs), (_, absent)) in spelt_bob.iter().zip(&spelt_missing) {
        // A prefix of the missing ID may still start another image's: the missing one of
        // a prefix form is chosen among prefixes that start none.
        let absent = match absent.len() {
            4 | 12 => absent_hex(absent.len()),
            _ => absent.clone(),
        };
        for route in ROUTES {
            if matches!(route, Route::CopyFrom) && theirs.bytes().all(|b| b.is_ascii_digit()) {
                // Docker reads `--from=<digits>` as a stage's index, never as an image.
                continue;
            }
            let what = format!("alice using bob's image by {form} via {route:?}");
            let got = route.ds01(&daemon, &alice, theirs);
            let (code, message) = answer(&got, theirs);
            assert_eq!(code, Some(1), "{what}: {message}");
            assert!(message.contains("that you may use"), "{what}: {message}");
            assert_eq!(
                (code, message.clone()),
                answer(&route.ds01(&daemon, &alice, &absent), &absent),
                "{what}: the answer differs from a missing image's"
            );
            for name in &bob_names {
                assert!(
                    !message.contains(name.as_str()),
                    "{what} names {name}: {message}"
                );
            }
            if !theirs.contains(&bobs) {
                assert!(!message.contains(&bobs), "{what} shows the ID: {message}");
            }

            let raw = route
                .http(&daemon, &alice, theirs)
                .replace(theirs.as_str(), "REF");
            assert!(raw.contains("that you may use"), "{what} over HTTP: {raw}");
            assert_eq!(
                raw,
                route
                    .http(&daemon, &alice, &absent)
                    .replace(absent.as_str(), "REF"),
                "{what} over HTTP: the answer differs from a missing image's"
            );
            for name in bob_names
                .iter()
                .chain([&bobs].into_iter().filter(|_| !theirs.contains(&bobs)))
            {
                assert!(
                    !raw.contains(name.as_str()),
                    "{what} over HTTP names {name}: {raw}"
                );
            }
        }
    }
    assert_eq!(
        traces(&sweeper, &daemon, &alice),
        before,
        "a refused attempt left something behind"
    );

    // A stored spec that names bob's image (written by an older ds01d, or edited by the
    // admin) is checked again at every build, not only when it was made.
    daemon.ok(
        daemon.ds01(
            &alice,
            &["image", "create", "old", "--base", DEBIAN12, "--no-build"],
        ),
        "a spec without a build",
    );
    let spec_path = daemon
        .state_dir()
        .join(format!("users/{}/images/old.toml", alice.uid()));
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    assert!(spec.contains(DEBIAN12), "{spec}");
    let theirs = format!("sha256:{bobs}");
    std::fs::write(&spec_path, spec.replace(DEBIAN12, &theirs)).unwrap();
    let out = daemon.ds01(&alice, &["image", "update", "old", "--rebuild"]);
    let (code, message) = answer(&out, &theirs);
    assert_eq!(code, Some(1), "{message}");
    assert!(message.contains("that you may use"), "{message}");
    assert_eq!(
        docker(&[
            "images",
            "-q",
            "--filter",
            &format!("reference=ds01-{}/*", alice.uid())
        ]),
        "",
        "alice got an image built on bob's"
    );

    // Bob's image is untouched and still his.
    assert_eq!(image_id(&format!("ds01-{}/secret:latest", bob.uid())), bobs);
}

#[test]
fn own_images_and_allowed_bases_work_by_id_and_allowed_bases_narrows_them() {
    let sweeper = Sweeper::new("boundary-images-own");
    let mut daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::ldap("imgown");
    daemon.ok(
        daemon.ds01(&alice, &["image", "create", "mine", "--base", DEBIAN12]),
        "alice builds her image",
    );
    let own_tag = format!("ds01-{}/mine:latest", alice.uid());
    let own = image_id(&own_tag);

    // Her own image by a short ID: the container runs from her tag, not from the text.
    let out = daemon.ds01(
        &alice,
        &["container", "create", "box", "--image", &own[..12]],
    );
    daemon.ok(out, "alice's container from her image by ID");
    let used = docker(&[
        "inspect",
        "-f",
        "{{.Config.Image}}",
        &format!("box._.{}", alice.uid()),
    ]);
    assert!(
        used.starts_with(&format!("ds01-{}/mine:", alice.uid())),
        "the container runs from {used}"
    );
    daemon.ok(
        daemon.ds01(&alice, &["container", "remove", "box", "--volumes"]),
        "removing the container",
    );

    // A shared base by its ID, as a container's image and as an image's base.
    let d12 = image_id(DEBIAN12);
    let d11 = image_id(DEBIAN11);
    let plan = daemon.ok(
        daemon.ds01(
            &alice,
            &[
                "container",
                "create",
                "b",
                "--image",
                &format!("sha256:{d12}"),
                "--dry-run",
            ],
        ),
        "a fixture base by ID",
    );
    assert!(plan.contains("ds01-fixture/debian12:"), "{plan}");
    daemon.ok(
        daemon.ds01(
            &alice,
            &["image", "create", "on-id", "--base", &d11, "--no-build"],
        ),
        "building on a fixture base by ID",
    );
    let shown = daemon.ok(
        daemon.ds01(&alice, &["image", "dockerfile", "on-id"]),
        "the spec built on an ID",
    );
    assert!(
        shown.contains(&d11),
        "the spec keeps what the user wrote: {shown}"
    );
    daemon.ok(
        daemon.ds01(&alice, &["image", "delete", "on-id", "--yes"]),
        "deleting the spec",
    );

    // Unset, doctor warns which rule applies.
    let doctor = text(&daemon.ds01(&alice, &["doctor"]).stdout);
    assert!(
        doctor
            .lines()
            .any(|l| l.contains("image bases") && l.contains("warning: allowed_bases is unset")),
        "{doctor}"
    );

    // Only debian12 is listed: debian11 is refused by name and by ID, as a missing one is.
    daemon.set_config(&config_with_labels(
        &sweeper.label().1,
        "allowed_bases = [\"ds01-fixture/debian12\"]",
    ));
    daemon.restart();
    // Read whatever its verdict: other checks (the disk) depend on the machine.
    let doctor = text(&daemon.ds01(&alice, &["doctor"]).stdout);
    let bases = doctor.lines().find(|l| l.contains("image bases"));
    assert!(
        bases.is_some_and(|l| l.starts_with("ok") && l.ends_with("ds01-fixture/debian12")),
        "{doctor}"
    );
    for reference in [DEBIAN11.to_owned(), d11.clone(), d11[..12].to_owned()] {
        for route in [Route::Image, Route::Base, Route::From] {
            let (code, message) = answer(&route.ds01(&daemon, &alice, &reference), &reference);
            assert_eq!(code, Some(1), "{reference} via {route:?}: {message}");
            assert!(
                message.contains("that you may use"),
                "{reference} via {route:?}: {message}"
            );
        }
    }
    daemon.ok(
        daemon.ds01(
            &alice,
            &["container", "create", "b", "--image", &d12, "--dry-run"],
        ),
        "the listed base by ID",
    );
    daemon.ok(
        daemon.ds01(
            &alice,
            &[
                "container",
                "create",
                "b",
                "--image",
                &own[..12],
                "--dry-run",
            ],
        ),
        "her own image by ID, with allowed_bases set",
    );

    // Rebuilt, her old image keeps no tag: by its ID it is refused as a missing one is.
    daemon.ok(
        daemon.ds01(&alice, &["image", "update", "mine", "--no-cache"]),
        "rebuilding her image",
    );
    assert_ne!(image_id(&own_tag), own, "the rebuild made a new image");
    let old = &own[..12];
    let absent = absent_hex(12);
    let got = answer(
        &daemon.ds01(
            &alice,
            &["container", "create", "b", "--image", old, "--dry-run"],
        ),
        old,
    );
    assert_eq!(got.0, Some(1), "{}", got.1);
    assert!(got.1.contains("that you may use"), "{}", got.1);
    assert_eq!(
        got,
        answer(
            &daemon.ds01(
                &alice,
                &["container", "create", "b", "--image", &absent, "--dry-run"]
            ),
            &absent
        ),
        "an untagged image is answered as a missing one"
    );
}
