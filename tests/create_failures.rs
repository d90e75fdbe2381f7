//! Failures of the create flow on a real engine: each one is reported clearly and leaves no
//! container or image behind, and a retry works.

use ds01_dockerfile::ImageRef;
use ds01_engine::{Engine, EngineError, Progress, UserSetup};
use ds01_tests::check::docker_ok;
use ds01_tests::*;
use std::future::pending;
use std::sync::Arc;
use tokio::sync::Notify;

async fn assert_only_images_left(engine: &Engine, sweeper: &Sweeper, images: usize) {
    assert_eq!(
        sweeper.count(engine).await,
        (0, images),
        "leftovers after the failure"
    );
}

#[tokio::test]
async fn a_failing_setup_script_is_reported_and_cleaned_up() {
    let sweeper = Sweeper::new("fail-setup");
    let engine = engine().await;
    fixture(&engine, DEBIAN12).await;
    let dockerfile = format!("FROM {DEBIAN12}\nRUN rm /usr/sbin/useradd\n");
    let image = derived_image(
        &engine,
        "ds01-test/no-useradd:latest",
        &dockerfile,
        &sweeper,
    )
    .await;
    let err = engine
        .create_container(
            &test_user(1003),
            &custom_request("t-fail-setup", &image, &sweeper),
            &mut (),
            pending(),
        )
        .await
        .unwrap_err();
    match &err {
        EngineError::SetupFailed { log_tail, .. } => assert!(log_tail.contains("useradd"), "{err}"),
        other => panic!("expected a setup failure, got {other}"),
    }
    assert_only_images_left(&engine, &sweeper, 1).await;
}

#[tokio::test]
async fn the_sparse_file_guard_refuses_the_commit() {
    let sweeper = Sweeper::new("fail-guard");
    let engine = engine().await;
    // A useradd that leaves a huge sparse file behind, as shadow 4.8.1 does with lastlog.
    // The layer ds01 writes itself refuses it (tests/commit_layers.rs: the engine's commit).
    let image = base_whose_useradd_also(
        &engine,
        DEBIAN12,
        "ds01-test/sparse-useradd:latest",
        "truncate -s 300M /var/tmp/sparse",
        &sweeper,
    )
    .await;
    let err = engine
        .create_container(
            &test_user(1004),
            &custom_request("t-fail-guard", &image, &sweeper),
            &mut (),
            pending(),
        )
        .await
        .unwrap_err();
    check::oversized(&err, "/var/tmp/sparse", 300 << 20);
    assert_only_images_left(&engine, &sweeper, 1).await;
}

#[tokio::test]
async fn a_taken_name_is_refused_without_touching_the_existing_container() {
    let sweeper = Sweeper::new("fail-conflict");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(1005);
    let req = custom_request("t-conflict", &base, &sweeper);
    let first = engine
        .create_container(&who, &req, &mut (), pending())
        .await
        .unwrap();
    let err = engine
        .create_container(&who, &req, &mut (), pending())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ContainerExists { .. }), "{err}");
    assert!(err.to_string().contains("already exists"));
    docker_ok(&["container", "inspect", &first.name]);
    assert_eq!(sweeper.count(&engine).await, (1, 1));
}

#[tokio::test]
async fn of_two_concurrent_creates_exactly_one_wins() {
    let sweeper = Sweeper::new("fail-race");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(1006);
    let req = custom_request("t-race", &base, &sweeper);
    let (mut quiet_a, mut quiet_b) = ((), ());
    let (a, b) = tokio::join!(
        engine.create_container(&who, &req, &mut quiet_a, pending()),
        engine.create_container(&who, &req, &mut quiet_b, pending()),
    );
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        (a, b) => panic!("expected one winner: {a:?} / {b:?}"),
    };
    assert!(
        matches!(lost, EngineError::ContainerExists { .. }),
        "{lost}"
    );
    assert_eq!(won.user_setup, UserSetup::Committed);
    assert_eq!(sweeper.count(&engine).await, (1, 1));
}

/// Interrupts the flow when it reports a stage starting with `stage`.
async fn interrupted_at(stage: &'static str, name: &str, uid: u32) {
    let sweeper = Sweeper::new(name);
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(uid);
    let req = custom_request(name, &base, &sweeper);
    let signal = Arc::new(Notify::new());
    let notifier = signal.clone();
    let mut progress = move |event: Progress| {
        if matches!(&event, Progress::Stage(s) if s.starts_with(stage)) {
            notifier.notify_one();
        }
    };
    let err = engine
        .create_container(&who, &req, &mut progress, signal.notified())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Interrupted), "{err}");
    assert_eq!(
        sweeper.count(&engine).await,
        (0, 0),
        "leftovers after the interrupt"
    );
    // And the same create works afterwards.
    let created = engine
        .create_container(&who, &req, &mut (), pending())
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Committed);
}

#[tokio::test]
async fn an_interrupt_during_setup_leaves_nothing() {
    interrupted_at("setting up user", "t-int-setup", 1007).await;
}

#[tokio::test]
async fn an_interrupt_before_the_commit_leaves_nothing() {
    interrupted_at("committing", "t-int-commit", 1008).await;
}

#[tokio::test]
async fn labels_claiming_an_absent_user_are_not_trusted() {
    let sweeper = Sweeper::new("lying-labels");
    let engine = engine().await;
    fixture(&engine, DEBIAN12).await;
    let who = test_user(1009);
    // What DS01's image-create produced when built without build args (bug B1).
    let dockerfile = format!(
        "FROM {DEBIAN12}\nLABEL aime.mlc.DS01_HAS_USER_SETUP=true aime.mlc.DS01_USER_ID=1009 \
         aime.mlc.DS01_GROUP_ID=1009 aime.mlc.DS01_USERNAME={}\n",
        who.username()
    );
    let image = derived_image(
        &engine,
        "ds01-test/lying-labels:latest",
        &dockerfile,
        &sweeper,
    )
    .await;
    let created = create(&engine, &who, "t-lying", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Committed);
    let reason = created.fallback.expect("the fallback is explained");
    assert!(reason.contains("no account has UID 1009"), "{reason}");
}

#[tokio::test]
async fn a_missing_image_says_how_to_get_one() {
    let engine = engine().await;
    let sweeper = Sweeper::new("missing-image");
    let image: ImageRef = "ds01-1010/never-built:latest".parse().unwrap();
    let err = engine
        .create_container(
            &test_user(1010),
            &custom_request("t-missing", &image, &sweeper),
            &mut (),
            pending(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::ImageNotFound { image } if image == "ds01-1010/never-built:latest"),
        "{err}"
    );
    assert_eq!(sweeper.count(&engine).await, (0, 0));
}

#[tokio::test]
async fn a_setup_container_left_by_a_dead_run_does_not_block_the_retry() {
    let sweeper = Sweeper::new("dead-run");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(1013);
    // What a ds01 run killed mid-setup leaves: a setup container under the final name,
    // made by hand, as ds01 itself only leaves one when it dies.
    let (k, v) = sweeper.label();
    docker_ok(&[
        "create",
        "--name",
        "t-dead-run._.1013",
        "--label",
        &format!("{k}={v}"),
        "--label",
        "ds01.role=setup",
        &base.to_string(),
        "true",
    ]);

    let mut stages = Vec::new();
    let mut progress = |event: Progress| {
        if let Progress::Stage(s) = event {
            stages.push(s);
        }
    };
    let created = engine
        .create_container(
            &who,
            &custom_request("t-dead-run", &base, &sweeper),
            &mut progress,
            pending(),
        )
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Committed);
    assert!(
        stages
            .iter()
            .any(|s| s.contains("left by an interrupted run")),
        "{stages:?}"
    );
    assert_eq!(sweeper.count(&engine).await, (1, 1));
}
