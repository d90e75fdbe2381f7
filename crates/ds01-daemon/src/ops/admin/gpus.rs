//! `GET /v1/admin/gpus`: every device and who holds it, and the `--wait` line, for admins.

use ds01_api::{ApiError, GpuTable};

use crate::Daemon;

/// The GPU table.
pub async fn gpus(d: &Daemon) -> Result<GpuTable, ApiError> {
    d.gpus.table(&d.engine).await
}
