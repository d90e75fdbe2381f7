//! Each account's private bridge network ([`UserNetwork`]): made on first use, labelled with
//! its owner, and only ever handed to that owner. The engine isolates bridges from each other
//! (its `DOCKER-ISOLATION` rules), so containers on different users' networks cannot reach
//! each other; containers on the same one can, by address and by name.

use std::collections::HashMap;

use bollard::models::{NetworkCreateRequest, NetworkInspect};

use crate::client::Engine;
use crate::error::{is_not_found, Context, EngineError, Result};
use crate::labels;
use crate::options::UserNetwork;
use ds01_dockerfile::Identity;

/// The engine's option that names a bridge network's interface.
const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

impl Engine {
    /// The name of `who`'s private network, made now (labelled with `resource_labels` and
    /// the owner) if it does not exist. A network under that name that is not ds01's network
    /// for this UID is refused, never joined.
    pub async fn user_network(
        &self,
        who: &Identity,
        resource_labels: &[(String, String)],
    ) -> Result<String> {
        let name = UserNetwork::name_for(who.uid());
        if let Some(found) = self.find_network(&name).await? {
            return owned(found, who, &name);
        }
        let request = create_request(who, resource_labels);
        let made = self.docker().create_network(request).await;
        // Two creates for one user race on the name and the bridge name, which the engine
        // keeps unique: the loser finds the winner's network.
        match (made, self.find_network(&name).await?) {
            (_, Some(found)) => owned(found, who, &name),
            (Err(e), None) if pools_exhausted(&e) => Err(EngineError::NoNetworkAddresses { name }),
            (Err(e), None) => Err(e).context(|| format!("creating network {name}")),
            (Ok(_), None) => Err(EngineError::InvalidOption(format!(
                "network {name} was made but the engine does not find it; try again"
            ))),
        }
    }

    async fn find_network(&self, name: &str) -> Result<Option<NetworkInspect>> {
        match self.docker().inspect_network(name, None).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).context(|| format!("inspecting network {name}")),
        }
    }
}

/// Whether the engine refused a network for want of addresses: its default pools give about
/// 30 bridge networks, fewer than a server has users.
fn pools_exhausted(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { message, .. }
        if message.contains("non-overlapping"))
}

/// The create request for `who`'s network.
fn create_request(who: &Identity, resource_labels: &[(String, String)]) -> NetworkCreateRequest {
    let mut network_labels: HashMap<String, String> = resource_labels.iter().cloned().collect();
    network_labels.extend([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::OWNER_UID.to_owned(), who.uid().to_string()),
        (labels::DS01_USER.to_owned(), who.login().to_owned()),
        (labels::ROLE.to_owned(), labels::ROLE_NETWORK.to_owned()),
    ]);
    NetworkCreateRequest {
        name: UserNetwork::name_for(who.uid()),
        driver: Some("bridge".to_owned()),
        labels: Some(network_labels),
        options: Some(HashMap::from([
            (
                BRIDGE_NAME_OPTION.to_owned(),
                UserNetwork::bridge_for(who.uid()),
            ),
            // The user's own containers talk to each other; the engine's isolation keeps
            // everyone else's out.
            (
                "com.docker.network.bridge.enable_icc".to_owned(),
                "true".to_owned(),
            ),
        ])),
        ..Default::default()
    }
}

/// The network's name when it is ds01's network for `who`: the owner label, the role and the
/// bridge interface (which the host's firewall rules match) all agree.
fn owned(found: NetworkInspect, who: &Identity, name: &str) -> Result<String> {
    let get = |map: &Option<HashMap<String, String>>, key: &str| {
        map.as_ref().and_then(|m| m.get(key)).cloned()
    };
    let uid = who.uid().to_string();
    let ours = found.name.as_deref() == Some(name)
        && found.driver.as_deref() == Some("bridge")
        && get(&found.labels, labels::OWNER_UID).as_deref() == Some(uid.as_str())
        && get(&found.labels, labels::ROLE).as_deref() == Some(labels::ROLE_NETWORK)
        && get(&found.options, BRIDGE_NAME_OPTION) == Some(UserNetwork::bridge_for(who.uid()));
    if ours {
        Ok(name.to_owned())
    } else {
        Err(EngineError::NetworkNotOwned {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap()
    }

    #[test]
    fn the_network_is_named_and_labelled_for_its_uid_only() {
        let request = create_request(&alice(), &[("ds01.test".into(), "t".into())]);
        assert_eq!(request.name, "ds01-net-1722830498");
        let options = request.options.unwrap();
        // 15 characters: the most a Linux interface name may have.
        assert_eq!(options[BRIDGE_NAME_OPTION], "ds01-1722830498");
        assert_eq!(options[BRIDGE_NAME_OPTION].len(), 15);
        let labels = request.labels.unwrap();
        assert_eq!(labels[labels::OWNER_UID], "1722830498");
        assert_eq!(labels[labels::ROLE], labels::ROLE_NETWORK);
        assert_eq!(labels["ds01.test"], "t");
        assert_eq!(UserNetwork::bridge_for(u32::MAX).len(), 15);
    }

    #[test]
    fn running_out_of_address_pools_is_told_as_such() {
        let answer = |message: &str| bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            message: message.to_owned(),
        };
        assert!(pools_exhausted(&answer("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")));
        assert!(!pools_exhausted(&answer("networks have same bridge name")));
        let shown = EngineError::NoNetworkAddresses {
            name: "ds01-net-1".into(),
        }
        .to_string();
        assert!(shown.contains("default-address-pools"), "{shown}");
    }

    #[test]
    fn only_ds01s_network_for_the_same_uid_is_joined() {
        let request = create_request(&alice(), &[]);
        let as_found = |labels: HashMap<String, String>, bridge: &str| NetworkInspect {
            name: Some(request.name.clone()),
            driver: Some("bridge".into()),
            labels: Some(labels),
            options: Some(HashMap::from([(
                BRIDGE_NAME_OPTION.to_owned(),
                bridge.to_owned(),
            )])),
            ..Default::default()
        };
        let good = request.labels.clone().unwrap();
        let name = request.name.as_str();
        assert!(owned(as_found(good.clone(), "ds01-1722830498"), &alice(), name).is_ok());
        let mut other = good.clone();
        other.insert(labels::OWNER_UID.into(), "1000".into());
        assert!(owned(as_found(other, "ds01-1722830498"), &alice(), name).is_err());
        assert!(owned(as_found(HashMap::new(), "ds01-1722830498"), &alice(), name).is_err());
        assert!(owned(as_found(good, "docker0"), &alice(), name).is_err());
    }
}
