//! ds01's Docker engine flows, on bollard and tokio.
//!
//! * [`Engine::build_image`]: a user's image from a `ds01-dockerfile` spec, with the account
//!   baked in through build args.
//! * [`Engine::create_container`]: a user's container, by the **baked** path when the image
//!   really carries the account (checked in `/etc/passwd`, not just labels), otherwise by
//!   the **commit** path (a root setup container adds the account; what it wrote is stacked
//!   on the base as one layer, or committed by the engine, never without the sparse-file
//!   guard). Failures and interrupts leave nothing behind.
//! * Lifecycle: [`Engine::list_containers`], start, stop, remove, exec, stats, install.
//!
//! Names and labels are DS01's and AIME MLC's (`<name>._.<uid>`, `aime.mlc.*`), so
//! containers made by either tool are seen by the other.
//!
//! ```no_run
//! use ds01_engine::{ContainerName, ContainerOptions, CreateRequest, Engine, Identity, Provenance};
//! # async fn demo() -> ds01_engine::Result<()> {
//! let engine = Engine::connect().await?;
//! let who = Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap();
//! let image: ds01_dockerfile::ImageRef = "ds01-1722830498/thesis:latest".parse().unwrap();
//! let request = CreateRequest {
//!     name: "thesis".parse().unwrap(),
//!     provenance: Provenance::Custom(image.to_string()),
//!     image,
//!     pull_if_missing: false,
//!     options: ContainerOptions::default(),
//!     resource_labels: vec![],
//! };
//! let created = engine
//!     .create_container(&who, &request, &mut (), std::future::pending())
//!     .await?;
//! println!("{} ({})", created.name, created.user_setup.as_str());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod accounts;
mod background;
mod bare_create;
mod build;
mod build_network;
mod build_request;
mod cleanup;
mod client;
mod container_spec;
mod context_build;
mod control;
mod create;
mod details;
mod disk;
mod error;
mod exec;
mod export;
mod gpu;
mod guard;

mod images;
mod install;
mod interrupt;
mod journal;
pub mod labels;
mod layer;
mod lifecycle;
mod load;
mod logs;
mod network;
mod options;
mod plan;
mod progress;
mod raw;
mod session;
mod setup;
mod stats;
mod sweep;
mod timing;
mod upper;
mod usage;
mod verdicts;
mod view;
mod volumes;

pub use background::Reach;
pub use build::{BuildLimits, BuildOptions, BuiltImage};
pub use cleanup::OPERATION_LABEL;
pub use client::{Engine, DEFAULT_STATE_DIR};
pub use container_spec::{ContainerSpec, Provenance};
pub use create::CreateRequest;
pub use ds01_api::{
    ContainerInfo, ContainerName, ContainerNameError, ContainerStats, CreatedContainer, GpuRequest,
    GpuRequestError, OwnedContainer, Progress, Size, UserSetup, MAX_CONTAINER_NAME_LEN,
};
pub use ds01_dockerfile::{Identity, IdentityError};
pub use error::{EngineError, Result};
pub use exec::ExecOutput;
pub use gpu::device_request;
pub use guard::DEFAULT_FILE_LIMIT;
pub use images::{EngineInfo, ImageInfo, ImageTag};
pub use lifecycle::Scope;
pub use options::{ContainerOptions, HomeVolume, UserNetwork, VolumeMount};
pub use plan::CreatePlan;
pub use progress::ProgressSink;
pub use raw::{RawAnswer, RawBody, RawIo, RawRequest};
pub use session::{Chunk, Session, SessionSpec};
pub use sweep::Labelled;
pub use usage::{RunTimes, UsageReading};
pub use verdicts::VerdictCache;
pub use view::{ContainerMount, ContainerState, ContainerView};
