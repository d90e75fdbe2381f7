//! The caller's containers as Docker clients name them: by the name the user chose, by
//! ID, or by a unique ID prefix. Only the caller's own are ever looked at, so another
//! user's container is "No such container" whether it exists or not.

use ds01_api::OwnedContainer;
use ds01_engine::{Engine, RawRequest};
use serde_json::Value;

use super::DockerError;

/// One of the caller's containers.
#[derive(Debug, Clone)]
pub(crate) struct Mine {
    /// The engine's ID.
    pub id: String,
    /// Its engine name, `<name>._.<uid>`.
    pub owned: OwnedContainer,
    /// The engine's list entry for it.
    pub summary: Value,
}

impl Mine {
    /// The name the user chose.
    pub(crate) fn name(&self) -> &str {
        self.owned.name().as_str()
    }
}

/// Every container of `uid`'s, as the engine lists them (`query` narrows the list further,
/// with the engine's own `filters`; ownership is decided here, not by a filter).
pub(crate) async fn all(engine: &Engine, uid: u32, query: &str) -> Result<Vec<Mine>, DockerError> {
    let path = if query.is_empty() {
        "/containers/json?all=1".to_owned()
    } else {
        format!("/containers/json?{query}")
    };
    let answer = engine.raw(RawRequest::new("GET", path)).await?;
    let status = answer.status;
    let list = answer
        .json()
        .await
        .map_err(|e| DockerError::invalid(format!("reading the engine's list: {e}")))?;
    if status != 200 {
        let message = list["message"]
            .as_str()
            .unwrap_or("the engine refused the list");
        return Err(DockerError::invalid(format!("ds01: {message}")));
    }
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let owned = entry["Names"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .find_map(|n| OwnedContainer::parse(n.trim_start_matches('/')))
                .filter(|o| o.uid() == uid)?;
            Some(Mine {
                id: entry["Id"].as_str()?.to_owned(),
                owned,
                summary: entry.clone(),
            })
        })
        .collect())
}

/// The caller's container that `reference` names.
pub(crate) async fn container(
    engine: &Engine,
    uid: u32,
    reference: &str,
) -> Result<Mine, DockerError> {
    let mine = all(engine, uid, "").await?;
    pick(mine, reference)
}

/// Docker's order: an exact name, then a full ID, then one ID starting with the reference.
fn pick(mine: Vec<Mine>, reference: &str) -> Result<Mine, DockerError> {
    let wanted = reference.trim_start_matches('/');
    if wanted.is_empty() {
        return Err(DockerError::no_such_container(reference));
    }
    if let Some(found) = mine.iter().find(|m| m.name() == wanted || m.id == wanted) {
        return Ok(found.clone());
    }
    let mut by_prefix = mine.into_iter().filter(|m| m.id.starts_with(wanted));
    match (by_prefix.next(), by_prefix.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(DockerError::invalid(format!(
            "multiple containers of yours start with `{}`; give more of the ID",
            ds01_api::shown(wanted)
        ))),
        _ => Err(DockerError::no_such_container(reference)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(name: &str, id: &str) -> Mine {
        Mine {
            id: id.to_owned(),
            owned: OwnedContainer::parse(&format!("{name}._.1722830498")).unwrap(),
            summary: Value::Null,
        }
    }

    #[test]
    fn names_ids_and_unique_prefixes_pick_one_of_the_callers_own() {
        let list = || vec![mine("web", "abc123"), mine("db", "abd999")];
        assert_eq!(pick(list(), "web").unwrap().id, "abc123");
        assert_eq!(pick(list(), "/db").unwrap().id, "abd999");
        assert_eq!(pick(list(), "abc").unwrap().name(), "web");
        assert!(pick(list(), "ab").is_err());
        assert!(pick(list(), "").is_err());
        let e = pick(list(), "web._.1722830498").unwrap_err();
        assert_eq!(e.message, "No such container: web._.1722830498");
    }
}
