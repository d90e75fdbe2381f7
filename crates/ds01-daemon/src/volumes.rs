//! Users' named volumes: `data` is the engine's `data._.<uid>` (the one `<name>._.<uid>`
//! rule of containers), labelled with its owner, so no name a user gives can reach another
//! user's volume, nor one of ds01's own.

use ds01_api::{ApiError, ContainerName, NamedVolume};
use ds01_engine::VolumeMount;

use crate::caller::Acting;
use crate::config::Config;

/// Where ds01 mounts its own things: a user's volume goes elsewhere.
const RESERVED: &[&str] = &["/workspace", "/data", "/models"];

/// The engine's name of `uid`'s volume `name`, or why the name is refused.
pub(crate) fn engine_name(name: &str, uid: u32) -> Result<String, ApiError> {
    let valid = ContainerName::new(name).map_err(|e| {
        ApiError::invalid(format!(
            "invalid volume name: {}",
            e.to_string().trim_start_matches("invalid container name ")
        ))
    })?;
    Ok(valid.owned_by(uid).to_string())
}

/// The user's name of an engine volume of `uid`'s, if it is one.
pub(crate) fn user_name(engine: &str, uid: u32) -> Option<&str> {
    engine
        .strip_suffix(&format!("._.{uid}"))
        .filter(|n| ContainerName::new(n).is_ok())
}

/// The labels every user volume carries: the test's or site's, and its owner.
pub(crate) fn labels(config: &Config, acting: &Acting) -> Vec<(String, String)> {
    let mut labels = config.resource_labels();
    labels.push((
        ds01_engine::labels::DS01_USER.to_owned(),
        acting.who.login().to_owned(),
    ));
    labels.push((
        ds01_engine::labels::OWNER_UID.to_owned(),
        acting.who.uid().to_string(),
    ));
    labels
}

/// The mounts of the volumes a create asks for, checked.
pub(crate) fn mounts(
    config: &Config,
    acting: &Acting,
    asked: &[NamedVolume],
) -> Result<Vec<VolumeMount>, ApiError> {
    let mut mounts: Vec<VolumeMount> = Vec::new();
    for volume in asked {
        let target = volume.target.trim_end_matches('/');
        let reserved = RESERVED
            .iter()
            .any(|r| target == *r || target.starts_with(&format!("{r}/")));
        if !target.starts_with('/') || target.split('/').any(|p| p == "..") || reserved {
            return Err(ApiError::invalid(format!(
                "volume {} cannot be mounted at `{}`: give an absolute path outside {}",
                ds01_api::shown(&volume.name),
                ds01_api::shown(&volume.target),
                RESERVED.join(", ")
            )));
        }
        if mounts.iter().any(|m| m.target == target) {
            return Err(ApiError::invalid(format!(
                "two volumes are mounted at `{}`",
                ds01_api::shown(target)
            )));
        }
        mounts.push(VolumeMount {
            name: engine_name(&volume.name, acting.who.uid())?,
            target: target.to_owned(),
            read_only: volume.read_only,
            labels: labels(config, acting),
        });
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_name_is_the_users_own() {
        assert_eq!(
            engine_name("shop_data", 1722830498).unwrap(),
            "shop_data._.1722830498"
        );
        assert!(engine_name("../x", 1000).is_err());
        assert!(engine_name("x._.1001", 1000).is_err());
        assert_eq!(user_name("shop_data._.1000", 1000), Some("shop_data"));
        assert_eq!(user_name("shop_data._.1001", 1000), None);
        assert_eq!(
            user_name("ds01-home-web._.1000", 1000),
            Some("ds01-home-web")
        );
    }
}
