//! Properties that hold for every string, not only the golden rows.

use ds01_username::{
    sanitize, sanitize_compat, slice_name, slice_user_compat, Username, UsernameError,
};
use proptest::prelude::*;

/// Strings that look like login names often enough to reach every rule: separators,
/// `@`, `:`, digits, multi-byte characters, and lengths on both sides of 32.
fn loginish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec!['a', 'Z', '7', '0', '_', ':']),
            3 => prop::sample::select(vec!['.', '-', '@', ' ', '/', '$', '+']),
            1 => prop::sample::select(vec!['é', 'ñ', '日', '\u{0}', '\n', '\u{202e}']),
            1 => any::<char>(),
        ],
        0..80,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn any_login() -> impl Strategy<Value = String> {
    prop_oneof![loginish(), any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn a_username_is_short_plain_and_a_fixed_point(login in any_login()) {
        if let Ok(user) = sanitize(&login) {
            let s = user.as_str();
            prop_assert!(!s.is_empty());
            prop_assert!(s.len() <= Username::MAX_LEN, "{s:?} is {} bytes", s.len());
            prop_assert!(
                s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{s:?} holds a character outside [A-Za-z0-9_-]"
            );
            prop_assert!(!s.starts_with('-') && !s.ends_with('-'), "{s:?}");
            prop_assert!(!s.contains("--"), "{s:?}");
            prop_assert!(!s.bytes().all(|b| b.is_ascii_digit()), "{s:?}");
            prop_assert_eq!(sanitize(s), Ok(user.clone()));
            prop_assert_eq!(Username::parse(s), Ok(user.clone()));
        }
    }

    #[test]
    fn typed_and_compat_agree(login in any_login()) {
        let compat = sanitize_compat(&login);
        match sanitize(&login) {
            Ok(user) => prop_assert_eq!(user.as_str(), compat),
            Err(UsernameError::Empty { input }) => {
                prop_assert_eq!(input, login);
                prop_assert_eq!(compat, "");
            }
            Err(UsernameError::Colon { input, mapped }) => {
                prop_assert_eq!(input, login);
                prop_assert!(mapped.contains(':'));
                prop_assert_eq!(mapped, compat);
            }
            Err(UsernameError::AllDigits { input, mapped }) => {
                prop_assert_eq!(input, login);
                prop_assert!(mapped.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(mapped, compat);
            }
            Err(other) => prop_assert!(false, "from a login: {other}"),
        }
    }

    #[test]
    fn compat_output_is_a_fixed_point_too(login in any_login()) {
        let once = sanitize_compat(&login);
        prop_assert!(once.len() <= Username::MAX_LEN);
        prop_assert_eq!(sanitize_compat(&once), once);
    }

    #[test]
    fn parse_accepts_exactly_the_fixed_points(s in loginish()) {
        let fixed = sanitize_compat(&s) == s;
        match Username::parse(&s) {
            Ok(user) => prop_assert_eq!(user.as_str(), &s),
            Err(UsernameError::NotSanitized { mapped, .. }) => {
                prop_assert!(!fixed);
                prop_assert_eq!(mapped, sanitize_compat(&s));
            }
            Err(_) => prop_assert!(fixed, "{s:?} is not a fixed point but got a usability error"),
        }
    }

    #[test]
    fn slice_names_never_nest(login in any_login()) {
        let user = slice_user_compat(&login);
        prop_assert!(user.len() <= Username::MAX_LEN);
        prop_assert!(!user.contains('-'), "{user:?}");
        prop_assert!(user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'));
        prop_assert!(!user.starts_with('_') && !user.ends_with('_'));
        match slice_name("student", &login) {
            Ok(slice) => {
                prop_assert_eq!(slice.user(), &user);
                prop_assert_eq!(slice.group(), "student");
                // Exactly the two dashes of the `ds01-<group>-` prefix.
                prop_assert_eq!(slice.as_str().matches('-').count(), 2);
            }
            Err(_) => prop_assert!(user.is_empty()),
        }
    }

    #[test]
    fn error_messages_name_the_input_without_raw_control_characters(login in any_login()) {
        if let Err(e) = sanitize(&login) {
            let message = e.to_string();
            prop_assert!(!message.chars().any(char::is_control), "{message:?}");
            prop_assert_eq!(e.input(), login);
        }
    }
}
