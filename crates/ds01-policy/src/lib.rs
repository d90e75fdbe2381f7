//! The admin policy of `ds01d`, as pure logic: no Docker, no network, no clock.
//!
//! * [`policy`]: the `[policy]` section of the system config and per-user resolution
//!   ([`Policy::effective`]), with the source of every value for refusal messages.
//! * [`import`]: DS01's `resource-limits.yaml` (old and current schema) → that section.
//! * [`inventory`]: the GPUs and MIG instances ([`Inventory`], [`GpuSource`]; NVML behind the
//!   `nvml` feature).
//! * [`alloc`]: the exclusive, least-loaded GPU allocator and the reading of DS01/AIME GPU
//!   labels.
//! * [`demand`]: high-demand mode, which shrinks idle timeouts while the GPUs are taken.
//! * [`fair`]: the `--wait` line ordered by decayed GPU use.
//! * [`lifecycle`]: the idle and max-runtime rules of the reaper, with a serializable state.
//!
//! ```
//! use ds01_policy::{allocate, AllocRequest, GpuAsk, Inventory, Policy};
//!
//! let policy = Policy::from_toml("[policy.groups.researcher]\nmax_gpus = 2")?;
//! let mine = policy.effective("h.baker@hertie-school.lan", &["researcher".into()]);
//! let inv = Inventory::from_toml("[[gpu]]\nindex = 0\nuuid = \"GPU-a\"\nname = \"NVIDIA H100\"")?;
//! let req = AllocRequest {
//!     uid: 1722830498,
//!     ask: GpuAsk::Count(1),
//!     max_gpus: mine.max_gpus.value.value().unwrap_or(f64::INFINITY),
//!     allow_device_pick: mine.allow_device_pick.value,
//! };
//! assert_eq!(allocate(&inv.devices(), &[], &req)?.uuids(), ["GPU-a"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod alloc;
pub mod demand;
pub mod fair;
pub mod import;
pub mod inventory;
pub mod lifecycle;
pub mod policy;
mod units;

pub use alloc::{
    allocate, gpus_from_labels, AllocError, AllocRequest, Allocation, Amount, GpuAsk, Holding,
    LabelGpus,
};
pub use ds01_labels::shown;
pub use import::{import_ds01_limits, ImportError, Imported};
#[cfg(feature = "nvml")]
pub use inventory::NvmlSource;
pub use inventory::{
    arch_from_name, Device, DeviceKind, Gpu, GpuSource, Inventory, InventoryError, Mig, SourceError,
};
pub use lifecycle::{Decision, KeepAliveError, Reason, Rules, Sample, StopRule, Watch};
pub use policy::{
    Aggregate, Applied, Effective, EffectiveAggregate, LimitError, Limits, Network, Policy,
    PolicyError, Resolved, ResourceRequest, Source,
};
pub use units::{Cap, Quantity, Size, Span, UnitError};
