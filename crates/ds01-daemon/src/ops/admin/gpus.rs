//! `GET /v1/admin/gpus`: every device and who holds it, for admins.

use ds01_api::{ApiError, GpuRow};

use crate::Daemon;

/// The GPU table.
pub async fn gpus(d: &Daemon) -> Result<Vec<GpuRow>, ApiError> {
    d.gpus.table(&d.engine).await
}
