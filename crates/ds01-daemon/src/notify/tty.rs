//! Writing to a user's login terminals, as `write(1)` does: every pseudo-terminal under
//! `/dev/pts` that the user's UID owns. ds01d is root, so each one is checked before the
//! open and again on the open file itself (a pseudo-terminal device owned by the UID); the
//! open follows no symlink, takes no controlling terminal and does not block.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Where the pseudo-terminals are.
const PTS: &str = "/dev/pts";

/// Writes `text` on its own lines to each terminal of `uid`; how many were written.
pub(crate) fn write_to_terminals(uid: u32, text: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(PTS) else {
        return 0;
    };
    // Raw terminals need the carriage returns; control characters of the text are shown,
    // not obeyed.
    let shown: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let message = format!("\r\n{shown}\r\n");
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| write_one(&e.path(), uid, message.as_bytes()))
        .count()
}

/// Unix98 pseudo-terminal slaves have these major device numbers.
fn is_pts(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && (136..=143).contains(&nix::sys::stat::major(meta.rdev()))
}

fn write_one(path: &Path, uid: u32, message: &[u8]) -> bool {
    // Checked before the open (so another user's terminal is not even opened) and again
    // on the open file (so nothing swapped in between is written to).
    if !std::fs::symlink_metadata(path).is_ok_and(|m| is_pts(&m) && m.uid() == uid) {
        return false;
    }
    let Ok(mut file) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    is_pts(&meta) && meta.uid() == uid && file.write_all(message).is_ok()
}
