//! The build both `image create` and `image update` end in: confined by the builder's
//! limits, within `build_timeout`, in a build slot of theirs (`max_builds`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ds01_api::{ApiError, ErrorCode, ImageBuilt};
use ds01_dockerfile::ImageSpec;
use ds01_engine::{BuildOptions, EngineError};

use crate::builds::{self, BuildSlot};
use crate::caller::Acting;
use crate::config::Config;
use crate::disk::ImageStorage;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::stream::Reporter;
use crate::Daemon;

/// Builds `spec`, whose base images the caller was checked for (`base::authorized`), in
/// the caller's build `slot`, which is held until the build has ended and rolled back,
/// whichever way it ends.
pub(crate) async fn build(
    d: &Daemon,
    acting: &Acting,
    _slot: BuildSlot,
    spec: &ImageSpec,
    no_cache: bool,
    reporter: Reporter,
) -> Result<ImageBuilt, ApiError> {
    let timer = crate::metrics::build_started();
    let storage = ImageStorage::of(&d.engine, &d.config, acting);
    storage.check().await?;
    let effective = acting.policy(&d.config);
    let network = d.config.build_network();
    d.engine
        .ensure_build_network(network, &d.config.resource_labels())
        .await
        .map_err(from_engine)?;
    let options = BuildOptions {
        no_cache,
        resource_labels: d.config.resource_labels(),
        ca_certificates: ca_certificates(&d.config)?,
        // The image is the builder's own: their policy decides whether it carries a
        // sudoers rule for them.
        sudo: effective.sudo.value,
        limits: builds::limits_for(&effective, acting.who.uid(), network, &d.cgroup_driver)?,
    };
    let timeout = effective.build_timeout.clone();
    let timed_out = Arc::new(AtomicBool::new(false));
    let gone = reporter.gone();
    let interrupt = {
        let timed_out = timed_out.clone();
        let limit = timeout.value.value();
        async move {
            let expiry = async {
                match limit {
                    Some(span) => tokio::time::sleep(Duration::from_secs(span.secs())).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = gone => {}
                () = expiry => timed_out.store(true, Ordering::SeqCst),
            }
        }
    };
    let mut progress = move |p| reporter.report(p);
    let built = d
        .engine
        .build_image(&acting.who, spec, &options, &mut progress, interrupt)
        .await
        .map_err(|e| match e {
            EngineError::Interrupted if timed_out.load(Ordering::SeqCst) => ApiError::new(
                ErrorCode::Limit,
                format!(
                    "the build of {} was cancelled when it reached its time limit ({timeout}); nothing of it was kept",
                    spec.name
                ),
            )
            .subject(spec.name.as_str())
            .because(ds01_api::Reason::OverLimit {
                key: "build_timeout".into(),
            }),
            e => from_engine(e),
        })?;
    // The build ran the user setup and checked it: the account is proven for this ID.
    if let Some(cache) = &d.verdicts {
        cache.record(&built.id, &acting.who);
    }
    SpecStore::of(&d.state_dir, acting.who.uid()).record_built(&spec.name, &built.id)?;
    timer.built();
    Ok(ImageBuilt {
        image: built.image,
        id: Some(built.id),
        spec_sha256: Some(built.spec_sha256),
        built: true,
        containers: Vec::new(),
        note: storage.note().await,
    })
}

/// The admin's CA certificates for pip in builds, read fresh for each build (the file may
/// be renewed); a configured file that cannot be read fails the build, as a build without
/// it would fail later, less clearly.
fn ca_certificates(config: &Config) -> Result<Option<Vec<u8>>, ApiError> {
    const MAX: u64 = 4 << 20;
    let Some(path) = &config.file.build_ca_certificates else {
        return Ok(None);
    };
    let read = || -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(MAX + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX {
            return Err(std::io::Error::other("it is larger than 4 MiB"));
        }
        Ok(bytes)
    };
    read().map(Some).map_err(|e| {
        ApiError::new(
            ErrorCode::Failed,
            format!(
                "cannot read the build CA certificates {} (build_ca_certificates in the configuration): {e}",
                path.display()
            ),
        )
    })
}
