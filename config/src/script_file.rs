//! A JS hook file as the configuration holds it: its path, code and version.

use std::path::PathBuf;

/// A JS hook file, read when the configuration is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The path as logs, metrics and errors name the script (made once: a hooked
    /// request names it several times).
    pub name: std::sync::Arc<str>,
    /// Its source text (an ES module).
    pub code: std::sync::Arc<str>,
    /// A hash of the code: a changed file is a new version.
    pub version: u64,
}

impl ScriptFile {
    /// Reads a script file.
    pub fn read(path: &std::path::Path) -> std::io::Result<ScriptFile> {
        let code = std::fs::read_to_string(path)?;
        Ok(ScriptFile::from_code(path, &code))
    }

    /// A script with this source, as if read from `path` (a deploy checks one before
    /// writing it there).
    pub fn from_code(path: &std::path::Path, code: &str) -> ScriptFile {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        code.hash(&mut h);
        ScriptFile {
            path: path.to_path_buf(),
            name: path.display().to_string().into(),
            code: code.into(),
            version: h.finish(),
        }
    }
}
