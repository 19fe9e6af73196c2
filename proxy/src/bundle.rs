//! Applying config bundles pushed through the cluster (`outpost push`): the files go
//! into this node's config directory and the node reloads; if the reload fails, the
//! previous files are put back, so the node keeps serving what it had.

use outpost_cluster::{Bundle, BundleRejected, BundleSink};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What a bundle is installed into: the running node's config files and reload.
pub trait Node: Send + Sync {
    /// The main config file (bundle files go beside it).
    fn config_path(&self) -> PathBuf;
    /// Reloads the config from its files; the new generation, or why it failed.
    fn reload(&self) -> Result<u64, String>;
}

/// Installs pushed bundles into the running node.
#[derive(Default)]
pub struct BundleApplier {
    node: OnceLock<Weak<dyn Node>>,
    /// One bundle at a time.
    installing: Arc<Mutex<()>>,
}

impl std::fmt::Debug for BundleApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleApplier").finish_non_exhaustive()
    }
}

impl BundleApplier {
    /// Points the applier at the node (once it is built).
    pub fn bind(&self, node: Weak<dyn Node>) {
        let _ = self.node.set(node);
    }
}

#[async_trait::async_trait]
impl BundleSink for BundleApplier {
    async fn apply(&self, bundle: &Bundle) -> Result<(), BundleRejected> {
        let node = self
            .node
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| BundleRejected("the node is still starting".into()))?;
        let bundle = bundle.clone();
        let installing = self.installing.clone();
        tokio::task::spawn_blocking(move || install(&installing, &*node, &bundle))
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

/// Writes the bundle's files beside the main config and reloads; puts the previous
/// files back when the reload fails.
fn install(installing: &Mutex<()>, node: &dyn Node, bundle: &Bundle) -> Result<(), BundleRejected> {
    let _one = installing.lock().unwrap_or_else(|p| p.into_inner());
    let main = node.config_path();
    let dir = main
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut plan = Vec::new();
    for f in &bundle.files {
        let access = if f.secret {
            outpost_files::Access::Private
        } else {
            outpost_files::Access::Keep
        };
        plan.push((target(&dir, &main, &f.path)?, f.content.as_bytes(), access));
    }
    // What is there now, to put back if the new files do not load.
    let backups: Vec<(PathBuf, Option<Vec<u8>>, outpost_files::Access)> = plan
        .iter()
        .map(|(p, _, access)| (p.clone(), std::fs::read(p).ok(), *access))
        .collect();
    let restore = || {
        for (path, old, access) in &backups {
            let _ = match old {
                Some(bytes) => outpost_files::write(path, bytes, *access),
                None => std::fs::remove_file(path),
            };
        }
    };
    for (path, bytes, access) in &plan {
        if let Err(e) = outpost_files::write(path, bytes, *access) {
            restore();
            return Err(BundleRejected(format!("writing {}: {e}", path.display())));
        }
    }
    match node.reload() {
        Ok(generation) => {
            tracing::info!(version = %bundle.version, generation, message = %bundle.message, "pushed bundle applied");
            Ok(())
        }
        Err(e) => {
            restore();
            Err(BundleRejected(e))
        }
    }
}
