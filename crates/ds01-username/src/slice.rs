//! systemd slice names `ds01-<group>-<user>.slice`, under which a user's containers run.

use std::fmt;
use std::str::FromStr;

use crate::error::SliceError;
use crate::rules::{self, SLICE};

const PREFIX: &str = "ds01-";
const SUFFIX: &str = ".slice";

/// systemd refuses unit names longer than this many bytes.
const UNIT_NAME_MAX: usize = 255;

/// The resource group part of a slice name: a plain `[a-z0-9_]+` word such as `student`.
///
/// The group may not hold `-`: systemd reads each `-` in a slice name as a level of nesting, so
/// `ds01-phd-student-x.slice` would land under `ds01-phd-student.slice`, not `ds01-phd.slice`.
///
/// ```
/// use ds01_username::SliceGroup;
///
/// let group: SliceGroup = "student".parse()?;
/// assert_eq!(group.as_str(), "student");
/// assert!(SliceGroup::parse("phd-student").is_err());
/// # Ok::<(), ds01_username::SliceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SliceGroup(String);

impl SliceGroup {
    /// The longest group: whatever keeps the longest slice name within systemd's 255-byte
    /// limit on unit names.
    ///
    /// ```
    /// use ds01_username::SliceGroup;
    ///
    /// assert!(SliceGroup::parse(&"g".repeat(SliceGroup::MAX_LEN)).is_ok());
    /// assert!(SliceGroup::parse(&"g".repeat(SliceGroup::MAX_LEN + 1)).is_err());
    /// ```
    pub const MAX_LEN: usize =
        UNIT_NAME_MAX - PREFIX.len() - "-".len() - rules::MAX_LEN - SUFFIX.len();

    /// Checks a group name.
    ///
    /// # Errors
    ///
    /// [`SliceError::InvalidGroup`] if it is empty or holds anything outside `[a-z0-9_]`,
    /// [`SliceError::GroupTooLong`] if it is longer than [`SliceGroup::MAX_LEN`].
    ///
    /// ```
    /// use ds01_username::{SliceError, SliceGroup};
    ///
    /// assert!(SliceGroup::parse("gpu_users2").is_ok());
    /// assert!(matches!(SliceGroup::parse("Staff"), Err(SliceError::InvalidGroup { .. })));
    /// assert!(matches!(SliceGroup::parse(""), Err(SliceError::InvalidGroup { .. })));
    /// ```
    pub fn parse(group: &str) -> Result<Self, SliceError> {
        let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        if group.is_empty() || !group.bytes().all(plain) {
            return Err(SliceError::InvalidGroup {
                group: group.to_owned(),
            });
        }
        if group.len() > Self::MAX_LEN {
            return Err(SliceError::GroupTooLong {
                group: group.to_owned(),
                max: Self::MAX_LEN,
            });
        }
        Ok(Self(group.to_owned()))
    }

    /// The group as a string slice.
    ///
    /// ```
    /// use ds01_username::SliceGroup;
    ///
    /// assert_eq!(SliceGroup::parse("admin")?.as_str(), "admin");
    /// # Ok::<(), ds01_username::SliceError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Same as [`SliceGroup::parse`].
///
/// ```
/// use ds01_username::SliceGroup;
///
/// assert!("researcher".parse::<SliceGroup>().is_ok());
/// ```
impl FromStr for SliceGroup {
    type Err = SliceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SliceGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SliceGroup {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A systemd slice name `ds01-<group>-<user>.slice` whose user part holds no `-`, so systemd
/// places it directly under `ds01-<group>.slice`.
///
/// ```
/// use ds01_username::{SliceGroup, SliceName};
///
/// let group = SliceGroup::parse("student")?;
/// let slice = SliceName::new(&group, "h.baker@hertie-school.lan")?;
/// assert_eq!(slice.as_str(), "ds01-student-h_baker.slice");
/// assert_eq!(slice.group(), "student");
/// assert_eq!(slice.user(), "h_baker");
/// # Ok::<(), ds01_username::SliceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SliceName {
    name: String,
    group_len: usize,
}

impl SliceName {
    /// Builds the slice name for a login in a group. The user part follows DS01's slice rules
    /// (see [`slice_user_compat`]).
    ///
    /// # Errors
    ///
    /// [`SliceError::EmptyUser`] if the slice rules leave nothing of the login (`@x`, `___`).
    ///
    /// ```
    /// use ds01_username::{SliceError, SliceGroup, SliceName};
    ///
    /// let group = SliceGroup::parse("student")?;
    /// assert!(matches!(SliceName::new(&group, "@x"), Err(SliceError::EmptyUser { .. })));
    /// # Ok::<(), SliceError>(())
    /// ```
    pub fn new(group: &SliceGroup, login: &str) -> Result<Self, SliceError> {
        let user = slice_user_compat(login);
        if user.is_empty() {
            return Err(SliceError::EmptyUser {
                login: login.to_owned(),
            });
        }
        let mut name =
            String::with_capacity(PREFIX.len() + group.0.len() + 1 + user.len() + SUFFIX.len());
        name.push_str(PREFIX);
        name.push_str(&group.0);
        name.push('-');
        name.push_str(&user);
        name.push_str(SUFFIX);
        Ok(Self {
            name,
            group_len: group.0.len(),
        })
    }

    /// The whole unit name, `ds01-<group>-<user>.slice`.
    ///
    /// ```
    /// use ds01_username::slice_name;
    ///
    /// assert_eq!(slice_name("admin", "alice")?.as_str(), "ds01-admin-alice.slice");
    /// # Ok::<(), ds01_username::SliceError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The group part.
    ///
    /// ```
    /// use ds01_username::slice_name;
    ///
    /// assert_eq!(slice_name("admin", "alice")?.group(), "admin");
    /// # Ok::<(), ds01_username::SliceError>(())
    /// ```
    pub fn group(&self) -> &str {
        &self.name[PREFIX.len()..PREFIX.len() + self.group_len]
    }

    /// The user part.
    ///
    /// ```
    /// use ds01_username::slice_name;
    ///
    /// assert_eq!(slice_name("admin", "john.doe@x")?.user(), "john_doe");
    /// # Ok::<(), ds01_username::SliceError>(())
    /// ```
    pub fn user(&self) -> &str {
        &self.name[PREFIX.len() + self.group_len + 1..self.name.len() - SUFFIX.len()]
    }

    /// The unit name as an owned `String`, without copying.
    ///
    /// ```
    /// use ds01_username::slice_name;
    ///
    /// let unit: String = slice_name("admin", "alice")?.into_string();
    /// assert_eq!(unit, "ds01-admin-alice.slice");
    /// # Ok::<(), ds01_username::SliceError>(())
    /// ```
    pub fn into_string(self) -> String {
        self.name
    }
}

impl fmt::Display for SliceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<str> for SliceName {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

/// Builds `ds01-<group>-<user>.slice` from a group and a login name in one step.
///
/// # Errors
///
/// Those of [`SliceGroup::parse`] and [`SliceName::new`].
///
/// ```
/// use ds01_username::slice_name;
///
/// let slice = slice_name("student", "h.baker@hertie-school.lan")?;
/// assert_eq!(slice.to_string(), "ds01-student-h_baker.slice");
/// assert!(slice_name("phd-student", "h.baker").is_err());
/// # Ok::<(), ds01_username::SliceError>(())
/// ```
pub fn slice_name(group: &str, login: &str) -> Result<SliceName, SliceError> {
    SliceName::new(&SliceGroup::parse(group)?, login)
}

/// The user part of a slice name exactly as DS01 computes it, empty result included.
///
/// The account-name rules with `_` in place of `-`: drop everything from the first `@`, turn
/// `.` and every character outside `[A-Za-z0-9_:]` (so `-` too) into `_`, collapse runs of
/// `_`, trim `_` at both ends, and shorten names over 32 characters to their first 27
/// (without a trailing `_`), a `_` and the first four hex digits of the MD5 of the login.
///
/// ```
/// use ds01_username::slice_user_compat;
///
/// assert_eq!(slice_user_compat("h.baker@hertie-school.lan"), "h_baker");
/// assert_eq!(slice_user_compat("anne-marie__x"), "anne_marie_x");
/// assert_eq!(slice_user_compat("@x"), "");
/// ```
pub fn slice_user_compat(login: &str) -> String {
    SLICE.map(login)
}
