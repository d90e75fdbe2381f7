//! The commit flow's image on a real engine: what the setup container wrote, stacked on the
//! base as one layer by ds01 (deletions and replaced directories included), and the
//! engine's own commit, still behind the sparse-file guard, where a layer cannot say it or
//! the engine's storage is not to be read.
//!
//! How the two are told apart: the engine's commit records the base as the image's parent;
//! an image loaded with a layer on top has none.

use ds01_dockerfile::ImageRef;
use ds01_engine::{Engine, Identity, UserSetup};
use ds01_tests::check::{self, docker, docker_ok, inspect as engine_view};
use ds01_tests::*;
use serde_json::Value;

/// The image as the engine describes it, read apart from ds01.
fn image_json(image: &str) -> Value {
    check::json(docker_ok(&["image", "inspect", image]).as_bytes())[0].take()
}

/// The image's parent as the engine records it (empty for a loaded image).
fn parent(image: &str) -> String {
    engine_view(image, "{{.Parent}}")
}

/// Runs `script` in a throwaway container of `image` as `user`, returning its output.
fn run_in(image: &str, sweeper: &Sweeper, user: &str, script: &str) -> String {
    let (k, v) = sweeper.label();
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        &format!("{k}={v}"),
        "--user",
        user,
        "--entrypoint",
        "sh",
        image,
        "-c",
        script,
    ])
}

fn layers(image: &Value) -> Vec<String> {
    image["RootFS"]["Layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_account_is_stacked_on_the_base_as_one_layer() {
    let sweeper = Sweeper::new("t-layer-account");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(LDAP_UID);
    let created = create(&engine, &who, "t-layer-account", &base, &sweeper)
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Committed);
    let (before, after) = (image_json(DEBIAN11), image_json(&created.image));

    let (base_layers, image_layers) = (layers(&before), layers(&after));
    assert_eq!(image_layers.len(), base_layers.len() + 1);
    assert_eq!(image_layers[..base_layers.len()], base_layers[..]);
    assert_eq!(parent(&created.image), "", "committed by the engine");
    let growth = after["Size"].as_i64().unwrap() - before["Size"].as_i64().unwrap();
    assert!(growth < 64 << 10, "the image grew by {growth} bytes");

    // The base's configuration, with the account's labels.
    let (base_config, config) = (&before["Config"], &after["Config"]);
    assert_eq!(config["Cmd"], base_config["Cmd"]);
    assert_eq!(config["Env"], base_config["Env"]);
    let labels = &config["Labels"];
    assert_eq!(labels["aime.mlc.DS01_USER_ID"], LDAP_UID.to_string());
    assert_eq!(labels["aime.mlc.DS01_USERNAME"], who.username().to_string());
    assert_eq!(labels[TEST_LABEL], sweeper.label().1);
    let history = docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{json .}}",
        &created.image,
    ]);
    let history = check::json_lines(history.as_bytes());
    assert_eq!(history[0]["Comment"], "ds01: user account added");
    let created_by = history[0]["CreatedBy"].as_str().unwrap();
    assert!(created_by.contains(who.username().as_str()), "{created_by}");
    assert_eq!(history.len(), 2, "{history:?}");

    // Owners at a 10-digit UID came through the layer, and lastlog is truncated.
    let seen = run_in(
        &created.image,
        &sweeper,
        &LDAP_UID.to_string(),
        "id -un; stat -c '%u:%g %a' \"$HOME\" \"$HOME/.bashrc\"; stat -c %s /var/log/lastlog",
    );
    assert_eq!(
        seen,
        format!(
            "{}\n{LDAP_UID}:{LDAP_GID} 755\n{LDAP_UID}:{LDAP_GID} 644\n0",
            who.username()
        )
    );
}

#[tokio::test]
async fn deletions_and_replaced_directories_are_stacked_exactly() {
    let sweeper = Sweeper::new("t-layer-deletes");
    let engine = engine().await;
    let base = base_whose_useradd_also(
        &engine,
        DEBIAN12,
        "ds01-test/useradd-deletes:latest",
        "rm /etc/issue && rm -rf /usr/share/doc/bash && mkdir /usr/share/doc/bash && \
         echo new > /usr/share/doc/bash/NEW",
        &sweeper,
    )
    .await;
    let base_has = run_in(
        &base.to_string(),
        &sweeper,
        "0",
        "test -e /etc/issue && ls /usr/share/doc/bash | wc -l",
    );
    assert!(base_has.parse::<u32>().unwrap() > 1, "{base_has}");

    let who = test_user(1101);
    let created = create(&engine, &who, "t-layer-deletes", &base, &sweeper)
        .await
        .unwrap();
    assert_eq!(parent(&created.image), "", "committed by the engine");
    let seen = run_in(
        &created.image,
        &sweeper,
        "0",
        "test -e /etc/issue || echo gone; ls -A /usr/share/doc/bash; cat /usr/share/doc/bash/NEW",
    );
    assert_eq!(seen, "gone\nNEW\nnew");
}

/// Creates `who`'s container `name` from `base`, asserts that the engine committed its image
/// (the base is its parent), and returns what `script` prints in it as the user.
async fn engine_committed(
    engine: &Engine,
    who: &Identity,
    name: &str,
    base: &ImageRef,
    sweeper: &Sweeper,
    script: &str,
) -> String {
    let base_id = image_json(&base.to_string())["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = create(engine, who, name, base, sweeper).await.unwrap();
    assert_eq!(
        parent(&created.image),
        base_id,
        "not committed by the engine"
    );
    run_in(&created.image, sweeper, &who.uid().to_string(), script)
}

#[tokio::test]
async fn what_a_layer_cannot_hold_is_committed_by_the_engine() {
    let sweeper = Sweeper::new("t-layer-fifo");
    let engine = engine().await;
    let base = base_whose_useradd_also(
        &engine,
        DEBIAN12,
        "ds01-test/useradd-fifo:latest",
        "mkfifo /var/tmp/pipe",
        &sweeper,
    )
    .await;
    let who = test_user(1102);
    let script = "test -p /var/tmp/pipe && id -un";
    let seen = engine_committed(&engine, &who, "t-layer-fifo", &base, &sweeper, script).await;
    assert_eq!(seen, who.username().as_str());
}

/// Creates from a base whose `useradd` also runs `extra` (leaving a 300 MiB sparse file)
/// and asserts the refusal, and that nothing but the base is left.
async fn refused_as_oversized(engine: &Engine, test: &str, extra: &str, uid: u32) {
    let sweeper = Sweeper::new(test);
    let tag = format!("ds01-test/{test}:latest");
    let base = base_whose_useradd_also(engine, DEBIAN12, &tag, extra, &sweeper).await;
    let err = create(engine, &test_user(uid), test, &base, &sweeper)
        .await
        .unwrap_err();
    check::oversized(&err, "/var/tmp/sparse", 300 << 20);
    assert_eq!(sweeper.count(engine).await, (0, 1), "only the base is left");
}

#[tokio::test]
async fn the_guard_holds_on_the_engines_commit_too() {
    // The FIFO sorts first: the layer is given up before the sparse file is reached, so the
    // refusal comes from the guard in front of the engine's commit.
    let extra = "mkfifo /var/tmp/pipe && truncate -s 300M /var/tmp/sparse";
    refused_as_oversized(&engine().await, "t-layer-fifo-sparse", extra, 1103).await;
}

#[tokio::test]
async fn without_storage_access_the_engine_commits() {
    // As for an engine on another host: nothing is read from its storage.
    let sweeper = Sweeper::new("t-layer-api-only");
    let engine = engine().await.with_storage_access(false);
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(1104);
    let script = "id -un; stat -c %s /var/log/lastlog";
    let seen = engine_committed(&engine, &who, "t-layer-api-only", &base, &sweeper, script).await;
    assert_eq!(seen, format!("{}\n0", who.username()));
}

#[tokio::test]
async fn without_storage_access_the_guard_asks_the_engine() {
    let engine = engine().await.with_storage_access(false);
    let extra = "truncate -s 300M /var/tmp/sparse";
    refused_as_oversized(&engine, "t-layer-api-sparse", extra, 1105).await;
}
