//! GPU requests: `all`, a count, or specific devices, and CPU-only meaning *no* request.

use std::fmt;
use std::str::FromStr;

/// Which GPUs a container gets.
///
/// `CpuOnly` produces no device request at all: DS01's `--cpu-only` silently fell back to
/// `--gpus all`, which this type makes impossible.
///
/// ```
/// use ds01_api::GpuRequest;
/// assert_eq!("all".parse::<GpuRequest>().unwrap(), GpuRequest::All);
/// assert_eq!("2".parse::<GpuRequest>().unwrap(), GpuRequest::Count(2));
/// let devices: GpuRequest = "device=0,GPU-1a2b".parse().unwrap();
/// assert_eq!(devices.to_string(), "device=0,GPU-1a2b");
/// assert_eq!("mig:3g.40gb".parse::<GpuRequest>().unwrap(), GpuRequest::Mig("3g.40gb".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuRequest {
    /// No GPU: the container gets no device request.
    CpuOnly,
    /// Every GPU of the host.
    All,
    /// Any `n` GPUs (Docker's `--gpus N` is a count, not an index).
    Count(u32),
    /// Specific devices by index or UUID (MIG UUIDs included).
    Devices(Vec<String>),
    /// One MIG instance of this profile (`mig:3g.40gb`).
    Mig(String),
}

/// Why a `--gpus` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GPU request `{0}`: use a count such as `1`, `mig:PROFILE` (e.g. mig:3g.40gb), or `device=ID[,ID...]` (for CPU only, use --cpu-only)")]
pub struct GpuRequestError(String);

impl FromStr for GpuRequest {
    type Err = GpuRequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || GpuRequestError(crate::shown(s));
        if s == "all" {
            return Ok(GpuRequest::All);
        }
        if let Some(profile) = s.strip_prefix("mig:") {
            let ok = !profile.is_empty()
                && profile
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+'));
            return if ok {
                Ok(GpuRequest::Mig(profile.to_owned()))
            } else {
                Err(err())
            };
        }
        if let Some(list) = s.strip_prefix("device=") {
            let ids: Vec<String> = list.split(',').map(str::to_owned).collect();
            let id_ok = |id: &String| {
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '/'))
            };
            return if ids.iter().all(id_ok) {
                Ok(GpuRequest::Devices(ids))
            } else {
                Err(err())
            };
        }
        match s.parse::<u32>() {
            Ok(n) if n > 0 => Ok(GpuRequest::Count(n)),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuRequest::CpuOnly => f.write_str("none"),
            GpuRequest::All => f.write_str("all"),
            GpuRequest::Count(n) => write!(f, "{n}"),
            GpuRequest::Devices(ids) => write!(f, "device={}", ids.join(",")),
            GpuRequest::Mig(profile) => write!(f, "mig:{profile}"),
        }
    }
}

crate::serde_as_text!(GpuRequest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "0",
            "-1",
            "none",
            "device=",
            "device=0,",
            "device=a b",
            "device=$(x)",
        ] {
            assert!(bad.parse::<GpuRequest>().is_err(), "{bad:?}");
        }
    }
}
