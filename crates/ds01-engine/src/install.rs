//! Installing packages into a running container, and committing the result.

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use crate::guard;
use bollard::models::ContainerConfig;
use bollard::query_parameters::CommitContainerOptionsBuilder;
use ds01_api::ContainerName;
use ds01_dockerfile::Identity;
use ds01_dockerfile::{ImageRef, Tag};
use std::collections::HashMap;

impl Engine {
    /// container is then committed to `<image repository>:<tag>-YYYYmmdd-HHMM` (after the
    /// lastlog truncation and the sparse-file guard); the new reference is returned.
    pub async fn install_packages(
        &self,
        who: &Identity,
        name: &ContainerName,
        packages: &[ds01_dockerfile::PipRequirement],
        commit: bool,
    ) -> Result<Option<String>> {
        let mut command: Vec<String> = ["pip", "install", "--no-cache-dir", "--"]
            .map(String::from)
            .to_vec();
        command.extend(packages.iter().map(|p| p.to_string()));
        let out = self.exec(who, name, &command, true).await?;
        if out.status != 0 {
            return Err(EngineError::ExecFailed {
                command: command.join(" "),
                container: name.owned_by(who.uid()).into(),
                status: out.status,
            });
        }
        if !commit {
            return Ok(None);
        }
        let truncate = "for f in /var/log/lastlog /var/log/faillog; do [ -f \"$f\" ] && : > \"$f\"; done; true";
        let cmd = ["sh", "-c", truncate].map(String::from).to_vec();
        self.exec(who, name, &cmd, true).await?;
        self.commit_running(who, name).await.map(Some)
    }

    async fn commit_running(&self, who: &Identity, name: &ContainerName) -> Result<String> {
        let found = self.inspect_owned(&name.owned_by(who.uid())).await?;
        let id = found.id.clone().unwrap_or_default();
        let upper = crate::upper::upper_dir(&found).filter(|_| self.storage_access());
        guard::check_changed_files(self.docker(), &id, upper, guard::DEFAULT_FILE_LIMIT).await?;
        let image: ImageRef = found
            .config
            .as_ref()
            .and_then(|c| c.image.as_deref())
            .unwrap_or_default()
            .parse()
            .map_err(|e: ds01_dockerfile::ReferenceError| {
                EngineError::InvalidOption(e.to_string())
            })?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]-[hour][minute]"
            ))
            .unwrap_or_default();
        let base_tag = image.tag().unwrap_or("latest");
        let tag = Tag::parse(&format!("{base_tag}-{stamp}"))
            .map_err(|e| EngineError::InvalidOption(e.to_string()))?;
        let target = image.with_tag(&tag);
        // Container-only labels (ownership, GPU allocation) would go stale in an image; the
        // engine merges them in, so they are blanked explicitly.
        let image_labels = self
            .docker()
            .inspect_image(found.image.as_deref().unwrap_or_default())
            .await
            .context(|| format!("inspecting the image of {}", name.owned_by(who.uid())))?
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default();
        let mut commit_labels: HashMap<String, String> = found
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
            .into_keys()
            .filter(|k| !image_labels.contains_key(k))
            .map(|k| (k, String::new()))
            .collect();
        commit_labels.extend(image_labels);
        let options = CommitContainerOptionsBuilder::default()
            .container(&id)
            .repo(target.repository())
            .tag(tag.as_str())
            .comment("ds01: packages installed")
            .pause(true)
            .build();
        let config = ContainerConfig {
            labels: Some(commit_labels),
            ..Default::default()
        };
        self.docker()
            .commit_container(options, config)
            .await
            .context(|| format!("committing to {target}"))?;
        Ok(target.to_string())
    }
}
