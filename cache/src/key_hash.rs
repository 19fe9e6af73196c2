//! The 128-bit name of a cache key (memory-tier slot, disk file, pass mark): SipHash-2-4
//! keyed by a secret that lives with the disk tier, so names survive a restart and no
//! client can pick two URLs whose names collide.
//!
//! Why not pingora-cache's own Blake2b: objects are found by this name alone, so it
//! must resist chosen collisions, but a keyed PRF does that as well as a hash that is
//! collision-resistant with no key, for a tenth of the instructions on a key of a URL's
//! size (Blake2b was ~15 % of a memory hit). No client ever sees a name (only the
//! node's logs and file names do), so without the secret there is nothing to search a
//! collision against.

use siphasher::sip128::{Hasher128, SipHasher24};
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The secret's file in the disk tier's directory.
const FILE: &str = "key-hash.secret";

/// Names cache keys (see the module's note). Cheap to clone.
#[derive(Clone)]
pub struct KeyHash {
    secret: [u8; 16],
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // (The secret is not for logs.)
        f.write_str("KeyHash")
    }
}

impl KeyHash {
    /// A fresh secret: for a memory-only cache, whose names die with the process.
    pub fn random() -> Self {
        KeyHash {
            secret: rand::random(),
        }
    }

    /// The name of a key whose text is `bytes`.
    pub fn of(&self, bytes: &[u8]) -> [u8; 16] {
        let mut h = self.start();
        h.write(bytes);
        h.finish()
    }

    /// A name made from a key's text given in pieces (the same bytes as one piece
    /// give the same name).
    pub fn start(&self) -> Naming {
        Naming(SipHasher24::new_with_key(&self.secret))
    }

    fn path(root: &Path) -> PathBuf {
        root.join(FILE)
    }

    /// The secret kept in the disk tier at `root`, if it has one.
    pub(crate) fn load(root: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(Self::path(root)) {
            Ok(bytes) => {
                let secret = <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{FILE} is not 16 bytes long"),
                    )
                })?;
                Ok(Some(KeyHash { secret }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes a secret and keeps it in the disk tier at `root` (written whole in the
    /// tier's `tmp/`, which opening the tier made, then renamed into place: a crash
    /// leaves either no secret or this one).
    pub(crate) fn create(root: &Path) -> std::io::Result<Self> {
        let made = Self::random();
        let tmp = root.join("tmp").join(FILE);
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(&made.secret)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, Self::path(root))?;
        Ok(made)
    }
}

/// A name being made: [`KeyHash::start`].
pub struct Naming(SipHasher24);

impl Naming {
    /// Feeds the next piece of the key's text.
    pub fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// The name.
    pub fn finish(&self) -> [u8; 16] {
        self.0.finish128().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_name_as_the_whole_does() {
        let k = KeyHash::random();
        let mut h = k.start();
        for piece in [&b"4:http"[..], b"", b"11:example.com", b"2:/a"] {
            h.write(piece);
        }
        assert_eq!(h.finish(), k.of(b"4:http11:example.com2:/a"));
        assert_ne!(
            k.of(b"4:http11:example.com2:/a"),
            k.of(b"4:http11:example.com2:/b")
        );
    }

    #[test]
    fn names_depend_on_the_secret_and_survive_a_reload() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        assert!(KeyHash::load(dir.path()).expect("load").is_none());
        let made = KeyHash::create(dir.path()).expect("create");
        let loaded = KeyHash::load(dir.path()).expect("load").expect("kept");
        assert_eq!(made.of(b"k"), loaded.of(b"k"));
        assert_ne!(made.of(b"k"), KeyHash::random().of(b"k"));
        std::fs::write(dir.path().join(FILE), b"short").expect("write");
        assert!(KeyHash::load(dir.path()).is_err());
    }
}
