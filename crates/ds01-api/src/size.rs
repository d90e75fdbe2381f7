//! Sizes as Docker takes them.

use std::fmt;
use std::str::FromStr;

/// A size in bytes written the way Docker takes it: `16g`, `512m`, `1024k`, `100b`, `100`
/// (units are powers of 1024).
///
/// ```
/// use ds01_api::ByteSize;
/// assert_eq!("16g".parse::<ByteSize>().unwrap().bytes(), 16 << 30);
/// assert_eq!("512M".parse::<ByteSize>().unwrap().bytes(), 512 << 20);
/// assert_eq!(ByteSize::from_bytes(16 << 30).to_string(), "16g");
/// assert!("lots".parse::<ByteSize>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

/// A text that is not a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a size; write a number with an optional unit b, k, m or g (e.g. 16g)")]
pub struct SizeError(String);

impl ByteSize {
    /// A size of `bytes` bytes.
    pub fn from_bytes(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = SizeError;
    fn from_str(s: &str) -> Result<Self, SizeError> {
        let bad = || SizeError(crate::shown(s));
        let lower = s.trim().to_ascii_lowercase();
        let digits_end = lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len());
        let (number, unit) = lower.split_at(digits_end);
        let number: u64 = number.parse().map_err(|_| bad())?;
        if unit.len() > 2 || (unit.len() == 2 && !unit.ends_with('b')) {
            return Err(bad());
        }
        let shift = match unit.trim_end_matches('b') {
            "" => 0,
            "k" => 10,
            "m" => 20,
            "g" => 30,
            _ => return Err(bad()),
        };
        number
            .checked_mul(1 << shift)
            .filter(|n| *n > 0)
            .map(ByteSize)
            .ok_or_else(bad)
    }
}

/// The largest unit that divides the size exactly, so a size reads back as it was written.
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shift, unit) in [(30, "g"), (20, "m"), (10, "k")] {
            if self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

crate::serde_as_text!(ByteSize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("100".parse::<ByteSize>().unwrap().bytes(), 100);
        assert_eq!("1kb".parse::<ByteSize>().unwrap().bytes(), 1024);
        for bad in [
            "",
            "0",
            "g",
            "1t",
            "1gg",
            "-1g",
            "1.5g",
            "99999999999999999999g",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["16g", "512m", "3k", "1000"] {
            assert_eq!(text.parse::<ByteSize>().unwrap().to_string(), text);
        }
    }
}
