//! `POST /v1/admin/gc`: what nobody can use any more. Containers, their home volumes and
//! per-container images of accounts that no longer exist (the UID in `<name>._.<uid>` and
//! `ds01-<uid>/` has no passwd entry), and users' images that no container uses and that are
//! older than their owner's `image_max_age`.

use ds01_api::{ApiError, Collected};
use ds01_dockerfile::owner::OwnedImage;
use ds01_dockerfile::ImageRef;
use ds01_engine::Scope;
use ds01_labels::container;
use nix::unistd::{Uid, User};

use crate::errors::from_engine;
use crate::Daemon;

fn account(uid: u32) -> Option<User> {
    User::from_uid(Uid::from_raw(uid)).ok().flatten()
}

/// Removes (unless `dry_run`) and lists what nobody can use any more.
pub async fn gc(d: &Daemon, dry_run: bool) -> Result<Vec<Collected>, ApiError> {
    let mut out = Vec::new();
    for c in d
        .engine
        .list_containers(Scope::AllUsers)
        .await
        .map_err(from_engine)?
    {
        if account(c.uid()).is_some() {
            continue;
        }
        let why = format!("UID {} has no account any more", c.uid());
        if !dry_run {
            let Some(owned) = c.owned() else {
                continue;
            };
            let login = container::owner_login(|k| c.labels.get(k))
                .map_or_else(|| format!("uid{}", c.uid()), str::to_owned);
            for image in d
                .engine
                .remove_container(&owned, true)
                .await
                .map_err(from_engine)?
            {
                out.push(Collected {
                    name: image,
                    kind: "image".into(),
                    why: "the per-container image of a removed container".into(),
                });
            }
            crate::binds::forget(&crate::binds::points(&d.state_dir, &owned));
            // Its home volume: nobody can log in to use those files any more.
            if let Some(volume) = d
                .engine
                .remove_home_volume(&owned)
                .await
                .map_err(from_engine)?
            {
                out.push(Collected {
                    name: volume,
                    kind: "volume".into(),
                    why: "the home volume of a removed container".into(),
                });
            }
            d.events.record(
                c.uid(),
                &login,
                &owned,
                "remove",
                format!("removed by gc: {why}"),
            );
        }
        out.push(Collected {
            name: c.name.to_string(),
            kind: "container".into(),
            why,
        });
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for tag in d
        .engine
        .image_tags(&OwnedImage::filter(None))
        .await
        .map_err(from_engine)?
    {
        let Some(uid) = tag
            .tag
            .parse::<ImageRef>()
            .ok()
            .and_then(|r| OwnedImage::owner(&r))
        else {
            continue;
        };
        let why = match account(uid) {
            None => format!("UID {uid} has no account any more"),
            Some(user) => {
                let groups = crate::caller::group_names(&user);
                let max_age = d.config.policy.effective(&user.name, &groups).image_max_age;
                match max_age.value.value() {
                    Some(age) if now - tag.created > age.secs() as i64 => {
                        format!("older than {max_age}")
                    }
                    _ => continue,
                }
            }
        };
        if !d
            .engine
            .containers_using(&tag.id)
            .await
            .map_err(from_engine)?
            .is_empty()
        {
            continue;
        }
        if !dry_run {
            d.engine
                .remove_image(&tag.tag, false)
                .await
                .map_err(from_engine)?;
        }
        out.push(Collected {
            name: tag.tag,
            kind: "image".into(),
            why,
        });
    }
    Ok(out)
}
