//! Shared helpers for ds01's engine-level integration tests and benchmarks: the fixture
//! images, test identities, and a sweeper that removes everything a test labelled.

use ds01_dockerfile::ImageRef;
use ds01_engine::Engine;

pub mod check;
pub mod cli;
pub mod daemon;
pub mod loopback;
pub mod users;

/// The label key every test resource carries; the value names the test.
pub const TEST_LABEL: &str = "ds01.test";

/// Debian 12 minbase with sudo.
pub const DEBIAN12: &str = "ds01-fixture/debian12:latest";
/// Debian 11 minbase: shadow 4.8.1, whose useradd grows lastlog with the UID.
pub const DEBIAN11: &str = "ds01-fixture/debian11:latest";
/// Debian 12 with an `ubuntu` account at 1000:1000, like ubuntu:24.04.
pub const UBUNTU_ACCOUNT: &str = "ds01-fixture/ubuntu-account:latest";
/// Debian 12 with Python 3, its Redis client and a Redis server: two services' image.
pub const SERVICES: &str = "ds01-fixture/services:latest";

/// The LDAP identity from the issue, with its real high UID.
pub const LDAP_LOGIN: &str = "h.baker@hertie-school.lan";
/// Its UID.
pub const LDAP_UID: u32 = 1_722_830_498;
/// Its GID.
pub const LDAP_GID: u32 = 1_722_800_513;

/// Container options that this host can start: MLC's `memlock=-1` needs a hard limit of
/// "unlimited", which sandboxed engines (like the CI machine's) do not have.
pub fn host_options() -> ds01_engine::ContainerOptions {
    ds01_engine::ContainerOptions {
        memlock: hard_memlock_limit().map(|kib| format!("{kib}k").parse().unwrap()),
        // These tests check what the user setup grants (sudo included); turning privilege
        // gain off is ds01d's policy, tried in tests/security.rs.
        allow_privilege_gain: true,
        ..Default::default()
    }
}

/// The hard locked-memory limit in KiB, or `None` when unlimited.
pub fn hard_memlock_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    let hard = line.split_whitespace().nth(4)?;
    hard.parse::<u64>().ok().map(|bytes| bytes / 1024)
}

/// A test user `test.user<uid>@example.lan` (GID = UID); at [`LDAP_UID`] the LDAP identity
/// of the issue.
pub fn test_user(uid: u32) -> ds01_engine::Identity {
    match uid {
        LDAP_UID => ds01_engine::Identity::new(LDAP_LOGIN, LDAP_UID, LDAP_GID).unwrap(),
        _ => ds01_engine::Identity::new(&format!("test.user{uid}@example.lan"), uid, uid).unwrap(),
    }
}

/// A create request for a container `name` from a custom `image`, labelled for `sweeper`,
/// with options this host can start.
pub fn custom_request(
    name: &str,
    image: &ImageRef,
    sweeper: &Sweeper,
) -> ds01_engine::CreateRequest {
    ds01_engine::CreateRequest {
        name: ds01_engine::ContainerName::new(name).unwrap(),
        image: image.clone(),
        provenance: ds01_engine::Provenance::Custom(image.to_string()),
        pull_if_missing: false,
        options: host_options(),
        resource_labels: vec![sweeper.label()],
    }
}

/// Creates `who`'s container `name` from `image` (labelled for `sweeper`), uninterrupted.
pub async fn create(
    engine: &Engine,
    who: &ds01_engine::Identity,
    name: &str,
    image: &ImageRef,
    sweeper: &Sweeper,
) -> ds01_engine::Result<ds01_engine::CreatedContainer> {
    let request = custom_request(name, image, sweeper);
    engine
        .create_container(who, &request, &mut (), std::future::pending())
        .await
}

/// Build options that label the image for `sweeper`.
pub fn labelled_build(sweeper: &Sweeper) -> ds01_engine::BuildOptions {
    ds01_engine::BuildOptions {
        no_cache: false,
        resource_labels: vec![sweeper.label()],
        ca_certificates: None,
        // As host_options(): these check what the user setup grants, sudo included.
        sudo: true,
        limits: Default::default(),
    }
}

/// Connects to the engine, failing the test loudly when there is none: engine tests never
/// skip.
pub async fn engine() -> Engine {
    Engine::connect().await.unwrap_or_else(|e| {
        panic!("engine tests need a Docker engine (run scripts/ensure-engine.sh): {e}")
    })
}

/// A fixture image, checked to exist.
pub async fn fixture(engine: &Engine, name: &str) -> ImageRef {
    let why = match engine.image_info(name).await {
        Ok(Some(_)) => return name.parse().unwrap(),
        Ok(None) => "not on this engine".to_owned(),
        Err(e) => e.to_string(),
    };
    panic!("fixture image {name} is missing (run scripts/fixture-images.sh): {why}")
}

/// The image `reference`, which must be on the engine.
pub async fn existing_image(engine: &Engine, reference: &str) -> ds01_engine::ImageInfo {
    match engine.image_info(reference).await {
        Ok(Some(image)) => image,
        Ok(None) => panic!("image {reference} is not on the engine"),
        Err(e) => panic!("image {reference} cannot be read: {e}"),
    }
}

/// Builds a small image from raw Dockerfile text (a test's own, labelled for `sweeper`),
/// tagged `tag`: bases that behave oddly on purpose.
pub async fn derived_image(
    engine: &Engine,
    tag: &str,
    dockerfile: &str,
    sweeper: &Sweeper,
) -> ImageRef {
    let mut tarball = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tarball
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    let context = tarball.into_inner().unwrap();
    engine
        .build_from_context(tag, context, &[sweeper.label()])
        .await
        .unwrap_or_else(|e| panic!("building {tag}: {e}"));
    tag.parse().unwrap()
}

/// A base made from `from` whose `useradd` also runs `extra` (as root, in the setup
/// container): a setup that writes what a test needs.
pub async fn base_whose_useradd_also(
    engine: &Engine,
    from: &str,
    tag: &str,
    extra: &str,
    sweeper: &Sweeper,
) -> ImageRef {
    fixture(engine, from).await;
    let dockerfile = format!(
        "FROM {from}\nRUN mv /usr/sbin/useradd /usr/sbin/useradd.real && \
         printf '#!/bin/sh\\n/usr/sbin/useradd.real \"$@\" && {extra}\\n' > /usr/sbin/useradd && \
         chmod 755 /usr/sbin/useradd\n"
    );
    derived_image(engine, tag, &dockerfile, sweeper).await
}

/// Removes, when dropped, every container, network, volume and image labelled `ds01.test=<value>`:
/// tests clean up even when an assertion fails half-way.
pub struct Sweeper {
    value: String,
}

impl Sweeper {
    /// A sweeper for resources labelled with `value` (unique per test), sweeping once now
    /// so that a crashed earlier run cannot disturb this one.
    pub fn new(value: &str) -> Self {
        let value = format!("{value}-{}", std::process::id());
        let sweeper = Sweeper { value };
        sweeper.sweep();
        sweeper
    }

    /// The label pair to put on the test's resources.
    pub fn label(&self) -> (String, String) {
        (TEST_LABEL.to_owned(), self.value.clone())
    }

    /// Counts the labelled containers and images that exist now.
    pub async fn count(&self, engine: &Engine) -> (usize, usize) {
        let found = engine.labelled(TEST_LABEL, &self.value).await.unwrap();
        (found.containers.len(), found.images.len())
    }

    fn sweep(&self) {
        let value = self.value.clone();
        // Drop may run inside a runtime; a fresh thread with its own runtime avoids nesting.
        let job = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                // A failed sweep must not fail the test it cleans up after; saying so
                // points at what may be left.
                if let Err(e) = engine().await.remove_labelled(TEST_LABEL, &value).await {
                    eprintln!("sweeping {TEST_LABEL}={value} left something behind: {e}");
                }
            });
        });
        let _ = job.join();
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.sweep();
    }
}
