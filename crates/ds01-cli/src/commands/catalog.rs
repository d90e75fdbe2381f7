//! Looking up an AIME catalog image from `--framework/--version/--arch/--catalog`, with the
//! configured catalog and architecture as defaults. Shared by `image create` (a catalog
//! base) and `container create` (a catalog image).

use std::path::PathBuf;

use ds01_dockerfile::{Catalog, CatalogEntry};

use crate::context::Context;
use crate::exit::CliError;

/// The catalog row for `framework` (and `version`, newest when absent) on `arch`, with the
/// architecture that was used.
pub fn lookup(
    ctx: &Context,
    catalog: Option<&PathBuf>,
    framework: &str,
    version: Option<&str>,
    arch: Option<&str>,
) -> Result<(CatalogEntry, String), CliError> {
    let path = catalog.unwrap_or(&ctx.config.catalog);
    let catalog = Catalog::load(path).map_err(|e| CliError::msg(e.to_string()))?;
    let arch = arch.unwrap_or(&ctx.config.architecture);
    let entry = catalog
        .resolve(framework, version, arch)
        .map_err(|e| CliError::msg(e.to_string()))?;
    Ok((entry.clone(), arch.to_owned()))
}
