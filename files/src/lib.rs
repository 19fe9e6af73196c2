//! How Outpost writes files: every file it writes (ACME keys and certificates, pushed
//! bundles, deployed scripts, self-signed pairs) goes through [`write`], so a crash or
//! `kill -9` at any moment leaves either the old file or the new one, never a torn
//! one, and secrets are never readable by others, not even for an instant.
//!
//! It owns nothing else: no reading, no locking, no knowledge of what the files mean.
//! The work is done by `atomic-write-file` (a temporary file in the same directory —
//! unnamed, `O_TMPFILE`, on Linux, so a crash leaves no litter — `fsync`, `rename`,
//! `fsync` of the directory); this crate fixes the modes and sweeps the named
//! temporary files a kill can still leave (the crate links the unnamed file to
//! `.NAME.XXXXXX` just before its `rename`, and falls back to named files where
//! `O_TMPFILE` is unsupported), under a lock on the directory so no writer's
//! temporary file is swept while it is in use.

use std::io::Write;
use std::path::Path;

/// Who may read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Keys and secrets: `0600` always, whatever the file had before; its directory,
    /// when created, `0700`.
    Private,
    /// Anything else: an existing file keeps its mode (an operator's `chmod` stands);
    /// a new one gets `0644` less the umask.
    Keep,
}

/// Replaces `path` with `bytes` atomically and durably, creating missing directories.
pub fn write(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    use atomic_write_file::unix::OpenOptionsExt as _;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt as _};
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        if access == Access::Private {
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    let mut options = atomic_write_file::OpenOptions::new();
    match access {
        Access::Private => {
            options.preserve_mode(false).mode(0o600);
        }
        Access::Keep => {
            options.preserve_mode(true).mode(0o644);
        }
    }
    // Writers of one directory, in this process or another, take turns: the sweep
    // below must not remove a temporary file another writer is about to rename.
    let lock = std::fs::File::open(dir)?;
    lock.lock()?;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    // The crate syncs the file and its directory on commit.
    file.commit()?;
    if let Some(name) = path.file_name() {
        sweep(dir, name.as_encoded_bytes());
    }
    Ok(())
}

/// Removes what an earlier writer killed mid-write left of `name`'s temporary files.
/// Best effort: a file that cannot be listed or removed stays, and the write that
/// just succeeded is not failed for it.
fn sweep(dir: &Path, name: &[u8]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if is_temporary_of(entry.file_name().as_encoded_bytes(), name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `.NAME.XXXXXX` with six ASCII letters or digits: how `atomic-write-file` names them.
fn is_temporary_of(candidate: &[u8], name: &[u8]) -> bool {
    const SUFFIX: usize = 6;
    candidate.len() == name.len() + 2 + SUFFIX
        && candidate[0] == b'.'
        && &candidate[1..=name.len()] == name
        && candidate[name.len() + 1] == b'.'
        && candidate[name.len() + 2..]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn temporary_names_are_recognised_exactly() {
        assert!(is_temporary_of(b".key.pem.a1B2c3", b"key.pem"));
        assert!(!is_temporary_of(b".key.pem.a1B2c", b"key.pem"));
        assert!(!is_temporary_of(b".key.pem.a1B2c-", b"key.pem"));
        assert!(!is_temporary_of(b".other.a1B2c3", b"key.pem"));
        assert!(!is_temporary_of(b"key.pem", b"key.pem"));
    }

    #[test]
    fn a_write_sweeps_what_a_killed_writer_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cert.pem");
        std::fs::write(dir.path().join(".cert.pem.Xy12ab"), b"torn").expect("litter");
        std::fs::write(dir.path().join(".other.pem.Xy12ab"), b"kept").expect("other");
        write(&path, b"whole", Access::Keep).expect("write");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        assert_eq!(names, [".other.pem.Xy12ab", "cert.pem"]);
    }

    #[test]
    fn secrets_are_private_even_over_a_readable_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/key.pem");
        write(&path, b"one", Access::Private).expect("write");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write(&path, b"two", Access::Private).expect("rewrite");
        assert_eq!(mode(&path), 0o600, "a secret never keeps a readable mode");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
    }

    #[test]
    fn other_files_keep_the_mode_they_had() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rules.yaml");
        write(&path, b"one", Access::Keep).expect("write");
        assert_eq!(mode(&path) & 0o600, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write(&path, b"two", Access::Keep).expect("rewrite");
        assert_eq!(mode(&path), 0o640);
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
