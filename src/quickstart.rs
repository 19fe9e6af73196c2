//! The built-in quickstart: `outpost run` without `--config` serves `examples/` as it
//! was compiled into the binary (static origin, page rules, a hook, an HTML rewrite).

use anyhow::Context;
use std::path::{Path, PathBuf};

/// `examples/`, relative paths as `quickstart.yaml` names them.
const FILES: &[(&str, &[u8])] = &[
    (
        "quickstart.yaml",
        include_bytes!("../examples/quickstart.yaml"),
    ),
    (
        "rules/quickstart.yaml",
        include_bytes!("../examples/rules/quickstart.yaml"),
    ),
    ("hooks/edge.js", include_bytes!("../examples/hooks/edge.js")),
    (
        "public/index.html",
        include_bytes!("../examples/public/index.html"),
    ),
    (
        "public/hello.txt",
        include_bytes!("../examples/public/hello.txt"),
    ),
    (
        "public/assets/style.css",
        include_bytes!("../examples/public/assets/style.css"),
    ),
];

/// Where the quickstart is unpacked: the user's cache directory, so that a user can
/// find, copy and edit it (it is rewritten on every start without `--config`).
pub fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME")
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache").into_os_string()))
    {
        Some(cache) => Path::new(&cache).join("outpost").join("quickstart"),
        None => std::env::temp_dir().join("outpost-quickstart"),
    }
}

/// Writes the quickstart's files under `dir` and returns its config's path.
pub fn unpack(dir: &Path) -> anyhow::Result<PathBuf> {
    for (rel, bytes) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir.join("quickstart.yaml"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_unpacked_quickstart_is_a_valid_config() {
        let dir = std::env::temp_dir().join(format!("outpost-qs-test-{}", std::process::id()));
        let config = super::unpack(&dir).expect("unpack");
        let cfg = outpost_config::load(&config).expect("the embedded quickstart loads");
        assert_eq!(cfg.sites.len(), 1);
        assert!(dir.join("public/index.html").is_file());
        std::fs::remove_dir_all(&dir).ok();
    }
}
