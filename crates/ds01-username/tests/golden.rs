//! Every row of the golden data from DS01's reference implementations (see fixtures/README.md).

use ds01_username::{
    sanitize, sanitize_compat, slice_name, slice_user_compat, SliceError, Username, UsernameError,
};

struct Row {
    input: String,
    python: String,
    slice_user_v3: String,
}

fn rows() -> Vec<Row> {
    let text = include_str!("fixtures/usernames.jsonl");
    let rows: Vec<Row> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("fixture line {} is not JSON: {e}", i + 1));
            let field = |name: &str| {
                value[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("fixture line {} has no string `{name}`", i + 1))
                    .to_owned()
            };
            Row {
                input: field("input"),
                python: field("python"),
                slice_user_v3: field("slice_user_v3"),
            }
        })
        .collect();
    // Guards against a truncated or emptied fixture making every loop below vacuous.
    assert!(rows.len() >= 690, "only {} golden rows", rows.len());
    rows
}

#[test]
fn compat_reproduces_the_reference_on_every_row() {
    for row in rows() {
        assert_eq!(
            sanitize_compat(&row.input),
            row.python,
            "input {:?}",
            row.input
        );
    }
}

#[test]
fn typed_mapping_matches_the_reference_or_says_why_not() {
    let (mut usable, mut refused) = (0, 0);
    for row in rows() {
        let got = sanitize(&row.input);
        let p = &row.python;
        if p.is_empty() {
            assert_eq!(
                got,
                Err(UsernameError::Empty {
                    input: row.input.clone()
                })
            );
            refused += 1;
        } else if p.contains(':') {
            assert_eq!(
                got,
                Err(UsernameError::Colon {
                    input: row.input.clone(),
                    mapped: p.clone()
                })
            );
            refused += 1;
        } else if p.bytes().all(|b| b.is_ascii_digit()) {
            assert_eq!(
                got,
                Err(UsernameError::AllDigits {
                    input: row.input.clone(),
                    mapped: p.clone()
                })
            );
            refused += 1;
        } else {
            let user = got.unwrap_or_else(|e| panic!("input {:?}: {e}", row.input));
            assert_eq!(user.as_str(), p, "input {:?}", row.input);
            // A stored name reads back as itself.
            assert_eq!(Username::parse(p).as_ref(), Ok(&user));
            usable += 1;
        }
    }
    // The fixture exercises both sides; if this changes, the fixture changed.
    assert!(
        usable > 500 && refused > 100,
        "{usable} usable, {refused} refused"
    );
}

#[test]
fn slice_user_part_matches_the_later_reference_on_every_row() {
    for row in rows() {
        assert_eq!(
            slice_user_compat(&row.input),
            row.slice_user_v3,
            "input {:?}",
            row.input
        );
        match slice_name("student", &row.input) {
            Ok(slice) => {
                assert_eq!(slice.user(), row.slice_user_v3, "input {:?}", row.input);
                assert_eq!(
                    slice.as_str(),
                    format!("ds01-student-{}.slice", row.slice_user_v3)
                );
                assert!(!slice.user().contains('-'), "input {:?}", row.input);
            }
            Err(SliceError::EmptyUser { login }) => {
                assert_eq!(login, row.input);
                assert_eq!(row.slice_user_v3, "", "input {:?}", row.input);
            }
            Err(e) => panic!("input {:?}: unexpected {e}", row.input),
        }
    }
}

#[test]
fn the_documented_examples_hold() {
    assert_eq!(
        sanitize("h.baker@hertie-school.lan").unwrap().as_str(),
        "h-baker"
    );
    // The README notes a changelog claiming `-ab6d`; the implementations give `9f4c`.
    assert_eq!(
        sanitize("a.very.long.username.with.many.dots@domain.edu")
            .unwrap()
            .as_str(),
        "a-very-long-username-with-m-9f4c"
    );
    // Where bash's `echo` swallows the input, Python's answer is the one to follow.
    assert_eq!(sanitize("-n").unwrap().as_str(), "n");
}
