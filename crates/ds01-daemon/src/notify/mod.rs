//! Warnings that reach people: besides the event and the user's open ds01 sessions
//! (`crate::reaper::warn_owner`), the user's login terminals ([`tty`]), a line appended to
//! `/workspace/.ds01-alerts` inside the container, and a post to the admin's
//! `[notify] webhook`.
//!
//! The alerts file is written by a command run in the container *as the user*, so it is
//! the user's file and no symlink the user plants there can make root write elsewhere.

use std::sync::Arc;
use std::time::Duration;

use ds01_engine::ContainerView;

use crate::Daemon;

mod tty;

/// The file in the container's workspace that warnings are appended to.
pub(crate) const ALERTS: &str = "/workspace/.ds01-alerts";

/// How long appending to the alerts file may take.
const APPEND_LIMIT: Duration = Duration::from_secs(10);

/// Delivers `text` about `c` to its owner's terminals, its alerts file and the webhook,
/// off the reaper's round.
pub(crate) fn deliver(daemon: &Arc<Daemon>, c: &ContainerView, login: &str, text: String) {
    let daemon = daemon.clone();
    let who = crate::reaper::owner_identity(c, login);
    let owned = c.owned();
    let uid = c.uid();
    tokio::spawn(async move {
        if let (Some(who), Some(owned)) = (who, owned) {
            // `$1` carries the text: nothing of it is read as shell.
            let command = [
                "sh".to_owned(),
                "-c".to_owned(),
                format!("printf '%s\\n' \"$1\" >> {ALERTS}"),
                "ds01".to_owned(),
                text.clone(),
            ];
            match daemon
                .engine
                .exec_within(&who, owned.name(), &command, APPEND_LIMIT)
                .await
            {
                Ok(Some(0)) => {}
                outcome => {
                    tracing::info!("{ALERTS} of {}: not written ({outcome:?})", owned.name())
                }
            }
        }
        reach(uid, daemon.config.notify_webhook.clone(), text).await;
    });
}

/// A note for `uid` about something with no engine container to write an alerts file in (a
/// `--wait` request granted, the container not made yet; a cluster container's Slurm job):
/// their terminals and the webhook.
pub(crate) fn to_user(daemon: &Daemon, uid: u32, text: String) {
    tokio::spawn(reach(uid, daemon.config.notify_webhook.clone(), text));
}

/// `uid`'s terminals, then the webhook as `{"text": ...}`.
async fn reach(uid: u32, hook: Option<crate::usage::Webhook>, text: String) {
    let terminal_text = text.clone();
    let _ = tokio::task::spawn_blocking(move || tty::write_to_terminals(uid, &terminal_text)).await;
    let Some(hook) = hook else { return };
    let body = serde_json::json!({ "text": text }).to_string();
    match crate::usage::webhook::post(&hook, body.as_bytes()).await {
        Ok(status) if (200..300).contains(&status) => {}
        Ok(status) => tracing::warn!("[notify] webhook answered {status}"),
        Err(e) => tracing::warn!("[notify] webhook: {e}"),
    }
}
