//! The usage ledger: what each container used, per interval, kept by ds01d in its state
//! directory (`ledger/`, root-only), for users' own accounts of their use, the admin's
//! tables and monthly report, and the metrics.
//!
//! The reaper's round calls [`sample`]; the operations read through [`read`].

mod cgroup;
mod ledger;
mod owner;
pub(crate) mod read;
mod record;
mod report;
mod sampler;
mod settings;
mod util;
pub(crate) mod webhook;

pub(crate) use owner::People;
pub(crate) use record::{Holder, Interval};
pub(crate) use sampler::{cpu_time_ns, in_scope, now_ms, sample, sample_jobs, JobReading, Usage};
pub use settings::{UsageConfig, UsageSettings, Webhook};
