//! Applying config bundles pushed through the cluster (`outpost push`): the files go
//! into this node's config directory and the node reloads; if the reload fails, the
//! previous files are put back, so the node keeps serving what it had.

use crate::snapshot::Live;
use outpost_cluster::{Bundle, BundleRejected, BundleSink};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Installs pushed bundles into the running node.
#[derive(Debug, Default)]
pub struct BundleApplier {
    live: OnceLock<Weak<Live>>,
    /// One bundle at a time.
    installing: Mutex<()>,
}

impl BundleApplier {
    /// Points the applier at the node (once it is built).
    pub fn bind(&self, live: &Arc<Live>) {
        let _ = self.live.set(Arc::downgrade(live));
    }
}

#[async_trait::async_trait]
impl BundleSink for BundleApplier {
    async fn apply(&self, bundle: &Bundle) -> Result<(), BundleRejected> {
        let live = self
            .live
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| BundleRejected("the node is still starting".into()))?;
        let bundle = bundle.clone();
        let applier = Arc::clone(&live.bundle_applier);
        tokio::task::spawn_blocking(move || applier.install(&live, &bundle))
            .await
            .map_err(|e| BundleRejected(format!("installer failed: {e}")))?
    }
}

/// A bundle path, made safe: relative, no `..`, not the main config file.
fn target(dir: &Path, main: &Path, path: &str) -> Result<PathBuf, BundleRejected> {
    let rel = Path::new(path);
    if path.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(BundleRejected(format!(
            "{path:?}: bundle paths must be relative to the config directory, without `..`"
        )));
    }
    let full = dir.join(rel);
    if full == main {
        return Err(BundleRejected(format!(
            "{path:?} is this node's main config file; bundles carry rules files and scripts"
        )));
    }
    Ok(full)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("outpost-push.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

impl BundleApplier {
    fn install(&self, live: &Live, bundle: &Bundle) -> Result<(), BundleRejected> {
        let _one = self.installing.lock().unwrap_or_else(|p| p.into_inner());
        let main = live.config_path();
        let dir = main
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut plan = Vec::new();
        for f in &bundle.files {
            plan.push((target(&dir, &main, &f.path)?, f.content.as_bytes()));
        }
        // What is there now, to put back if the new files do not load.
        let backups: Vec<(PathBuf, Option<Vec<u8>>)> = plan
            .iter()
            .map(|(p, _)| (p.clone(), std::fs::read(p).ok()))
            .collect();
        let restore = || {
            for (path, old) in &backups {
                let _ = match old {
                    Some(bytes) => write_atomically(path, bytes),
                    None => std::fs::remove_file(path),
                };
            }
        };
        for (path, bytes) in &plan {
            if let Err(e) = write_atomically(path, bytes) {
                restore();
                return Err(BundleRejected(format!("writing {}: {e}", path.display())));
            }
        }
        match live.reload() {
            Ok(generation) => {
                tracing::info!(version = %bundle.version, generation, message = %bundle.message, "pushed bundle applied");
                Ok(())
            }
            Err(e) => {
                restore();
                Err(BundleRejected(e.to_string()))
            }
        }
    }
}
