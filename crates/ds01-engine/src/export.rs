//! An image's file system as a directory: the root of an OCI bundle that a Slurm node runs
//! under rootless runc (ds01d's cluster mode). The engine makes a container of the image
//! (never started), streams its export, and the container goes again, whatever happened.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};

impl Engine {
    /// Writes the file system of `image` under `rootfs` (which must not exist yet), every
    /// entry owned by `owner` (UID, GID). Only directories, regular files and links are
    /// written: device nodes, FIFOs and sockets of an image would be the user's own devices
    /// on shared storage, and runc makes the `/dev` a container needs itself. Set-ID bits
    /// go with the change of owner. The temporary container carries `labels`.
    pub async fn export_rootfs(
        &self,
        image: &str,
        labels: &[(String, String)],
        rootfs: &Path,
        owner: (u32, u32),
    ) -> Result<()> {
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            labels: Some(labels.iter().cloned().collect::<HashMap<_, _>>()),
            // Never started; a command is given so that an image without one is exported too.
            cmd: Some(vec!["/bin/true".to_owned()]),
            ..Default::default()
        };
        let name = format!(
            "ds01-export-{}-{}",
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos()
        );
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker()
            .create_container(Some(options), body)
            .await
            .context(|| format!("creating a container of {image} to export"))?;
        let tar = rootfs.with_extension("tar");
        let result = self
            .export_into(&created.id, image, &tar, rootfs, owner)
            .await;
        let _ = std::fs::remove_file(&tar);
        let force = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = self
            .docker()
            .remove_container(&created.id, Some(force))
            .await;
        result
    }

    async fn export_into(
        &self,
        id: &str,
        image: &str,
        tar: &Path,
        rootfs: &Path,
        owner: (u32, u32),
    ) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| EngineError::Export {
                image: image.to_owned(),
                path,
                source,
            }
        };
        let mut file = tokio::fs::File::create(tar).await.map_err(io(tar))?;
        let mut stream = self.docker().export_container(id);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.context(|| format!("exporting a container of {image}"))?;
            file.write_all(&chunk).await.map_err(io(tar))?;
        }
        file.flush().await.map_err(io(tar))?;
        drop(file);
        let (tar, dest) = (tar.to_owned(), rootfs.to_owned());
        tokio::task::spawn_blocking(move || unpack(&tar, &dest, owner))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(io(rootfs))
    }
}

fn unpack(tar: &Path, rootfs: &Path, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o755).create(rootfs)?;
    let mut archive = tar::Archive::new(std::fs::File::open(tar)?);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(false);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries()? {
        let mut entry = entry?;
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Directory | T::Symlink | T::Link | T::Continuous => {}
            _ => continue,
        }
        // `unpack_in` refuses paths that leave `rootfs` (`..`, through links) and hard
        // links to anything outside it.
        entry.unpack_in(rootfs)?;
    }
    // The owner is set by a walk that never follows a link, not by the archive's names: only
    // what lies inside `rootfs` changes hands.
    chown_tree(rootfs, uid, gid)
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
