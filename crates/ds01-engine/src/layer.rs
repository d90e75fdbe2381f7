//! A stopped container's writes as an image layer, read from its overlay upper directory.
//!
//! This is what `docker commit` computes, without its cost: fuse-overlayfs gives the engine
//! no native diff, so a commit compares every file of the image against the container
//! (about a second for a 120 MB base on this kind of host, for a setup that wrote ten small
//! files). The upper directory already holds exactly the writes; only overlay's own markers
//! need translating into the layer format's:
//!
//! * a character device 0/0 named `X` (a deleted file) becomes the whiteout `.wh.X`;
//! * an opaque directory (the `trusted.overlay.opaque` attribute, or fuse-overlayfs's
//!   `.wh..wh..opq` file and `.wh..opq` device) gets one `.wh..wh..opq` entry.
//!
//! Anything whose meaning this module does not know for sure (a FIFO, a device, a file with
//! capabilities, overlay's redirect or metacopy attributes, an owner fuse-overlayfs recorded
//! in an attribute) makes the directory
//! [`Built::Unportable`]: the caller then commits through the engine, which is slower but
//! knows its own storage.

use crate::error::{EngineError, Result};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The layer kept in memory: a setup container writes a few kilobytes. Past this, the
/// engine's commit (which streams) does the work instead.
const MAX_LAYER_BYTES: u64 = 16 << 20;

const OPAQUE: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";

/// An uncompressed layer tarball and its digest (the image's `diff_id`).
#[derive(Debug)]
pub(crate) struct Layer {
    pub tar: Vec<u8>,
    pub diff_id: String,
}

/// What became of an upper directory.
#[derive(Debug)]
pub(crate) enum Built {
    Layer(Layer),
    /// It holds something this module does not translate; the reason is logged.
    Unportable(String),
}

/// Builds the layer for the upper directory `dir`, refusing (as the sparse-file guard does)
/// any file whose apparent size is over `file_limit`.
pub(crate) fn from_upper(dir: &Path, file_limit: u64) -> Result<Built> {
    let mut writer = Writer {
        tar: tar::Builder::new(Vec::new()),
        file_limit,
        opaque_written: Vec::new(),
    };
    let mut problem: Option<Problem> = None;
    let walked = crate::upper::walk(dir, |inside, full, meta| {
        writer.entry(inside, full, meta).map_err(|p| {
            let io = std::io::Error::other(p.to_string());
            problem = Some(p);
            io
        })
    });
    match (walked, problem) {
        (_, Some(Problem::Oversized { path, size })) => Err(EngineError::OversizedFile {
            path,
            size,
            limit: file_limit,
        }),
        (_, Some(Problem::Unportable(why))) => Ok(Built::Unportable(why)),
        (Err(e), None) => Ok(Built::Unportable(format!("reading {}: {e}", dir.display()))),
        (Ok(()), None) => {
            let tar = writer
                .tar
                .into_inner()
                .map_err(|e| EngineError::InvalidOption(format!("writing a layer: {e}")))?;
            let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
            Ok(Built::Layer(Layer { tar, diff_id }))
        }
    }
}

enum Problem {
    Oversized { path: String, size: u64 },
    Unportable(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Oversized { path, size } => write!(f, "{path} is {size} bytes"),
            Problem::Unportable(why) => f.write_str(why),
        }
    }
}

fn unportable(inside: &Path, what: &str) -> Problem {
    Problem::Unportable(format!("/{} is {what}", inside.display()))
}

struct Writer {
    tar: tar::Builder<Vec<u8>>,
    file_limit: u64,
    /// Directories already given their opaque marker (fuse-overlayfs leaves two).
    opaque_written: Vec<PathBuf>,
}

impl Writer {
    fn entry(
        &mut self,
        inside: &Path,
        full: &Path,
        meta: &Metadata,
    ) -> std::result::Result<(), Problem> {
        // Headers count too: a million empty directories are no small layer either.
        if self.tar.get_ref().len() as u64 > MAX_LAYER_BYTES {
            return Err(unportable(
                inside,
                "past the size a layer is built in memory",
            ));
        }
        let name = inside.file_name().unwrap_or_default();
        let parent = inside.parent().unwrap_or(Path::new(""));
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            return match name.as_bytes() {
                b".wh..opq" => self.opaque(parent, meta),
                n if n.starts_with(WHITEOUT_PREFIX.as_bytes()) => {
                    Err(unportable(inside, "an overlay marker of unknown meaning"))
                }
                _ => {
                    let mut whiteout = WHITEOUT_PREFIX.as_bytes().to_vec();
                    whiteout.extend_from_slice(name.as_bytes());
                    self.empty(&parent.join(OsStr::from_bytes(&whiteout)), meta)
                }
            };
        }
        self.check_attributes(inside, full, kind.is_dir())?;
        if kind.is_dir() {
            self.header_only(inside, meta, tar::EntryType::Directory)?;
            if has_opaque_attribute(full) {
                self.opaque(inside, meta)?;
            }
            Ok(())
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(full).map_err(|e| unportable(inside, &e.to_string()))?;
            let mut header = header_for(meta, tar::EntryType::Symlink);
            self.tar
                .append_link(&mut header, inside, target)
                .map_err(|e| unportable(inside, &e.to_string()))
        } else if kind.is_file() {
            if name == OPAQUE {
                return self.opaque(parent, meta);
            }
            self.file(inside, full, meta)
        } else {
            Err(unportable(inside, "a FIFO, socket or device"))
        }
    }

    fn file(
        &mut self,
        inside: &Path,
        full: &Path,
        meta: &Metadata,
    ) -> std::result::Result<(), Problem> {
        if meta.len() > self.file_limit {
            return Err(Problem::Oversized {
                path: format!("/{}", inside.display()),
                size: meta.len(),
            });
        }
        if self.tar.get_ref().len() as u64 + meta.len() > MAX_LAYER_BYTES {
            return Err(unportable(
                inside,
                "past the size a layer is built in memory",
            ));
        }
        let mut contents = Vec::with_capacity(meta.len() as usize);
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(full)
            .and_then(|mut f| f.read_to_end(&mut contents))
            .map_err(|e| unportable(inside, &format!("unreadable ({e})")))?;
        // The container has stopped: a file that changed since `lstat` is not one to trust.
        if contents.len() as u64 != meta.len() {
            return Err(unportable(inside, "changing while it was read"));
        }
        let mut header = header_for(meta, tar::EntryType::Regular);
        header.set_size(meta.len());
        self.tar
            .append_data(&mut header, inside, contents.as_slice())
            .map_err(|e| unportable(inside, &e.to_string()))
    }

    fn header_only(
        &mut self,
        path: &Path,
        meta: &Metadata,
        kind: tar::EntryType,
    ) -> std::result::Result<(), Problem> {
        let mut header = header_for(meta, kind);
        self.tar
            .append_data(&mut header, path, std::io::empty())
            .map_err(|e| unportable(path, &e.to_string()))
    }

    fn empty(&mut self, path: &Path, meta: &Metadata) -> std::result::Result<(), Problem> {
        self.header_only(path, meta, tar::EntryType::Regular)
    }

    fn opaque(&mut self, dir: &Path, meta: &Metadata) -> std::result::Result<(), Problem> {
        if self.opaque_written.iter().any(|d| d == dir) {
            return Ok(());
        }
        self.opaque_written.push(dir.to_owned());
        self.empty(&dir.join(OPAQUE), meta)
    }

    /// Extended attributes the layer cannot carry, or that change what the upper file means.
    fn check_attributes(
        &self,
        inside: &Path,
        full: &Path,
        is_dir: bool,
    ) -> std::result::Result<(), Problem> {
        let names = xattr::list(full).map_err(|e| unportable(inside, &e.to_string()))?;
        for name in names {
            let name = name.to_string_lossy();
            let overlay = OVERLAY_NAMESPACES
                .iter()
                .find_map(|ns| name.strip_prefix(ns));
            match overlay {
                // Bookkeeping of the overlay itself, meaningless in a layer.
                Some("origin" | "impure" | "nlink" | "uuid") => {}
                Some("opaque") if is_dir => {}
                // Redirects, metacopy, and the owner or mode fuse-overlayfs records when it
                // cannot set them on the file itself (rootless): the file alone would lie.
                Some(_) => return Err(unportable(inside, &format!("marked {name} by overlay"))),
                // Capabilities and security labels, which the engine's commit carries.
                None if name.starts_with("security.") || name.starts_with("user.containers.") => {
                    return Err(unportable(inside, &format!("carrying {name}")))
                }
                // Other attributes, which the engine's commit drops too.
                None => {}
            }
        }
        Ok(())
    }
}

/// Where kernel overlay (as root, unprivileged) and fuse-overlayfs keep their attributes.
const OVERLAY_NAMESPACES: [&str; 3] = ["trusted.overlay.", "user.overlay.", "user.fuseoverlayfs."];

fn has_opaque_attribute(dir: &Path) -> bool {
    OVERLAY_NAMESPACES
        .iter()
        .any(|ns| matches!(xattr::get(dir, format!("{ns}opaque")), Ok(Some(v)) if v == b"y"))
}

fn header_for(meta: &Metadata, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(u64::from(meta.uid()));
    header.set_gid(u64::from(meta.gid()));
    header.set_mtime(meta.mtime().max(0) as u64);
    header.set_size(0);
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn upper(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("ds01-layer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn whiteout(path: &Path) {
        nix::sys::stat::mknod(
            path,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .expect("mknod of a whiteout (the unit tests run as root)");
    }

    fn entries(layer: &Layer) -> Vec<(String, tar::EntryType, u64, Vec<u8>)> {
        let mut archive = tar::Archive::new(layer.tar.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let (kind, uid) = (e.header().entry_type(), e.header().uid().unwrap());
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, kind, uid, data)
            })
            .collect()
    }

    fn built(dir: &Path) -> Layer {
        match from_upper(dir, crate::guard::DEFAULT_FILE_LIMIT).unwrap() {
            Built::Layer(layer) => layer,
            Built::Unportable(why) => panic!("unportable: {why}"),
        }
    }

    #[test]
    fn writes_files_links_and_owners_and_translates_overlay_markers() {
        let dir = upper("markers");
        let home = dir.0.join("home/h_baker");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join(".bashrc"), b"alias ll='ls -l'\n").unwrap();
        std::os::unix::fs::chown(home.join(".bashrc"), Some(1722830498), Some(1722830498)).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", home.join("link")).unwrap();
        // fuse-overlayfs's opaque directory: a marker file and a marker device.
        std::fs::write(home.join(OPAQUE), b"").unwrap();
        whiteout(&home.join(".wh..opq"));
        // overlay2's: an attribute.
        std::fs::create_dir_all(dir.0.join("opt/tool")).unwrap();
        xattr::set(dir.0.join("opt/tool"), "trusted.overlay.opaque", b"y").unwrap();
        // A deleted file, and a copied-up one with fuse-overlayfs's note of its origin.
        std::fs::create_dir_all(dir.0.join("etc")).unwrap();
        whiteout(&dir.0.join("etc/motd"));
        std::fs::write(dir.0.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
        xattr::set(
            dir.0.join("etc/passwd"),
            "user.fuseoverlayfs.origin",
            b"\x01",
        )
        .unwrap();

        let layer = built(&dir.0);
        let got: Vec<_> = entries(&layer)
            .into_iter()
            .map(|(p, k, uid, data)| (p, k, uid, String::from_utf8(data).unwrap()))
            .collect();
        let regular = tar::EntryType::Regular;
        let want = |p: &str, k, uid, d: &str| (p.to_owned(), k, uid, d.to_owned());
        assert_eq!(
            got,
            [
                want("etc", tar::EntryType::Directory, 0, ""),
                want("home", tar::EntryType::Directory, 0, ""),
                want("opt", tar::EntryType::Directory, 0, ""),
                want("opt/tool", tar::EntryType::Directory, 0, ""),
                want("opt/tool/.wh..wh..opq", regular, 0, ""),
                want("home/h_baker", tar::EntryType::Directory, 0, ""),
                want(
                    "home/h_baker/.bashrc",
                    regular,
                    1722830498,
                    "alias ll='ls -l'\n"
                ),
                want("home/h_baker/.wh..wh..opq", regular, 0, ""),
                want("home/h_baker/link", tar::EntryType::Symlink, 0, ""),
                want("etc/.wh.motd", regular, 0, ""),
                want("etc/passwd", regular, 0, "root:x:0:0::/root:/bin/sh\n"),
            ]
        );
        assert!(layer.diff_id.starts_with("sha256:") && layer.diff_id.len() == 71);
        // The same writes give the same layer.
        assert_eq!(built(&dir.0).diff_id, layer.diff_id);
    }

    #[test]
    fn an_oversized_file_is_refused_by_name() {
        let dir = upper("oversized");
        std::fs::create_dir_all(dir.0.join("var/log")).unwrap();
        let lastlog = std::fs::File::create(dir.0.join("var/log/lastlog")).unwrap();
        lastlog.set_len(500 << 20).unwrap();
        match from_upper(&dir.0, crate::guard::DEFAULT_FILE_LIMIT) {
            Err(EngineError::OversizedFile { path, size, .. }) => {
                assert_eq!((path.as_str(), size), ("/var/log/lastlog", 500 << 20))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn what_a_layer_cannot_say_is_left_to_the_engine() {
        type Make = fn(&Path);
        let cases: [(&str, Make); 5] = [
            ("fifo", |d| {
                nix::unistd::mkfifo(&d.join("pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap()
            }),
            ("device", |d| {
                nix::sys::stat::mknod(
                    &d.join("null"),
                    nix::sys::stat::SFlag::S_IFCHR,
                    nix::sys::stat::Mode::S_IRWXU,
                    nix::sys::stat::makedev(1, 3),
                )
                .unwrap()
            }),
            ("capability", |d| {
                std::fs::write(d.join("ping"), b"\x7fELF").unwrap();
                // cap_net_raw+ep, as `setcap` writes it (VFS_CAP_REVISION_2).
                let cap = [
                    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ];
                xattr::set(d.join("ping"), "security.capability", &cap).unwrap();
            }),
            ("override-stat", |d| {
                std::fs::write(d.join("passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
                xattr::set(
                    d.join("passwd"),
                    "user.fuseoverlayfs.override_stat",
                    b"0:0:0644",
                )
                .unwrap();
            }),
            ("metacopy", |d| {
                std::fs::write(d.join("big"), b"").unwrap();
                xattr::set(d.join("big"), "trusted.overlay.metacopy", b"").unwrap();
            }),
        ];
        for (name, make) in cases {
            let dir = upper(name);
            make(&dir.0);
            match from_upper(&dir.0, crate::guard::DEFAULT_FILE_LIMIT).unwrap() {
                Built::Unportable(why) => assert!(why.starts_with('/'), "{name}: {why}"),
                Built::Layer(_) => panic!("{name}: translated into a layer"),
            }
        }
    }

    #[test]
    fn modes_with_special_bits_survive() {
        let dir = upper("modes");
        std::fs::create_dir_all(dir.0.join("tmp")).unwrap();
        std::fs::set_permissions(dir.0.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        let layer = built(&dir.0);
        let mut archive = tar::Archive::new(layer.tar.as_slice());
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.header().mode().unwrap(), 0o1777);
    }
}
