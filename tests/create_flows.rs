//! The three create flows on a real engine, at UID 1000 and at the LDAP UID 1722830498,
//! checked from inside the containers.

use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec};
use ds01_engine::{
    BuildOptions, ContainerName, CreatedContainer, Engine, Identity, OwnedContainer, Provenance,
    UserSetup, VerdictCache,
};
use ds01_tests::*;
use std::future::pending;

async fn build(
    engine: &Engine,
    who: &Identity,
    base: &str,
    name: &str,
    sweeper: &Sweeper,
) -> ImageRef {
    let spec = ImageSpec::new(
        ImageName::parse(name).unwrap(),
        Base::Custom {
            image: base.parse().unwrap(),
        },
    );
    let options = BuildOptions {
        no_cache: false,
        resource_labels: vec![sweeper.label()],
        ca_certificates: None,
        // As host_options(): these check what the user setup grants, sudo included.
        sudo: true,
        limits: Default::default(),
    };
    let built = engine
        .build_image(who, &spec, &options, &mut (), pending())
        .await
        .unwrap();
    built.image.parse().unwrap()
}

/// Starts the container and checks the account from the inside.
async fn check_inside(
    engine: &Engine,
    who: &Identity,
    created: &CreatedContainer,
    expect_sudo: bool,
) {
    let owned = OwnedContainer::parse(&created.name).unwrap();
    let name = owned.name().clone();
    engine.start_container(&owned).await.unwrap();
    let run = |script: &str| {
        let cmd = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        let name = name.clone();
        async move { engine.exec(who, &name, &cmd, false).await.unwrap() }
    };
    let user = who.username().as_str();
    assert_eq!(run("id -un").await.stdout.trim(), user);
    assert_eq!(
        run("id -u; id -g").await.stdout,
        format!("{}\n{}\n", who.uid(), who.gid())
    );
    assert_eq!(
        run("echo $HOME").await.stdout.trim(),
        format!("/home/{user}")
    );
    let writable = run("touch ~/.local/bin/probe && rm ~/.local/bin/probe && echo ok").await;
    assert_eq!(writable.stdout.trim(), "ok", "{writable:?}");
    let sudo = run("sudo -n id -u 2>&1 || echo nosudo").await;
    if expect_sudo {
        assert_eq!(sudo.stdout.trim(), "0", "{sudo:?}");
    } else {
        assert!(sudo.stdout.contains("nosudo"), "{sudo:?}");
    }
}

async fn image_size(engine: &Engine, image: &str) -> i64 {
    existing_image(engine, image).await.size.unwrap()
}

#[tokio::test]
async fn baked_flow_at_uid_1000_on_debian12() {
    let sweeper = Sweeper::new("baked-1000");
    let engine = engine().await;
    fixture(&engine, DEBIAN12).await;
    let who = test_user(1000);
    let image = build(&engine, &who, DEBIAN12, "t-baked-1000", &sweeper).await;
    let created = create(&engine, &who, "t-baked-1000", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Baked);
    assert_eq!(created.image, image.to_string());
    check_inside(&engine, &who, &created, true).await;
}

#[tokio::test]
async fn baked_flow_at_the_ldap_uid_on_debian11() {
    let sweeper = Sweeper::new("baked-ldap");
    let engine = engine().await;
    let base = fixture(&engine, DEBIAN11).await;
    let who = test_user(LDAP_UID);
    let image = build(&engine, &who, DEBIAN11, "t-baked-ldap", &sweeper).await;
    let grown = image_size(&engine, &image.to_string()).await
        - image_size(&engine, &base.to_string()).await;
    assert!(grown < 5 << 20, "the baked image grew by {grown} bytes");
    let created = create(&engine, &who, "t-baked-ldap", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Baked);
    check_inside(&engine, &who, &created, false).await;
}

async fn commit_flow(base_name: &str, uid: u32, container: &str, expect_sudo: bool) {
    let sweeper = Sweeper::new(container);
    let engine = engine().await;
    let base = fixture(&engine, base_name).await;
    let who = test_user(uid);
    // sudo works only where the policy lets setuid binaries gain privileges.
    let mut request = custom_request(container, &base, &sweeper);
    request.options.allow_privilege_gain = expect_sudo;
    let created = engine
        .create_container(&who, &request, &mut (), std::future::pending())
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Committed);
    let docker_name = format!("{container}._.{uid}");
    assert_eq!(created.name, docker_name);
    let expected: ImageRef = base.with_tag(&docker_name.parse().unwrap());
    assert_eq!(created.image, expected.to_string());
    let grown =
        image_size(&engine, &created.image).await - image_size(&engine, &base.to_string()).await;
    assert!(grown < 5 << 20, "the committed image grew by {grown} bytes");
    check_inside(&engine, &who, &created, expect_sudo).await;

    // Removing the container removes its per-container image, never the base.
    let name = ContainerName::new(container).unwrap();
    let removed = engine
        .remove_container(&name.owned_by(who.uid()), true)
        .await
        .unwrap();
    assert_eq!(removed, vec![created.image.clone()]);
    existing_image(&engine, &base.to_string()).await;
    assert_eq!(sweeper.count(&engine).await, (0, 0));
}

#[tokio::test]
async fn commit_flow_at_uid_1000_on_debian11() {
    commit_flow(DEBIAN11, 1000, "t-commit-1000", false).await;
}

#[tokio::test]
async fn commit_flow_at_the_ldap_uid_on_debian11() {
    commit_flow(DEBIAN11, LDAP_UID, "t-commit-ldap", false).await;
}

#[tokio::test]
async fn commit_flow_renames_the_ubuntu_account() {
    commit_flow(UBUNTU_ACCOUNT, 1000, "t-rename", true).await;
}

#[tokio::test]
async fn catalog_flow_resolves_through_a_fixture_catalog() {
    let sweeper = Sweeper::new("catalog");
    let engine = engine().await;
    fixture(&engine, DEBIAN12).await;
    let catalog = ds01_dockerfile::Catalog::parse(&format!(
        "Pytorch, 9.9.9, [CUDA_ADA;CUDA_AMPERE], {}\n",
        DEBIAN12.trim_end_matches(":latest")
    ))
    .unwrap();
    let entry = catalog
        .resolve("Pytorch", Some("9.9.9"), "CUDA_AMPERE")
        .unwrap();
    let who = test_user(1001);
    let mut req = custom_request("t-catalog", &entry.image, &sweeper);
    req.provenance = Provenance::Catalog {
        framework: entry.framework.clone(),
        version: entry.version.clone(),
    };
    req.pull_if_missing = true;
    req.options.arch = Some("CUDA_AMPERE".into());
    let created = engine
        .create_container(&who, &req, &mut (), pending())
        .await
        .unwrap();
    assert_eq!(created.user_setup, UserSetup::Committed);
    let labels = check::inspect(&created.name, "{{json .Config.Labels}}");
    let labels = check::json(labels.as_bytes());
    assert_eq!(labels["aime.mlc.FRAMEWORK"], "Pytorch-9.9.9");
    assert_eq!(labels["aime.mlc.ARCH"], "CUDA_AMPERE");
    assert_eq!(labels["aime.mlc.CUSTOM_IMAGE"], "");
    assert_eq!(labels["aime.mlc.USER"], who.login());
    assert_eq!(labels["aime.mlc.GPUS"], "none");
    check_inside(&engine, &who, &created, true).await;
}

#[tokio::test]
async fn a_verified_account_is_cached_by_image_id() {
    let sweeper = Sweeper::new("verdict-cache");
    let cache_dir = tempfile::tempdir().unwrap();
    let engine = engine()
        .await
        .with_verdict_cache(VerdictCache::new(cache_dir.path()));
    fixture(&engine, DEBIAN12).await;
    let who = test_user(1011);
    let image = build(&engine, &who, DEBIAN12, "t-verdict", &sweeper).await;
    let cached = || {
        std::fs::read_dir(cache_dir.path())
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(cached(), 0);
    let first = create(&engine, &who, "t-verdict-1", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(first.user_setup, UserSetup::Baked);
    assert_eq!(cached(), 1, "the verified account is remembered");
    let second = create(&engine, &who, "t-verdict-2", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(second.user_setup, UserSetup::Baked);
    check_inside(&engine, &who, &second, true).await;
    // Another account on the same image is not covered by that verdict.
    let other = test_user(1012);
    let third = create(&engine, &other, "t-verdict-3", &image, &sweeper)
        .await
        .unwrap();
    assert_eq!(third.user_setup, UserSetup::Committed);
}
