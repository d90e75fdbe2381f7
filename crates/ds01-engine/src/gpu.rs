//! GPU requests as the engine takes them: `--gpus` becomes a device request; CPU only
//! means *no* request (DS01's `--cpu-only` silently fell back to `--gpus all`).

use bollard::models::DeviceRequest;
use ds01_api::GpuRequest;

/// The engine's device request, as `docker run --gpus` builds it; `None` for CPU only.
///
/// ```
/// use ds01_engine::{device_request, GpuRequest};
/// assert!(device_request(&GpuRequest::CpuOnly).is_none());
/// assert_eq!(device_request(&GpuRequest::Count(2)).unwrap().count, Some(2));
/// ```
pub fn device_request(request: &GpuRequest) -> Option<DeviceRequest> {
    let (count, device_ids) = match request {
        GpuRequest::CpuOnly => return None,
        GpuRequest::All => (Some(-1), None),
        GpuRequest::Count(n) => (Some(i64::from(*n)), None),
        GpuRequest::Devices(ids) => (None, Some(ids.clone())),
        // A profile names no device: ds01d resolves it to a MIG UUID before it gets here.
        GpuRequest::Mig(_) => return None,
    };
    Some(DeviceRequest {
        driver: Some(String::new()),
        count,
        device_ids,
        capabilities: Some(vec![vec!["gpu".to_owned()]]),
        options: Some(Default::default()),
    })
}
