//! The value types of the policy file: sizes ("32g"), durations ("2h") and caps that may be
//! "unlimited".
//!
//! Sizes use Docker's binary units (k = 1024), so `memory = "32g"` means what `--memory 32g`
//! means. Durations take s/m/h/d/w; a fractional value ("0.5h") is allowed because DS01's
//! configuration used fractional hours.

use ds01_labels::shown;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Why a size, duration or count was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not {expected}")]
pub struct UnitError {
    /// The text or number as given.
    pub input: String,
    /// What was expected, e.g. `a size like "32g"`.
    pub expected: &'static str,
}

fn unit_err(input: impl fmt::Display, expected: &'static str) -> UnitError {
    UnitError {
        input: shown(&input.to_string()),
        expected,
    }
}

/// Splits "1.5g" into (1.5, "g"); refuses signs, exponents and NaN so a typo is never a limit.
fn number_and_suffix(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    Some((num.parse().ok()?, suffix.trim()))
}

/// A number of bytes, written like Docker's `--memory`: `"16g"`, `"512m"`, `"1024k"`, `"4096"`.
///
/// ```
/// use ds01_policy::Size;
///
/// let s: Size = "16g".parse()?;
/// assert_eq!(s.bytes(), 16 << 30);
/// assert_eq!(s.to_string(), "16g");
/// assert_eq!("1536m".parse::<Size>()?.to_string(), "1536m");
/// assert!("16x".parse::<Size>().is_err());
/// # Ok::<(), ds01_policy::UnitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(u64);

const SIZE_UNITS: [(char, u64); 4] = [
    ('t', 1 << 40),
    ('g', 1 << 30),
    ('m', 1 << 20),
    ('k', 1 << 10),
];
const SIZE_EXPECTED: &str = "a size like \"32g\", \"512m\", \"1024k\" or a number of bytes";

impl Size {
    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        Size(bytes)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl std::str::FromStr for Size {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, UnitError> {
        let err = || unit_err(s, SIZE_EXPECTED);
        let (n, suffix) = number_and_suffix(s).ok_or_else(err)?;
        let lower = suffix.to_ascii_lowercase();
        // DS01's YAML writes "96G" and users write "16GB" or "16GiB"; all mean 16 × 2^30.
        let unit = lower
            .strip_suffix("ib")
            .or_else(|| lower.strip_suffix('b'))
            .unwrap_or(&lower);
        let mult = match unit {
            "" => 1,
            u => SIZE_UNITS
                .iter()
                .find(|(c, _)| u.len() == 1 && u.starts_with(*c))
                .map(|(_, m)| *m)
                .ok_or_else(err)?,
        };
        let bytes = n * mult as f64;
        // Zero means "no limit" to Docker (`--memory 0`): as a limit it would be a way
        // around the ceiling, so it is not a size; "unlimited" says that.
        if bytes >= u64::MAX as f64 || bytes < 1.0 {
            return Err(err());
        }
        Ok(Size(bytes as u64))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SIZE_UNITS
            .iter()
            .find(|(_, m)| self.0 != 0 && self.0.is_multiple_of(*m))
        {
            Some((c, m)) => write!(f, "{}{c}", self.0 / m),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A length of time in whole seconds, written `"10s"`, `"5m"`, `"2h"`, `"7d"` or `"1w"`.
///
/// ```
/// use ds01_policy::Span;
///
/// assert_eq!("2h".parse::<Span>()?.secs(), 7200);
/// assert_eq!("0.5h".parse::<Span>()?.to_string(), "30m");
/// assert!("2 hours".parse::<Span>().is_err());
/// # Ok::<(), ds01_policy::UnitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

const SPAN_UNITS: [(char, u64); 5] = [
    ('w', 604_800),
    ('d', 86_400),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];
const SPAN_EXPECTED: &str = "a duration like \"10s\", \"5m\", \"2h\" or \"7d\"";

impl Span {
    /// A span of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Span(secs)
    }

    /// The span in seconds.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// Reads a number of hours, the unit of DS01's `*_h` keys; `None` if negative or not finite.
    pub fn from_hours(hours: f64) -> Option<Self> {
        (hours.is_finite() && hours >= 0.0).then(|| Span((hours * 3600.0).round() as u64))
    }

    /// Words for a person: "2 h", "1 h 30 min", "45 min", "3 d".
    pub fn human(self) -> String {
        let (d, h, m, s) = (
            self.0 / 86_400,
            self.0 / 3600 % 24,
            self.0 / 60 % 60,
            self.0 % 60,
        );
        let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, u)| format!("{n} {u}"))
            .collect();
        if parts.is_empty() {
            "0 s".into()
        } else {
            parts.join(" ")
        }
    }
}

impl std::str::FromStr for Span {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, UnitError> {
        let err = || unit_err(s, SPAN_EXPECTED);
        let (n, suffix) = number_and_suffix(s).ok_or_else(err)?;
        let mult = SPAN_UNITS
            .iter()
            .find(|(c, _)| suffix.len() == 1 && suffix.starts_with(*c))
            .map(|(_, m)| *m)
            .ok_or_else(err)?;
        Ok(Span((n * mult as f64).round() as u64))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, m) = SPAN_UNITS
            .iter()
            .find(|(_, m)| self.0 != 0 && self.0.is_multiple_of(*m))
            .unwrap_or(&('s', 1));
        write!(f, "{}{c}", self.0 / m)
    }
}

/// A value that can stand in the policy file: how it is read from TOML/YAML scalars.
pub trait Quantity: Sized + Copy + PartialOrd + fmt::Display + Serialize {
    /// What a valid value looks like, for error messages.
    const EXPECTED: &'static str;
    /// How "no limit" is written: "unlimited", or "never" for durations.
    const UNLIMITED: &'static str = "unlimited";
    /// Reads a string such as "32g".
    fn from_text(s: &str) -> Result<Self, UnitError>;
    /// Reads an integer; sizes take it as bytes.
    fn from_int(i: i64) -> Result<Self, UnitError>;
    /// Reads a float.
    fn from_float(f: f64) -> Result<Self, UnitError>;
}

impl Quantity for Size {
    const EXPECTED: &'static str = SIZE_EXPECTED;
    fn from_text(s: &str) -> Result<Self, UnitError> {
        s.parse()
    }
    fn from_int(i: i64) -> Result<Self, UnitError> {
        u64::try_from(i)
            .ok()
            .filter(|&n| n > 0)
            .map(Size)
            .ok_or_else(|| unit_err(i, SIZE_EXPECTED))
    }
    fn from_float(f: f64) -> Result<Self, UnitError> {
        Err(unit_err(f, SIZE_EXPECTED))
    }
}

impl Quantity for Span {
    const EXPECTED: &'static str = SPAN_EXPECTED;
    const UNLIMITED: &'static str = "never";
    fn from_text(s: &str) -> Result<Self, UnitError> {
        s.parse()
    }
    // A bare number could be seconds or hours (DS01 used hours): refuse rather than guess.
    fn from_int(i: i64) -> Result<Self, UnitError> {
        Err(unit_err(i, SPAN_EXPECTED))
    }
    fn from_float(f: f64) -> Result<Self, UnitError> {
        Err(unit_err(f, SPAN_EXPECTED))
    }
}

const COUNT_EXPECTED: &str = "a whole number (or \"unlimited\")";
const AMOUNT_EXPECTED: &str = "a non-negative number (or \"unlimited\")";

impl Quantity for u32 {
    const EXPECTED: &'static str = COUNT_EXPECTED;
    fn from_text(s: &str) -> Result<Self, UnitError> {
        s.trim().parse().map_err(|_| unit_err(s, COUNT_EXPECTED))
    }
    fn from_int(i: i64) -> Result<Self, UnitError> {
        u32::try_from(i).map_err(|_| unit_err(i, COUNT_EXPECTED))
    }
    fn from_float(f: f64) -> Result<Self, UnitError> {
        Err(unit_err(f, COUNT_EXPECTED))
    }
}

impl Quantity for f64 {
    const EXPECTED: &'static str = AMOUNT_EXPECTED;
    fn from_text(s: &str) -> Result<Self, UnitError> {
        s.trim()
            .parse()
            .map_err(|_| unit_err(s, AMOUNT_EXPECTED))
            .and_then(Self::from_float)
    }
    fn from_int(i: i64) -> Result<Self, UnitError> {
        Self::from_float(i as f64)
    }
    fn from_float(f: f64) -> Result<Self, UnitError> {
        if f.is_finite() && f >= 0.0 {
            Ok(f)
        } else {
            Err(unit_err(f, AMOUNT_EXPECTED))
        }
    }
}

/// A limit that may be lifted: written as a value, or as `"unlimited"` (also `"never"` or
/// `"none"`, which read better for durations).
///
/// The order is "how generous": any value is less than `Unlimited`.
///
/// ```
/// use ds01_policy::{Cap, Size, Span};
///
/// let c: Cap<Size> = Cap::Limited("32g".parse()?);
/// assert!(c < Cap::Unlimited);
/// assert_eq!(c.value().map(Size::bytes), Some(32 << 30));
/// assert_eq!(Cap::<u32>::Unlimited.to_string(), "unlimited");
/// assert_eq!(Cap::<Span>::Unlimited.to_string(), "never");
/// # Ok::<(), ds01_policy::UnitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum Cap<T> {
    /// At most this much.
    Limited(T),
    /// No limit.
    Unlimited,
}

impl<T: Copy> Cap<T> {
    /// The limit, or `None` when unlimited.
    pub fn value(self) -> Option<T> {
        match self {
            Cap::Limited(v) => Some(v),
            Cap::Unlimited => None,
        }
    }
}

impl<T: Quantity> fmt::Display for Cap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cap::Limited(v) => v.fmt(f),
            Cap::Unlimited => f.write_str(T::UNLIMITED),
        }
    }
}

impl<T: Quantity> Cap<T> {
    /// Reads the textual form used in the policy file.
    pub fn parse(s: &str) -> Result<Self, UnitError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "unlimited" | "never" | "none" => Ok(Cap::Unlimited),
            _ => T::from_text(s).map(Cap::Limited),
        }
    }
}

impl<T: Quantity> Serialize for Cap<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cap::Limited(v) => v.serialize(s),
            Cap::Unlimited => s.serialize_str(T::UNLIMITED),
        }
    }
}

impl<'de, T: Quantity> Deserialize<'de> for Cap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: Quantity> Visitor<'_> for V<T> {
            type Value = Cap<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTED)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Cap<T>, E> {
                Cap::parse(s).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<Cap<T>, E> {
                T::from_int(i).map(Cap::Limited).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<Cap<T>, E> {
                let i = i64::try_from(u).map_err(|_| E::custom(unit_err(u, T::EXPECTED)))?;
                self.visit_i64(i)
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Cap<T>, E> {
                T::from_float(f).map(Cap::Limited).map_err(E::custom)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

macro_rules! text_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}
text_serde!(Size);
text_serde!(Span);

/// Requests and configuration carry a size as its text ("16g").
impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_docker_binary_units() {
        let cases = [
            ("16g", 16u64 << 30),
            ("512m", 512 << 20),
            ("1024k", 1 << 20),
            ("4096", 4096),
            ("96G", 96 << 30),
            ("16GiB", 16 << 30),
            ("2tb", 2 << 40),
            ("1.5g", 3 << 29),
        ];
        for (text, bytes) in cases {
            assert_eq!(text.parse::<Size>().unwrap().bytes(), bytes, "{text}");
        }
        for bad in [
            "", "0", "0g", "g", "-1g", "1e9", "16x", "16 gg", ".5g", "1.g",
        ] {
            assert!(bad.parse::<Size>().is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Size::from_bytes(1 << 20).to_string(), "1m");
        assert_eq!(Size::from_bytes(1000).to_string(), "1000");
        assert_eq!(Size::from_bytes(0).to_string(), "0");
    }

    #[test]
    fn spans_round_trip_and_read_hours() {
        for (text, secs) in [
            ("10s", 10),
            ("5m", 300),
            ("2h", 7200),
            ("7d", 604_800),
            ("1w", 604_800),
        ] {
            let s: Span = text.parse().unwrap();
            assert_eq!(s.secs(), secs, "{text}");
            assert_eq!(s.to_string().parse::<Span>().unwrap(), s);
        }
        assert_eq!(Span::from_hours(0.25).unwrap().to_string(), "15m");
        assert_eq!(Span::from_hours(-1.0), None);
        assert!("2".parse::<Span>().is_err(), "a unit is required");
        assert_eq!(Span::from_secs(5400).human(), "1 h 30 min");
        assert_eq!(Span::from_secs(0).human(), "0 s");
    }

    #[test]
    fn caps_read_unlimited_and_order_by_generosity() {
        assert_eq!(Cap::<Span>::parse("never").unwrap(), Cap::Unlimited);
        assert_eq!(Cap::<u32>::parse("7").unwrap(), Cap::Limited(7));
        assert!(Cap::Limited(2.0) < Cap::Limited(2.5));
        assert!(Cap::Limited(1e9) < Cap::Unlimited);
        #[derive(Debug, Deserialize, Serialize)]
        struct T {
            a: Cap<f64>,
            b: Cap<Size>,
            c: Cap<u32>,
        }
        let t: T = toml::from_str("a = 2\nb = \"32g\"\nc = \"unlimited\"").unwrap();
        assert_eq!(
            (t.a, t.b, t.c),
            (
                Cap::Limited(2.0),
                Cap::Limited(Size(32 << 30)),
                Cap::Unlimited
            )
        );
        assert_eq!(
            toml::to_string(&t).unwrap(),
            "a = 2.0\nb = \"32g\"\nc = \"unlimited\"\n"
        );
        let e = toml::from_str::<T>("a = -1\nb = 1\nc = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`-1` is not a non-negative number"), "{e}");
        assert!(
            toml::from_str::<T>("a = 1\nb = 1.5\nc = 1").is_err(),
            "float bytes refused"
        );
    }
}
