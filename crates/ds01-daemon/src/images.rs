//! Image requests: a user's images are `ds01-<uid>/<name>:latest`, described by specs that
//! ds01d keeps, built by the engine with the account baked in.

use std::collections::BTreeSet;

use ds01_api::{
    ApiError, ErrorCode, ImageBuilt, ImageCreate, ImageDetails, ImageRow, ImageUpdate, Removed,
};
use ds01_dockerfile::{
    build_context, defaults, labels, parse_requirements, AimeBase, Base, Catalog, CatalogEntry,
    ImageName, ImageSpec, Login, PipRequirement, UserDockerfile,
};
use ds01_engine::{BuildOptions, EngineError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::authz::IfMissing;
use crate::builds;
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::stream::Reporter;
use crate::Daemon;

impl Daemon {
    /// The spec store of `uid`, in the state directory.
    pub(crate) fn store(&self, uid: u32) -> SpecStore {
        SpecStore::new(
            self.state_dir
                .join("users")
                .join(uid.to_string())
                .join("images"),
        )
    }

    /// The catalog row for `framework` on `arch` (the server's when absent), from the
    /// catalog text the client sent, else the server's catalog.
    pub(crate) fn catalog_entry(
        &self,
        catalog: Option<&str>,
        framework: &str,
        version: Option<&str>,
        arch: Option<&str>,
    ) -> Result<(CatalogEntry, String), ApiError> {
        let catalog = match catalog {
            Some(text) => Catalog::parse(text),
            None => Catalog::load(&self.config.catalog),
        }
        .map_err(|e| ApiError::invalid(e.to_string()))?;
        let arch = arch.unwrap_or(&self.config.architecture);
        let entry = catalog
            .resolve(framework, version, arch)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok((entry.clone(), arch.to_owned()))
    }

    /// `POST /v1/images`.
    pub async fn create_image(
        &self,
        acting: &Acting,
        request: ImageCreate,
        reporter: Reporter,
    ) -> Result<ImageBuilt, ApiError> {
        let who = &acting.who;
        let reference = request.name.image_ref(who.uid());
        if self
            .engine
            .image_info(&reference.to_string())
            .await
            .map_err(from_engine)?
            .is_some()
        {
            return Err(ApiError::new(
                ErrorCode::ImageExists,
                format!("image {reference} exists already"),
            )
            .subject(request.name.as_str()));
        }
        let base = match (&request.dockerfile, &request.base, &request.framework) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ApiError::invalid(
                    "give either a Dockerfile or a base image (or catalog framework), not both",
                ))
            }
            (Some(text), None, None) => {
                let dockerfile =
                    UserDockerfile::parse(text).map_err(|e| ApiError::invalid(e.to_string()))?;
                Base::Dockerfile {
                    dockerfile,
                    ds01_legacy: request.ds01_legacy,
                }
            }
            (None, Some(image), _) => Base::Custom {
                image: image.clone(),
            },
            (None, None, Some(framework)) => {
                let (entry, arch) = self.catalog_entry(
                    request.catalog.as_deref(),
                    framework,
                    request.framework_version.as_deref(),
                    request.arch.as_deref(),
                )?;
                Base::Aime(
                    AimeBase::from_catalog(&entry, &arch)
                        .map_err(|e| ApiError::invalid(e.to_string()))?,
                )
            }
            (None, None, None) => {
                return Err(ApiError::invalid(
                    "no base image: give a base image, a catalog framework or a Dockerfile",
                ))
            }
        };
        // Checked before anything is saved, so a refused image or a bad file leaves nothing
        // behind. The spec keeps the user's text; what is built uses the checked references.
        let checked_base = self.authorized_base(who.uid(), &base).await?;
        let requirements = match &request.requirements {
            Some(text) => parse_requirements(text).map_err(|e| ApiError::invalid(e.to_string()))?,
            None => Vec::new(),
        };
        let mut spec = ImageSpec::with_ds01_defaults(request.name.clone(), base, None);
        spec.owner = Login::parse(who.login()).ok();
        match request.jupyter {
            Some(true) => {
                spec.configure_jupyter = true;
                if spec.packages.jupyter.is_empty() {
                    spec.packages.jupyter = defaults::JUPYTER
                        .iter()
                        .filter_map(|p| PipRequirement::parse(p).ok())
                        .collect();
                }
            }
            Some(false) => {
                spec.configure_jupyter = false;
                spec.packages.jupyter.clear();
            }
            None => {}
        }
        if let Some(preset) = request.preset {
            spec.apply_preset(preset);
        }
        for package in request.apt {
            spec.add_apt(package);
        }
        spec.add_requirements(requirements);
        for requirement in request.pip {
            spec.add_pip(requirement);
        }
        // Refused before the spec is saved: one build too many leaves nothing either.
        let slot = if request.no_build {
            None
        } else {
            Some(self.builds.take(who.uid(), &self.effective(acting))?)
        };
        self.store(who.uid()).save(&spec)?;
        spec.base = checked_base;
        let Some(slot) = slot else {
            return Ok(ImageBuilt {
                image: reference.to_string(),
                id: None,
                spec_sha256: None,
                built: false,
                containers: Vec::new(),
                note: None,
            });
        };
        self.build(acting, slot, &spec, request.no_cache, reporter)
            .await
    }

    /// `base` with every image it names checked for the caller and written as the tag that
    /// was checked; refused as a whole if one of them may not be used.
    pub(crate) async fn authorized_base(&self, uid: u32, base: &Base) -> Result<Base, ApiError> {
        let authz = self.authz();
        Ok(match base {
            Base::Aime(aime) => {
                let allowed = authz.image(uid, aime.image(), IfMissing::Pull).await?;
                Base::Aime(
                    AimeBase::new(
                        aime.framework(),
                        aime.version(),
                        aime.architecture(),
                        allowed.reference,
                    )
                    .map_err(|e| ApiError::invalid(e.to_string()))?,
                )
            }
            Base::Custom { image } => Base::Custom {
                image: authz.image(uid, image, IfMissing::Pull).await?.reference,
            },
            Base::Dockerfile {
                dockerfile,
                ds01_legacy,
            } => {
                let mut checked = Vec::new();
                for image in dockerfile.images() {
                    let allowed = authz.image(uid, image, IfMissing::Pull).await?;
                    checked.push((image.clone(), allowed.reference));
                }
                let dockerfile = dockerfile
                    .with_images(|i| {
                        checked
                            .iter()
                            .find(|(given, _)| given == i)
                            .map(|(_, c)| c.clone())
                    })
                    .map_err(|e| ApiError::invalid(e.to_string()))?;
                Base::Dockerfile {
                    dockerfile,
                    ds01_legacy: *ds01_legacy,
                }
            }
        })
    }

    /// Builds `spec`, whose base images the caller was checked for (`authorized_base`), in
    /// the caller's build `slot`, which is held until the build has ended and rolled back,
    /// whichever way it ends.
    async fn build(
        &self,
        acting: &Acting,
        _slot: builds::BuildSlot,
        spec: &ImageSpec,
        no_cache: bool,
        reporter: Reporter,
    ) -> Result<ImageBuilt, ApiError> {
        let timer = crate::metrics::build_started();
        self.check_image_storage(acting).await?;
        let effective = self.effective(acting);
        let network = self.config.build_network();
        self.engine
            .ensure_build_network(network, &self.resource_labels())
            .await
            .map_err(from_engine)?;
        let options = BuildOptions {
            no_cache,
            resource_labels: self.resource_labels(),
            ca_certificates: self.build_ca_certificates()?,
            // The image is the builder's own: their policy decides whether it carries a
            // sudoers rule for them.
            sudo: effective.sudo.value,
            limits: builds::limits_for(&effective, acting.who.uid(), network, &self.cgroup_driver)?,
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
        let built = self
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
        if let Some(cache) = &self.verdicts {
            cache.record(&built.id, &acting.who);
        }
        self.store(acting.who.uid())
            .record_built(&spec.name, &built.id)?;
        timer.built();
        Ok(ImageBuilt {
            image: built.image,
            id: Some(built.id),
            spec_sha256: Some(built.spec_sha256),
            built: true,
            containers: Vec::new(),
            note: self.image_storage_note(acting).await,
        })
    }

    /// `POST /v1/images/{name}/update`.
    pub async fn update_image(
        &self,
        acting: &Acting,
        name: &ImageName,
        request: ImageUpdate,
        reporter: Reporter,
    ) -> Result<ImageBuilt, ApiError> {
        let who = &acting.who;
        let store = self.store(who.uid());
        let mut spec = store.load(name)?;
        for package in &request.remove {
            if spec.remove_package(package) == 0 {
                reporter.report(ds01_api::Progress::Stage(format!(
                    "{} is not in the spec of {name}",
                    ds01_api::shown(package)
                )));
            }
        }
        for package in request.add_apt {
            spec.add_apt(package);
        }
        for requirement in request.add {
            spec.add_pip(requirement);
        }
        store.save(&spec)?;
        // Checked at every build: what a short ID or a name resolves to may have changed.
        spec.base = self.authorized_base(who.uid(), &spec.base).await?;
        let reference = name.image_ref(who.uid()).to_string();
        let wanted = build_context(&spec).dockerfile_sha256().to_owned();
        let current = self
            .engine
            .image_info(&reference)
            .await
            .map_err(from_engine)?;
        // Up to date only if the image is still the one ds01d built: a label alone can be
        // written by anyone who builds an image.
        let up_to_date = current.as_ref().is_some_and(|image| {
            image.labels.get(labels::SPEC_SHA256) == Some(&wanted)
                && store.built_id(name).as_deref() == Some(image.id.as_str())
        });
        if up_to_date && !request.rebuild && !request.no_cache {
            return Ok(ImageBuilt {
                image: reference,
                id: current.map(|c| c.id),
                spec_sha256: Some(wanted),
                built: false,
                containers: Vec::new(),
                note: None,
            });
        }
        let slot = self.builds.take(who.uid(), &self.effective(acting))?;
        let mut built = self
            .build(acting, slot, &spec, request.no_cache, reporter)
            .await?;
        built.containers = self.containers_from(acting, &reference).await?;
        Ok(built)
    }

    /// `GET /v1/images`.
    pub async fn list_images(&self, acting: &Acting) -> Result<Vec<ImageRow>, ApiError> {
        let uid = acting.who.uid();
        let prefix = ds01_dockerfile::owner::user_repository(uid);
        let tags = self
            .engine
            .image_tags(&format!("{prefix}*"))
            .await
            .map_err(from_engine)?;
        let store = self.store(uid);
        let specs: BTreeSet<String> = store.names().into_iter().collect();
        let mut rows = Vec::new();
        let mut seen = BTreeSet::new();
        for t in tags {
            let Some(rest) = t.tag.strip_prefix(&prefix) else {
                continue;
            };
            // A baked container's own tag (`NAME:<container>._.<uid>`) belongs to the
            // container, not to the user's list of images.
            if rest
                .split_once(':')
                .is_some_and(|(_, tag)| ds01_dockerfile::owner::is_owned_name(tag))
            {
                continue;
            }
            let name = rest.split(':').next().unwrap_or_default().to_owned();
            seen.insert(name.clone());
            rows.push(ImageRow {
                spec: specs.contains(&name),
                name,
                image: t.tag,
                id: Some(t.id),
                size: Some(t.size),
                created: Some(t.created),
            });
        }
        for name in specs.difference(&seen) {
            rows.push(ImageRow {
                name: name.clone(),
                image: format!("{prefix}{name}:latest"),
                id: None,
                size: None,
                created: None,
                spec: true,
            });
        }
        rows.sort_by(|a, b| a.image.cmp(&b.image));
        Ok(rows)
    }

    /// `GET /v1/images/{name}`.
    pub async fn show_image(
        &self,
        acting: &Acting,
        name: &ImageName,
    ) -> Result<ImageDetails, ApiError> {
        let uid = acting.who.uid();
        let reference = name.image_ref(uid).to_string();
        let store = self.store(uid);
        let spec = store.exists(name).then(|| store.load(name)).transpose()?;
        let image = self
            .engine
            .image_info(&reference)
            .await
            .map_err(from_engine)?;
        if spec.is_none() && image.is_none() {
            return Err(
                ApiError::new(ErrorCode::NotFound, format!("image {reference} not found"))
                    .subject(name.as_str())
                    .because(ds01_api::Reason::NoImage),
            );
        }
        Ok(ImageDetails {
            name: name.to_string(),
            image: reference,
            id: image.as_ref().map(|i| i.id.clone()),
            size: image.as_ref().and_then(|i| i.size),
            created: image.as_ref().and_then(|i| i.created.clone()),
            labels: image.map(|i| i.labels).unwrap_or_default(),
            dockerfile: spec
                .as_ref()
                .map(|s| ds01_dockerfile::render(s).text().to_owned()),
            spec,
        })
    }

    /// `DELETE /v1/images/{name}`.
    pub async fn delete_image(
        &self,
        acting: &Acting,
        name: &ImageName,
        force: bool,
    ) -> Result<Removed, ApiError> {
        let uid = acting.who.uid();
        let reference = name.image_ref(uid).to_string();
        let store = self.store(uid);
        let exists = self
            .engine
            .image_info(&reference)
            .await
            .map_err(from_engine)?
            .is_some();
        if !exists && !store.exists(name) {
            return Err(
                ApiError::new(ErrorCode::NotFound, format!("image {reference} not found"))
                    .subject(name.as_str())
                    .because(ds01_api::Reason::NoImage),
            );
        }
        if exists {
            let users = self
                .engine
                .containers_using(&reference)
                .await
                .map_err(from_engine)?;
            if !users.is_empty() && !force {
                return Err(ApiError::new(
                    ErrorCode::ImageInUse,
                    format!(
                        "image {reference} is used by container(s) {}",
                        users.join(", ")
                    ),
                )
                .subject(name.as_str()));
            }
            self.engine
                .remove_image(&reference, force)
                .await
                .map_err(from_engine)?;
        }
        store.remove(name)?;
        Ok(Removed {
            name: reference,
            removed_images: Vec::new(),
            removed_volumes: Vec::new(),
            kept_volumes: Vec::new(),
        })
    }
}

impl Daemon {
    /// The admin's CA certificates for pip in builds, read fresh for each build (the file
    /// may be renewed); a configured file that cannot be read fails the build, as a build
    /// without it would fail later, less clearly.
    fn build_ca_certificates(&self) -> Result<Option<Vec<u8>>, ApiError> {
        const MAX: u64 = 4 << 20;
        let Some(path) = &self.config.file.build_ca_certificates else {
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
}
