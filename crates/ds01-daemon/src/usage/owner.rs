//! Who holds what in a container, for the ledger and the metrics: its owner by UID (NSS,
//! looked up once per round), their policy group, and the devices its labels name.

use std::collections::HashMap;

use ds01_engine::ContainerView;
use ds01_labels::container;
use ds01_policy::{gpus_from_labels, Policy, Source};

use super::record::Holder;
use crate::Daemon;

/// Logins and groups, looked up in NSS once per round (or scrape).
#[derive(Default)]
pub(crate) struct People(HashMap<u32, Option<(String, Vec<String>)>>);

impl People {
    fn of(&mut self, uid: u32) -> Option<&(String, Vec<String>)> {
        self.0
            .entry(uid)
            .or_insert_with(|| {
                let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()?;
                let groups = crate::caller::group_names(&user);
                Some((user.name, groups))
            })
            .as_ref()
    }

    /// The login and groups of `uid` (NSS; `#UID` for an account NSS does not know).
    pub fn of_uid(&mut self, uid: u32) -> (String, Vec<String>) {
        self.of(uid)
            .cloned()
            .unwrap_or_else(|| (format!("#{uid}"), Vec::new()))
    }

    /// The owner of `c` by UID (NSS; the labels' login only for an account NSS does not
    /// know, else `#UID`), and their groups.
    pub fn owner(&mut self, c: &ContainerView) -> (String, Vec<String>) {
        match self.of(c.uid()) {
            Some((login, groups)) => (login.clone(), groups.clone()),
            None => (
                container::owner_login(|k| c.labels.get(k))
                    .map_or_else(|| format!("#{}", c.uid()), str::to_owned),
                Vec::new(),
            ),
        }
    }
}

/// Who holds what in `c`: its owner, their policy group, and the devices its labels name.
pub(super) fn holder(daemon: &Daemon, c: &ContainerView, people: &mut People) -> Holder {
    let (user, groups) = people.owner(c);
    let labels: HashMap<String, String> = c.labels.clone().into_iter().collect();
    let devices = daemon.gpus.devices();
    let gpus = gpus_from_labels(&labels, devices).uuids;
    let gpu_equivalents = gpus
        .iter()
        .filter_map(|u| devices.iter().find(|d| &d.uuid == u))
        .map(|d| d.fraction())
        .sum();
    Holder {
        container: c.name.to_string(),
        id: c.id.clone(),
        uid: c.uid(),
        group: policy_group(&daemon.config.policy, &user, &groups),
        user,
        gpus,
        gpu_equivalents,
    }
}

/// The policy group a user is reported under: the group table their `max_gpus` comes from,
/// else the first of their groups that has a table, else `default`.
pub(crate) fn policy_group(policy: &Policy, login: &str, groups: &[String]) -> String {
    if let Source::Group(g) = policy.effective(login, groups).max_gpus.source {
        return g;
    }
    groups
        .iter()
        .find(|g| policy.groups.contains_key(*g))
        .cloned()
        .unwrap_or_else(|| "default".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_toml(
            "[policy.groups.student]\nmax_gpus = 1\n[policy.groups.researcher]\nmax_gpus = 2\n[policy.groups.staff]\nmemory = \"8g\"\n",
        )
        .unwrap()
    }

    #[test]
    fn the_policy_group_is_where_max_gpus_comes_from() {
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = policy();
        assert_eq!(
            policy_group(&p, "ann", &groups(&["ann", "student", "researcher"])),
            "researcher"
        );
        assert_eq!(policy_group(&p, "ann", &groups(&["ann", "staff"])), "staff");
        assert_eq!(policy_group(&p, "ann", &groups(&["ann"])), "default");
    }
}
