//! Who is calling: the kernel's peer credentials of the socket connection, looked up in NSS
//! (so LDAP/SSSD accounts work), never anything the client says about itself.

use ds01_api::{ApiError, ErrorCode, Whoami};
use ds01_engine::Identity;
use ds01_policy::Effective;
use nix::unistd::{Gid, Group, Uid, User};

use crate::config::Config;

/// An authenticated caller: who the kernel says is at the other end, and what they may do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's UID, from `SO_PEERCRED`.
    pub uid: u32,
    /// The caller's account as ds01 knows users; root, and the rare account ds01 cannot
    /// make a container user of, are told apart.
    pub account: Account,
    /// The names of the caller's groups.
    pub groups: Vec<String>,
    /// Root, or a member of the configured admin group.
    pub admin: bool,
}

/// What a caller's account is to ds01.
#[derive(Debug, Clone)]
pub enum Account {
    /// UID 0: it owns nothing, and acts for users.
    Root,
    /// A user, who owns containers and images.
    User(Identity),
    /// An account that cannot own a container (a login without an account name, GID 0):
    /// it may ask, and is refused with the reason when it would act.
    Unusable {
        /// The login NSS gave.
        login: String,
        /// Why ds01 cannot act for it.
        why: String,
    },
}

impl Caller {
    /// The caller's login, as the audit log records it.
    pub fn login(&self) -> &str {
        match &self.account {
            Account::Root => "root",
            Account::User(who) => who.login(),
            Account::Unusable { login, .. } => login,
        }
    }
}

/// The account a request acts for.
#[derive(Debug, Clone)]
pub struct Acting {
    /// The account.
    pub who: Identity,
    /// Its group names (for policy).
    pub groups: Vec<String>,
    /// The primary group's name (for slices).
    pub primary_group: Option<String>,
    /// Whether an admin acts for someone else.
    pub on_behalf: bool,
}

impl Acting {
    /// The policy that applies to this account.
    pub fn policy(&self, config: &Config) -> Effective {
        config.policy.effective(self.who.login(), &self.groups)
    }
}

fn lookup_failed(uid: u32) -> ApiError {
    ApiError::forbidden(format!(
        "UID {uid} has no passwd entry on this server (is SSSD/LDAP reachable? `getent passwd {uid}` should show the account)"
    ))
}

/// The names of the groups `user` is in, primary group included.
pub(crate) fn group_names(user: &User) -> Vec<String> {
    let name = std::ffi::CString::new(user.name.as_bytes()).unwrap_or_default();
    let gids = nix::unistd::getgrouplist(&name, user.gid).unwrap_or_else(|_| vec![user.gid]);
    gids.into_iter()
        .filter_map(|g| Group::from_gid(g).ok().flatten().map(|g| g.name))
        .collect()
}

impl Caller {
    /// The caller behind peer credentials `uid`.
    pub fn from_uid(uid: u32, config: &Config) -> Result<Caller, ApiError> {
        let user = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .ok_or_else(|| lookup_failed(uid))?;
        let groups = group_names(&user);
        let admin = uid == 0
            || config
                .file
                .admin_group
                .as_ref()
                .is_some_and(|g| groups.contains(g));
        let account = if uid == 0 {
            Account::Root
        } else {
            match Identity::new(&user.name, uid, user.gid.as_raw()) {
                Ok(who) => Account::User(who),
                Err(e) => Account::Unusable {
                    login: user.name,
                    why: e.to_string(),
                },
            }
        };
        Ok(Caller {
            uid,
            account,
            groups,
            admin,
        })
    }

    /// The account to act for: `act_as` (admins only: `LOGIN` looked up in NSS, or
    /// `LOGIN:UID:GID` for accounts NSS does not know here), else the caller.
    pub fn acting(&self, act_as: Option<&str>) -> Result<Acting, ApiError> {
        let Some(spec) = act_as else {
            let who = match &self.account {
                Account::Root => {
                    return Err(ApiError::invalid(
                        "root owns no containers or images; act for a user",
                    )
                    .because(ds01_api::Reason::NoOwner))
                }
                Account::User(who) => who.clone(),
                Account::Unusable { why, .. } => return Err(ApiError::forbidden(why.clone())),
            };
            return Ok(Acting {
                primary_group: group_name(who.gid()),
                who,
                groups: self.groups.clone(),
                on_behalf: false,
            });
        };
        if !self.admin {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "only root and the admin group may act for another user (you are {})",
                    ds01_api::shown(self.login())
                ),
            ));
        }
        let (who, groups) = if spec.matches(':').count() == 2 {
            let who = Identity::parse_spec(spec).map_err(|e| ApiError::invalid(e.to_string()))?;
            let groups = User::from_uid(Uid::from_raw(who.uid()))
                .ok()
                .flatten()
                .map(|u| group_names(&u))
                .unwrap_or_default();
            (who, groups)
        } else {
            let user = User::from_name(spec).ok().flatten().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no account {} on this server", ds01_api::shown(spec)),
                )
            })?;
            let who = Identity::new(&user.name, user.uid.as_raw(), user.gid.as_raw())
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            (who, group_names(&user))
        };
        Ok(Acting {
            primary_group: group_name(who.gid()),
            who,
            groups,
            on_behalf: true,
        })
    }

    /// What `GET /v1/whoami` answers.
    pub fn whoami(&self) -> Whoami {
        let (gid, username) = match &self.account {
            Account::User(who) => (who.gid(), Some(who.username().to_string())),
            Account::Root | Account::Unusable { .. } => (
                User::from_uid(Uid::from_raw(self.uid))
                    .ok()
                    .flatten()
                    .map_or(0, |u| u.gid.as_raw()),
                None,
            ),
        };
        Whoami {
            login: self.login().to_owned(),
            uid: self.uid,
            gid,
            username,
            groups: self.groups.clone(),
            admin: self.admin,
            daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The name of group `gid`, if NSS knows it.
fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}
