//! The API of `ds01d`, the root-owned service that is the only door to the Docker engine on
//! a shared GPU server, as plain serde types: what a client sends, what it gets back, and the
//! errors, as data. The `ds01` command line depends on this crate and not on any Docker
//! client, so the compiler keeps it from reaching the engine on its own.
//!
//! The service speaks JSON over HTTP on a Unix socket (see `docs/api.md`):
//!
//! ```
//! use ds01_api::{ContainerCreate, ContainerName};
//! let request = ContainerCreate::named("thesis".parse::<ContainerName>().unwrap());
//! let json = serde_json::to_string(&request).unwrap();
//! let back: ContainerCreate = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.name.as_str(), "thesis");
//! ```
#![warn(missing_docs)]

mod answers;
mod endpoint;
pub mod endpoints;
mod error;
mod everyday;
pub mod frames;
mod gpu;
mod names;
mod requests;
mod results;
mod usage;

pub use answers::{
    Acted, Cancelled, Collected, CreatePlan, GcReport, InstallRequest, Installed, KeepAliveRequest,
    Story, VersionInfo,
};
/// Sizes (`16g`) are the policy's own type, so a request and a limit compare directly.
pub use ds01_policy::{Size, UnitError};
pub use endpoint::{Answering, Endpoint, Method, NoBody};
pub use error::{ApiError, ErrorCode, Reason};
pub use everyday::{
    BulkOutcome, ContainerDetails, ContainerFilter, CopyRequest, LimitsInfo, LogsRequest,
    MountInfo, COPY_ROOT_HEADER, FILTER_KEYS,
};
pub use gpu::{GpuRequest, GpuRequestError};
pub use names::{ContainerName, ContainerNameError, OwnedContainer, MAX_CONTAINER_NAME_LEN};
pub use requests::{
    ContainerCreate, ContainerType, CreateQuery, ExecRequest, ImageCreate, ImageUpdate, ListQuery,
    NamedVolume, Process, RemoveQuery,
};
pub use results::{
    AdminTop, Check, ContainerInfo, ContainerStats, CreatedContainer, Event, GpuRow, GpuStatus,
    GpuTable, ImageBuilt, ImageDetails, ImageRow, LimitsReport, OwnContainerStatus, Progress,
    QueuedRequest, Removed, ServerStatus, StreamItem, TopGpu, TopStop, UserSetup, Whoami,
};
pub use usage::{
    AdminUsageQuery, ContainerUsage, MonthChange, ReportQuery, UnusedAccount, UsageBy, UsageQuery,
    UsageReport, UsageRow, UsageSummary, UsageTable, UsageTotals, WebhookOutcome,
};
// `ds01 container jupyter`.
pub use requests::JupyterRequest;
pub use results::JupyterServer;

/// The version of the wire format; the paths carry it (`/v1/...`).
pub const API_VERSION: u32 = 1;

/// The socket `ds01d` listens on unless configured otherwise.
pub const DEFAULT_SOCKET: &str = "/run/ds01/ds01.sock";

/// The system configuration: ds01d's, of which the client reads only `socket`.
pub const SYSTEM_CONFIG: &str = "/etc/ds01/config.toml";

/// The header an admin sets to act for another user (`LOGIN`, resolved through NSS).
pub const ACT_AS_HEADER: &str = "x-ds01-as";

/// Outside text (names, image contents) made fit for a message.
pub use ds01_policy::shown;

/// Serialises a type that has `Display` and `FromStr` as its text, checking it again when
/// read: what comes over the wire is outside input.
macro_rules! serde_as_text {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;
