//! `docs/api.md` describes every endpoint the contract has: a route added to
//! `ds01_api::endpoints` without a line in the table fails here.

use ds01_api::endpoints::ALL;

#[test]
fn every_route_is_in_the_api_document() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md"))
        .expect("docs/api.md is readable");
    let missing: Vec<String> = ALL
        .iter()
        .map(|r| format!("{} {}", r.method.as_str(), r.route))
        .filter(|line| {
            // The route as written, ending where the path ends: a query, a space or the
            // closing backtick.
            !doc.match_indices(&format!("`{line}"))
                .any(|(at, m)| matches!(doc[at + m.len()..].chars().next(), Some('?' | '`' | ' ')))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/api.md does not describe: {missing:#?}"
    );
}
