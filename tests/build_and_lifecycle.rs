//! Builds and everyday container operations on a real engine.

use ds01_dockerfile::{AptPackage, Base, ImageName, ImageRef, ImageSpec};
use ds01_engine::{ContainerName, EngineError, Progress, Scope, UserSetup};
use ds01_tests::*;
use std::future::pending;
use std::os::unix::fs::MetadataExt;

#[tokio::test]
async fn a_failed_rebuild_keeps_the_earlier_image_and_reports_the_log() {
    let sweeper = Sweeper::new("rebuild-fails");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN12).await;
    let who = test_user(2001);
    let mut spec = ImageSpec::new(
        ImageName::parse("t-rebuild").unwrap(),
        Base::Custom { image: base },
    );
    let mut lines = Vec::new();
    let mut progress = |event: Progress| {
        if let Progress::BuildOutput(line) = event {
            lines.push(line);
        }
    };
    let first = engine
        .build_image(
            &who,
            &spec,
            &labelled_build(&sweeper),
            &mut progress,
            pending(),
        )
        .await
        .unwrap();
    assert_eq!(first.image, "ds01-2001/t-rebuild:latest");
    assert!(
        lines.iter().any(|l| l.contains("user setup complete")),
        "{lines:?}"
    );
    let labels = existing_image(&engine, &first.image).await.labels;
    assert_eq!(labels["ds01.spec.sha256"], first.spec_sha256);
    assert_eq!(labels["aime.mlc.DS01_USER_ID"], "2001");
    assert_eq!(labels["aime.mlc.DS01_USERNAME"], who.username().as_str());

    spec.add_apt(AptPackage::parse("ds01-no-such-package").unwrap());
    let err = engine
        .build_image(&who, &spec, &labelled_build(&sweeper), &mut (), pending())
        .await
        .unwrap_err();
    match &err {
        EngineError::BuildFailed { log_tail, .. } => assert!(!log_tail.is_empty(), "{err}"),
        other => panic!("expected a build failure, got {other}"),
    }
    let still = existing_image(&engine, &first.image).await;
    assert_eq!(still.id, first.id, "the earlier image must stay tagged");
}

#[tokio::test]
async fn users_see_and_touch_only_their_own_containers() {
    let sweeper = Sweeper::new("ownership");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let (alice, bob) = (test_user(2002), test_user(2003));
    create(&engine, &alice, "t-own", &base, &sweeper)
        .await
        .unwrap();
    create(&engine, &bob, "t-own-bob", &base, &sweeper)
        .await
        .unwrap();

    let names = |list: Vec<ds01_engine::ContainerView>| {
        list.into_iter()
            .map(|c| c.name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(engine.list_containers(Scope::User(&alice)).await.unwrap()),
        ["t-own._.2002"]
    );
    assert_eq!(
        names(engine.list_containers(Scope::User(&bob)).await.unwrap()),
        ["t-own-bob._.2003"]
    );
    let all = names(engine.list_containers(Scope::AllUsers).await.unwrap());
    assert!(
        all.contains(&"t-own._.2002".to_owned()) && all.contains(&"t-own-bob._.2003".to_owned())
    );

    // Bob naming Alice's container reaches nothing of hers.
    let hers = ContainerName::new("t-own").unwrap();
    for err in [
        engine
            .start_container(&hers.owned_by(bob.uid()))
            .await
            .unwrap_err(),
        engine
            .stop_container(&hers.owned_by(bob.uid()))
            .await
            .unwrap_err(),
        engine
            .remove_container(&hers.owned_by(bob.uid()), true)
            .await
            .map(|_| ())
            .unwrap_err(),
        engine
            .exec(&bob, &hers, &["id".into()], false)
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert!(
            matches!(err, EngineError::ContainerNotFound { .. }),
            "{err}"
        );
    }
    engine
        .owned_container(&hers.owned_by(alice.uid()))
        .await
        .unwrap();
    assert_eq!(
        check::inspect("t-own._.2002", "{{.HostConfig.Privileged}}"),
        "false",
        "containers are not privileged by default"
    );
}

#[tokio::test]
async fn start_exec_stats_stop_and_remove_with_a_workspace() {
    let sweeper = Sweeper::new("lifecycle");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN12).await;
    let who = test_user(2004);
    let workspace = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(workspace.path(), Some(2004), Some(2004)).unwrap();
    let image = {
        let spec = ImageSpec::new(
            ImageName::parse("t-life").unwrap(),
            Base::Custom { image: base },
        );
        let built = engine
            .build_image(&who, &spec, &labelled_build(&sweeper), &mut (), pending())
            .await
            .unwrap();
        built.image.parse::<ImageRef>().unwrap()
    };
    let mut req = custom_request("t-life", &image, &sweeper);
    req.options.workspace = Some(workspace.path().to_owned());
    let created = engine
        .create_container(&who, &req, &mut (), pending())
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Baked);
    let name = ContainerName::new("t-life").unwrap();

    let not_running = engine
        .exec(&who, &name, &["true".into()], false)
        .await
        .unwrap_err();
    // Errors are data: the client adds the hint (`ds01 container start`).
    assert!(
        matches!(&not_running, EngineError::NotRunning { name } if name == "t-life._.2004"),
        "{not_running}"
    );
    engine
        .start_container(&name.owned_by(who.uid()))
        .await
        .unwrap();
    engine
        .start_container(&name.owned_by(who.uid()))
        .await
        .unwrap(); // already running: fine

    let out = engine
        .exec(
            &who,
            &name,
            &[
                "sh".into(),
                "-c".into(),
                "pwd; touch /workspace/made-inside".into(),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        (out.status, out.stdout.trim()),
        (0, "/workspace"),
        "{out:?}"
    );
    let made = std::fs::metadata(workspace.path().join("made-inside")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (2004, 2004),
        "files in the workspace belong to the user"
    );
    let failing = engine
        .exec(
            &who,
            &name,
            &["sh".into(), "-c".into(), "exit 3".into()],
            false,
        )
        .await
        .unwrap();
    assert_eq!(failing.status, 3);

    let stats = engine.stats(&who).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].name, "t-life");
    assert!(stats[0].pids >= 1 && stats[0].memory_bytes > 0, "{stats:?}");

    let running = engine
        .remove_container(&name.owned_by(who.uid()), false)
        .await
        .unwrap_err();
    assert!(running.to_string().contains("is running"), "{running}");
    engine
        .stop_container(&name.owned_by(who.uid()))
        .await
        .unwrap();
    // A second container from the same image: removing the first takes only its own tag,
    // never the image.
    create(&engine, &who, "t-life-2", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(
        engine
            .remove_container(&name.owned_by(who.uid()), false)
            .await
            .unwrap(),
        [format!("{}:t-life._.2004", image.repository())]
    );
    existing_image(&engine, &image.to_string()).await;
    assert_eq!(
        engine.containers_using(&image.to_string()).await.unwrap(),
        ["t-life-2._.2004"]
    );
}

#[tokio::test]
async fn a_committed_image_in_use_by_another_container_is_kept() {
    let sweeper = Sweeper::new("image-in-use");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(2005);
    let first = create(&engine, &who, "t-inuse", &base, &sweeper)
        .await
        .unwrap();
    assert_eq!(first.user_setup, UserSetup::Committed);
    // The per-container image carries the verified user: another container can bake from it.
    let committed: ImageRef = first.image.parse().unwrap();
    let second = create(&engine, &who, "t-inuse-2", &committed, &sweeper)
        .await
        .unwrap();
    assert_eq!(second.user_setup, UserSetup::Baked);
    let removed = engine
        .remove_container(
            &ContainerName::new("t-inuse").unwrap().owned_by(who.uid()),
            true,
        )
        .await
        .unwrap();
    assert!(
        removed.is_empty(),
        "image still used by t-inuse-2, yet removed: {removed:?}"
    );
    existing_image(&engine, &first.image).await;
}
