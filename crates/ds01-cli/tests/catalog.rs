//! `--framework` picks AIME catalog images: specs record the catalog row, and a catalog
//! image that is neither local nor pullable fails with a hint (this machine has no registry).

use ds01_tests::check::json;
use ds01_tests::cli::{test_uid, RootCli};
use predicates::str::contains;

const CATALOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ds01-dockerfile/tests/fixtures/aime-ml_images.repo"
);

#[test]
fn image_create_from_the_catalog_writes_a_catalog_spec() {
    let env = RootCli::new("catalog");
    let uid = test_uid(6);
    let who = format!("cli.cat@example.lan:{uid}:{uid}");
    let out = env
        .ds01()
        .args([
            "--as",
            &who,
            "image",
            "create",
            "clicat",
            "--framework",
            "pytorch",
        ])
        .args([
            "--version",
            "2.7.1",
            "--arch",
            "CUDA_AMPERE",
            "--catalog",
            CATALOG,
        ])
        .args(["--no-build", "--json"])
        .assert()
        .success();
    let created = json(&out.get_output().stdout);
    assert_eq!(created["built"], false);
    env.ds01()
        .args(["--as", &who, "image", "dockerfile", "clicat"])
        .assert()
        .success()
        .stdout(contains("FROM aimehub/pytorch-2.7.1-cuda11.8.0"))
        .stdout(contains("jupyter"));
    let shown = env
        .ds01()
        .args(["--as", &who, "image", "show", "clicat", "--json"])
        .assert()
        .success();
    let shown = json(&shown.get_output().stdout);
    assert_eq!(shown["id"], serde_json::Value::Null);
    assert_eq!(shown["spec"]["base"]["kind"], "aime");

    env.ds01()
        .args([
            "--as",
            &who,
            "image",
            "create",
            "clicat2",
            "--framework",
            "jax",
        ])
        .args(["--catalog", CATALOG, "--no-build"])
        .assert()
        .code(1)
        .stderr(contains("Pytorch"));
}

#[test]
fn container_from_an_unreachable_catalog_image_fails_cleanly() {
    let env = RootCli::new("catalog-pull");
    let uid = test_uid(7);
    let who = format!("cli.pull@example.lan:{uid}:{uid}");
    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "create",
            "clipull",
            "--framework",
            "pytorch",
        ])
        .args([
            "--arch",
            "CUDA_ADA",
            "--catalog",
            CATALOG,
            "--cpu-only",
            "--json",
        ])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("pulling it failed"));
    let left =
        ds01_tests::check::docker_ok(&["ps", "-aq", "--filter", &format!("name=clipull._.{uid}")]);
    assert!(left.is_empty(), "left behind: {left}");
}
