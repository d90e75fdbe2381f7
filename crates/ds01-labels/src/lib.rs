//! The label catalogue: every key ds01 reads or writes, in AIME MLC's `aime.mlc.*` namespace
//! and DS01's `ds01.*` one, so that containers and images made by MLC, by DS01's scripts and
//! by ds01 are read the same way by all three. Keys are spelt here and nowhere else.
//!
//! ```
//! use ds01_labels::{container, gpu, image};
//! assert_eq!(container::USER, "aime.mlc.USER");
//! assert_eq!(image::HAS_USER_SETUP, "aime.mlc.DS01_HAS_USER_SETUP");
//! assert!(gpu::HELD.contains(&gpu::UUIDS));
//! assert!(ds01_labels::reserved("ds01.anything") && !ds01_labels::reserved("project"));
//! ```

#![warn(missing_docs)]

/// Outside text made fit for a message: control characters and invisible direction marks
/// escaped, so a hostile value cannot drive the terminal it is printed on. It lives in this,
/// the bottom crate, because every crate shows outside text (label values among it).
///
/// ```
/// assert_eq!(ds01_labels::shown("a\x1b[2Jb"), "a\\u{1b}[2Jb");
/// ```
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}');
        if c.is_control() || hidden {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a key belongs to ds01's or MLC's namespaces, which decide ownership and what
/// other tools believe (owners, GPU holdings): only ds01 itself writes them.
pub fn reserved(key: &str) -> bool {
    key == container::MLC || key.starts_with("aime.") || key.starts_with("ds01.")
}

/// Labels on containers.
pub mod container {
    /// `aime.mlc`: the owner's raw login. MLC lists a user's containers by this label.
    pub const MLC: &str = "aime.mlc";
    /// `aime.mlc.NAME`: the display name of the container.
    pub const NAME: &str = "aime.mlc.NAME";
    /// `aime.mlc.USER`: the owner's raw login.
    pub const USER: &str = "aime.mlc.USER";
    /// `aime.mlc.ARCH`: the GPU architecture the image was chosen for.
    pub const ARCH: &str = "aime.mlc.ARCH";
    /// `aime.mlc.MLC_VERSION`: MLC's container format version.
    pub const MLC_VERSION: &str = "aime.mlc.MLC_VERSION";
    /// The value of [`MLC_VERSION`] that MLC 2.x writes.
    pub const MLC_CONTAINER_VERSION: &str = "4";
    /// `aime.mlc.WORK_MOUNT`: the host workspace directory.
    pub const WORK_MOUNT: &str = "aime.mlc.WORK_MOUNT";
    /// `aime.mlc.DATA_MOUNT`: the host data directory, or `-`.
    pub const DATA_MOUNT: &str = "aime.mlc.DATA_MOUNT";
    /// `aime.mlc.MODELS_MOUNT`: the host models directory, or `-`.
    pub const MODELS_MOUNT: &str = "aime.mlc.MODELS_MOUNT";
    /// `aime.mlc.FRAMEWORK`: `<framework>-<version>`.
    pub const FRAMEWORK: &str = "aime.mlc.FRAMEWORK";
    /// `aime.mlc.DS01_MANAGED`: `true` on every container DS01 or ds01 made.
    pub const DS01_MANAGED: &str = "aime.mlc.DS01_MANAGED";
    /// `aime.mlc.CUSTOM_IMAGE`: the custom image as given (empty for AIME catalog images).
    pub const CUSTOM_IMAGE: &str = "aime.mlc.CUSTOM_IMAGE";
    /// `aime.mlc.DS01_GROUP_ID`: the owner's primary GID, as DS01's wrapper writes it.
    pub const GROUP_ID: &str = "aime.mlc.DS01_GROUP_ID";
    /// `ds01.managed`: `true`, as DS01's wrapper writes it.
    pub const MANAGED: &str = "ds01.managed";
    /// `ds01.user`: the raw login (DS01's current scripts write only this one).
    pub const DS01_USER: &str = "ds01.user";
    /// `ds01.user.sanitized`: the container account name.
    pub const DS01_USER_SANITIZED: &str = "ds01.user.sanitized";
    /// `ds01.created_at`: creation time, UTC, ISO 8601.
    pub const CREATED_AT: &str = "ds01.created_at";
    /// `ds01.user_setup`: how the user got into the container: `baked` or `committed`.
    pub const USER_SETUP: &str = "ds01.user_setup";
    /// `ds01.protected`: an admin's mark that the reaper never stops the container.
    pub const PROTECTED: &str = "ds01.protected";
    /// `ds01.home_volume`: the named volume that holds the user's home inside the container.
    pub const HOME_VOLUME: &str = "ds01.home_volume";
    /// `ds01.create_options`: the create request as given (JSON), so that `recreate` can
    /// make the container again with every option it had.
    pub const CREATE_OPTIONS: &str = "ds01.create_options";
    /// `ds01.uid`: the owner's UID, on volumes (which have no `<name>._.<uid>` name to read).
    pub const OWNER_UID: &str = "ds01.uid";
    /// `ds01.on-stop`: the command run as the user before an idle or runtime stop
    /// (usually inherited from the image).
    pub const ON_STOP: &str = "ds01.on-stop";
    /// `ds01.container_type`: the tool that made the container (`atomic` for ds01's own
    /// commands; `docker`, `compose`, `devcontainer` through ds01d's Docker-API socket), as
    /// DS01's wrapper wrote it.
    pub const CONTAINER_TYPE: &str = "ds01.container_type";

    /// The owner's raw login, from whichever namespace has it; `get` reads one label.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use ds01_labels::container::{owner_login, DS01_USER};
    /// let labels = BTreeMap::from([(DS01_USER.to_string(), "h.baker".to_string())]);
    /// assert_eq!(owner_login(|k| labels.get(k)), Some("h.baker"));
    /// ```
    pub fn owner_login<'a>(get: impl Fn(&str) -> Option<&'a String>) -> Option<&'a str> {
        get(USER).or_else(|| get(DS01_USER)).map(String::as_str)
    }
}

/// Labels on images.
pub mod image {
    /// Raw login of the owner (`whoami`).
    pub const MAINTAINER: &str = "maintainer";
    /// Numeric UID of the owner.
    pub const MAINTAINER_ID: &str = "maintainer.id";
    /// The `FROM` image.
    pub const BASE_IMAGE: &str = "aime.mlc.base_image";
    /// The image name.
    pub const PROJECT: &str = "aime.mlc.project";
    /// Numeric UID of the owner (older key).
    pub const USER_ID_LEGACY: &str = "aime.mlc.user_id";
    /// Raw login of the owner (older key).
    pub const USERNAME_RAW: &str = "aime.mlc.username";
    /// Always `true` on images ds01 builds.
    pub const MANAGED: &str = "aime.mlc.DS01_MANAGED";
    /// The image name.
    pub const IMAGE: &str = "aime.mlc.DS01_IMAGE";
    /// `pytorch`, `tensorflow`… (lowercase catalog framework) or `custom`.
    pub const FRAMEWORK: &str = "aime.mlc.DS01_FRAMEWORK";
    /// `true` when the image has the user baked in.
    pub const HAS_USER_SETUP: &str = "aime.mlc.DS01_HAS_USER_SETUP";
    /// UID of the baked-in user.
    pub const USER_ID: &str = "aime.mlc.DS01_USER_ID";
    /// GID of the baked-in user.
    pub const GROUP_ID: &str = "aime.mlc.DS01_GROUP_ID";
    /// Account name of the baked-in user.
    pub const USERNAME: &str = "aime.mlc.DS01_USERNAME";
    /// DS01's current spelling of [`HAS_USER_SETUP`].
    pub const DS01_HAS_USER_SETUP: &str = "ds01.has_user_setup";
    /// DS01's current spelling of [`USER_ID`].
    pub const DS01_USER_ID: &str = "ds01.user_id";
    /// DS01's current spelling of [`GROUP_ID`].
    pub const DS01_GROUP_ID: &str = "ds01.group_id";
    /// DS01's current spelling of [`USERNAME`] (the account spelt `h_baker`).
    pub const DS01_USERNAME: &str = "ds01.username";
    /// SHA-256 of the rendered Dockerfile the image was built from: an image whose label
    /// equals the hash of a fresh render need not be rebuilt.
    pub const SPEC_SHA256: &str = "ds01.spec.sha256";
}

/// Labels that record which GPUs a container holds.
pub mod gpu {
    /// `ds01.gpu.uuids`: device UUIDs, comma-separated (what ds01 writes).
    pub const UUIDS: &str = "ds01.gpu.uuids";
    /// `ds01.gpu.uuid`: a single device UUID (DS01's scripts).
    pub const UUID: &str = "ds01.gpu.uuid";
    /// `ds01.gpu_slot`: UUIDs, as DS01's raw-docker wrapper writes them.
    pub const SLOT_LEGACY: &str = "ds01.gpu_slot";
    /// `ds01.gpu.slots`: slots `0` (GPU 0) and `1.2` (MIG instance 2 of GPU 1).
    pub const SLOTS: &str = "ds01.gpu.slots";
    /// `ds01.gpu.allocated`: a slot list in DS01's scripts, a timestamp in its label schema.
    pub const ALLOCATED: &str = "ds01.gpu.allocated";
    /// `aime.mlc.GPUS`: MLC's raw `-g` value (`all`, a count, `device=...`, or `none`).
    pub const MLC_GPUS: &str = "aime.mlc.GPUS";
    /// DS01's keys that may name held devices, all read and merged.
    pub const HELD: [&str; 5] = [UUIDS, UUID, SLOT_LEGACY, SLOTS, ALLOCATED];
}

/// Labels by which ds01 finds its own working objects again.
pub mod ops {
    /// `ds01.role`: what a resource is to ds01: `setup`, `committed-image` or `container`.
    pub const ROLE: &str = "ds01.role";
    /// [`ROLE`] of a setup container.
    pub const ROLE_SETUP: &str = "setup";
    /// [`ROLE`] of a per-container image made by the commit flow.
    pub const ROLE_COMMITTED_IMAGE: &str = "committed-image";
    /// [`ROLE`] of a user's container.
    pub const ROLE_CONTAINER: &str = "container";
    /// [`ROLE`] of a container's home volume.
    pub const ROLE_HOME: &str = "home";
    /// [`ROLE`] of a user's private bridge network.
    pub const ROLE_NETWORK: &str = "network";
    /// `ds01.operation`: the ID of the call that made a resource, for rollback.
    pub const OPERATION: &str = "ds01.operation";
}
