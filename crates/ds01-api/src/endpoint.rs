//! What every endpoint of the API is: a method, a route, a body and an answer, as types.
//!
//! Both sides use them: ds01d registers each endpoint's [`Endpoint::ROUTE`] and reads its
//! query and body types, and the client builds the request from a value of the endpoint's
//! type and reads the answer as [`Endpoint::Answer`]. A path is filled in from the route
//! itself, so the two cannot drift apart.
//!
//! ```
//! use ds01_api::endpoints::StopContainer;
//! use ds01_api::{Endpoint, Method};
//!
//! let stop = StopContainer::new("thesis".parse().unwrap(), Some(5));
//! assert_eq!(StopContainer::METHOD, Method::Post);
//! assert_eq!(StopContainer::ROUTE, "/v1/containers/{name}/stop");
//! assert_eq!(stop.path(), "/v1/containers/thesis/stop?timeout=5");
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads; changes nothing.
    Get,
    /// Acts.
    Post,
    /// Removes.
    Delete,
}

impl Method {
    /// The method as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// How an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering {
    /// One JSON value of the answer type (or an [`crate::ApiError`] with an error status).
    Json,
    /// `200`, then JSON lines of [`crate::StreamItem`]: the operation's ID, progress, and last
    /// the answer or an error.
    Progress,
    /// `200`, then one JSON line of the answer type for each thing as it happens.
    Lines,
    /// `101 Switching Protocols`, then frames ([`crate::frames`]).
    Frames,
}

/// The body of an endpoint that takes none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoBody {}

/// One endpoint of the API.
pub trait Endpoint {
    /// Its method.
    const METHOD: Method;
    /// Its route, with `{param}` for each path parameter, as ds01d registers it.
    const ROUTE: &'static str;
    /// How it answers.
    const ANSWERING: Answering;
    /// What the request carries as JSON ([`NoBody`] when nothing).
    type Body: Serialize + DeserializeOwned;
    /// What it answers with.
    type Answer: Serialize + DeserializeOwned;

    /// The request's path: the route filled in, then its query.
    fn path(&self) -> String;

    /// The request's body, if it has one.
    fn body(&self) -> Option<&Self::Body> {
        None
    }
}

/// `route` with each `{key}` replaced by its value, percent-encoded, and `query` after a `?`
/// unless it is empty.
///
/// # Panics
/// When a parameter of the route has no value: a mistake in an endpoint's definition,
/// which its unit tests catch.
pub(crate) fn fill(route: &str, params: &[(&str, &str)], query: Option<String>) -> String {
    let mut path = String::with_capacity(route.len() + 16);
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .expect("a closed `{`");
        let key = &rest[open + 1..close];
        let value = params
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no value for `{{{key}}}` of {route}"));
        encode_segment(value, &mut path);
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        path.push('?');
        path.push_str(&query);
    }
    path
}

/// A query type as its query string (`key=value&...`, form-encoded as ds01d reads it).
pub(crate) fn query<T: Serialize>(query: &T) -> Option<String> {
    Some(serde_urlencoded::to_string(query).expect("a query of plain fields"))
}

/// Everything outside RFC 3986's unreserved characters as `%XX`: names are checked types,
/// but a path must hold whatever a segment is given.
fn encode_segment(value: &str, out: &mut String) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_filled_and_encoded() {
        assert_eq!(
            fill("/v1/containers/{name}/stop", &[("name", "a b/c")], None),
            "/v1/containers/a%20b%2Fc/stop"
        );
        assert_eq!(
            fill("/v1/images", &[], Some("force=true".into())),
            "/v1/images?force=true"
        );
        assert_eq!(fill("/v1/images", &[], Some(String::new())), "/v1/images");
    }

    #[test]
    #[should_panic(expected = "no value for `{name}`")]
    fn a_missing_parameter_is_a_definition_error() {
        fill("/v1/containers/{name}", &[], None);
    }
}
