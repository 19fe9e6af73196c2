//! The disk tier: one file per cached object, crash-safe, bounded in bytes.
//!
//! File format (little endian):
//! `"OPC2" | meta_internal_len u32 | meta_header_len u32 | body_len u64 | body_crc32 u32 |
//!  head_crc32 u32 | info_len u32 | meta_internal | meta_header | info | body`
//! where `head_crc32` covers every other prefix field and the three blobs, and `info`
//! is the catalog record (key text and tags, see `catalog`).
//!
//! Writes go to `tmp/` and are renamed into `xx/<key>.obj` after `fsync` of the file,
//! so a reader sees either the old object or the new one, never a torn one (an open
//! file keeps its inode across the rename). The directory itself is not fsync'd: after
//! a power loss an object may be missing, which is a miss, never a corrupt hit. Every
//! read checks the magic, the lengths against the file size and the head CRC; bodies
//! are checked against their CRC as they are read. Anything that fails is deleted and
//! treated as a miss.
//!
//! The index of what is on disk is a moka cache weighed in bytes (TinyLFU admission,
//! eviction deletes the file). It is rebuilt at start from directory listings alone
//! (file names and sizes), without reading the files.

use crate::janitor::{Chore, Janitor};
use moka::notification::RemovalCause;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Cache keys as stored: pingora's 128-bit combined hash of the key's name
/// ([`crate::KeyHash`]).
pub(crate) type Key = [u8; 16];
/// How maps keyed by [`Key`] hash it: keys are keyed hashes already, so a fast
/// hasher with a per-process seed does (SipHash was most of a lookup).
pub(crate) type KeyHasher = foldhash::fast::RandomState;

const MAGIC: &[u8; 4] = b"OPC2";
const PREFIX: usize = 32;
/// A sanity bound on meta sizes so a corrupt length cannot make us allocate wildly.
const MAX_META: u32 = 1 << 20;

/// The disk tier.
pub(crate) struct DiskTier {
    root: PathBuf,
    index: moka::sync::Cache<Key, u64, KeyHasher>,
    /// Deletes files on its own thread (purges and evictions must not block requests).
    janitor: Janitor,
    next_tmp: AtomicU64,
    pub(crate) evictions: Arc<AtomicU64>,
}

/// A validated object opened for reading.
pub(crate) struct DiskEntry {
    pub file: tokio::fs::File,
    pub meta_internal: Vec<u8>,
    pub meta_header: Vec<u8>,
    pub info: Vec<u8>,
    pub body_len: u64,
    pub body_crc: u32,
    pub body_offset: u64,
}

fn hex_key(key: &Key) -> String {
    hex::encode(key)
}

impl DiskTier {
    /// Opens (creating if needed) the tier at `root`, bounded to `capacity` bytes, and
    /// rebuilds its index from the files present (or, without `keep`, deletes them:
    /// they were named under another scheme).
    pub(crate) fn open(
        root: &Path,
        capacity: u64,
        keep: bool,
        on_entry: &mut dyn FnMut(Key, Vec<u8>),
        on_evict: Box<dyn Fn(&Key) + Send + Sync>,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("tmp"))?;
        // Leftover temp files are writes that never committed.
        for e in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(e?.path());
        }
        let evictions = Arc::new(AtomicU64::new(0));
        let ev = evictions.clone();
        let files = root.to_path_buf();
        let (janitor, chores) = Janitor::channel(move |k| object_path(&files, k));
        let evicted = janitor.clone();
        let index = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .weigher(|_k: &Key, w: &u64| (*w).min(u32::MAX as u64) as u32)
            .eviction_listener(move |k: Arc<Key>, _w: u64, cause: RemovalCause| {
                // Replaced: the new file already took the name. Explicit: purge deleted it.
                if cause.was_evicted() {
                    ev.fetch_add(1, Ordering::Relaxed);
                    evicted.delete(Chore::Object(*k));
                    on_evict(&k);
                }
            })
            .build_with_hasher(KeyHasher::default());
        janitor.run(chores, index.clone())?;
        let tier = DiskTier {
            root: root.to_path_buf(),
            index,
            janitor,
            next_tmp: AtomicU64::new(0),
            evictions,
        };
        tier.rebuild_index(keep, on_entry)?;
        Ok(tier)
    }

    /// Indexes every object file and hands each one's catalog record to `on_entry`.
    /// Only the head of each file is read (the body is checked when it is served).
    fn rebuild_index(
        &self,
        keep: bool,
        on_entry: &mut dyn FnMut(Key, Vec<u8>),
    ) -> std::io::Result<()> {
        let mut dropped = 0u64;
        for shard in std::fs::read_dir(&self.root)? {
            let shard = shard?;
            let name = shard.file_name();
            if name == "tmp" || !shard.file_type()?.is_dir() {
                continue;
            }
            for obj in std::fs::read_dir(shard.path())? {
                let obj = obj?;
                let fname = obj.file_name();
                let Some(stem) = fname.to_str().and_then(|n| n.strip_suffix(".obj")) else {
                    continue;
                };
                let mut key = [0u8; 16];
                if hex::decode_to_slice(stem, &mut key).is_err() {
                    continue;
                }
                if !keep {
                    std::fs::remove_file(obj.path())?;
                    dropped += 1;
                    continue;
                }
                let size = obj.metadata()?.len();
                match read_info_sync(&obj.path(), size) {
                    Ok(info) => {
                        self.index.insert(key, size);
                        on_entry(key, info);
                    }
                    Err(why) => {
                        tracing::warn!(file = %obj.path().display(), %why, "removing unreadable cache object at start");
                        let _ = std::fs::remove_file(obj.path());
                    }
                }
            }
        }
        if dropped > 0 {
            tracing::warn!(
                dir = %self.root.display(),
                dropped,
                "disk cache written by an earlier version (other key names): its objects were dropped"
            );
        }
        self.index.run_pending_tasks();
        Ok(())
    }

    /// Objects and bytes in the index.
    pub(crate) fn usage(&self) -> (u64, u64) {
        self.index.run_pending_tasks();
        (self.index.entry_count(), self.index.weighted_size())
    }

    fn path(&self, key: &Key) -> PathBuf {
        object_path(&self.root, key)
    }

    /// Drops an object from the index at once and from the disk soon (the janitor's
    /// thread deletes the file).
    pub(crate) fn remove(&self, key: &Key) -> bool {
        let present = self.index.contains_key(key);
        self.index.invalidate(key);
        self.janitor.delete(Chore::Object(*key));
        present
    }

    /// Every key in the index.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.index.iter().map(|(k, _)| *k).collect()
    }

    /// Opens and validates an object; a missing or damaged one is a `None` (and is removed).
    pub(crate) async fn open_entry(&self, key: &Key) -> Option<DiskEntry> {
        if !self.index.contains_key(key) {
            return None;
        }
        match read_entry(&self.path(key)).await {
            Ok(entry) => Some(entry),
            Err(why) => {
                tracing::warn!(key = %hex_key(key), %why, "dropping damaged or missing disk cache object");
                self.remove(key);
                None
            }
        }
    }

    /// Starts writing a new object; nothing is visible until [`DiskWriter::commit`].
    pub(crate) async fn begin(
        &self,
        meta_internal: &[u8],
        meta_header: &[u8],
        info: &[u8],
    ) -> std::io::Result<DiskWriter> {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()));
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(&[0u8; PREFIX]).await?;
        file.write_all(meta_internal).await?;
        file.write_all(meta_header).await?;
        file.write_all(info).await?;
        Ok(DiskWriter {
            tmp: Some(tmp),
            janitor: self.janitor.clone(),
            file,
            crc: crc32fast::Hasher::new(),
            len: 0,
            meta_internal: meta_internal.to_vec(),
            meta_header: meta_header.to_vec(),
            info: info.to_vec(),
        })
    }

    /// Rewrites an object's metadata, keeping its body (used after a 304 revalidation).
    pub(crate) async fn update_meta(
        &self,
        key: &Key,
        internal: &[u8],
        header: &[u8],
    ) -> std::io::Result<bool> {
        let Some(mut entry) = self.open_entry(key).await else {
            return Ok(false);
        };
        let mut w = self.begin(internal, header, &entry.info).await?;
        entry
            .file
            .seek(std::io::SeekFrom::Start(entry.body_offset))
            .await?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = entry.body_len;
        while left > 0 {
            let chunk = left.min(buf.len() as u64) as usize;
            let n = entry.file.read(&mut buf[..chunk]).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "body shorter than recorded",
                ));
            }
            w.write(&buf[..n]).await?;
            left -= n as u64;
        }
        if w.crc.clone().finalize() != entry.body_crc {
            self.remove(key);
            return Ok(false);
        }
        w.commit(self, key).await?;
        Ok(true)
    }
}

/// The fixed-size prefix of an object file, parsed and checked against the file size.
struct Head {
    prefix: [u8; PREFIX],
    internal_len: usize,
    header_len: usize,
    info_len: usize,
    body_len: u64,
    body_crc: u32,
    head_crc: u32,
}

impl Head {
    fn parse(prefix: [u8; PREFIX], file_size: u64) -> std::io::Result<Head> {
        if &prefix[..4] != MAGIC {
            return Err(invalid("bad magic"));
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([prefix[i], prefix[i + 1], prefix[i + 2], prefix[i + 3]]);
        let (il, hl, nl) = (u32_at(4), u32_at(8), u32_at(28));
        if il > MAX_META || hl > MAX_META || nl > MAX_META {
            return Err(invalid("meta length out of range"));
        }
        let mut bl = [0u8; 8];
        bl.copy_from_slice(&prefix[12..20]);
        let body_len = u64::from_le_bytes(bl);
        let head = Head {
            prefix,
            internal_len: il as usize,
            header_len: hl as usize,
            info_len: nl as usize,
            body_len,
            body_crc: u32_at(20),
            head_crc: u32_at(24),
        };
        if head.body_offset().checked_add(body_len) != Some(file_size) {
            return Err(invalid(
                "file size does not match recorded lengths (torn write?)",
            ));
        }
        Ok(head)
    }

    fn blobs_len(&self) -> usize {
        self.internal_len + self.header_len + self.info_len
    }

    fn body_offset(&self) -> u64 {
        PREFIX as u64 + self.blobs_len() as u64
    }

    /// Splits the blobs that follow the prefix into (internal, header, info) after
    /// checking them against the head checksum.
    fn check<'a>(&self, blobs: &'a [u8]) -> std::io::Result<(&'a [u8], &'a [u8], &'a [u8])> {
        let (internal, rest) = blobs.split_at(self.internal_len);
        let (header, info) = rest.split_at(self.header_len);
        if head_crc(&self.prefix, internal, header, info) != self.head_crc {
            return Err(invalid("head checksum mismatch"));
        }
        Ok((internal, header, info))
    }
}

/// Reads and checks just the head of an object, returning its catalog record.
fn read_info_sync(path: &Path, size: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut prefix = [0u8; PREFIX];
    f.read_exact(&mut prefix)?;
    let head = Head::parse(prefix, size)?;
    let mut blobs = vec![0u8; head.blobs_len()];
    f.read_exact(&mut blobs)?;
    let (_, _, info) = head.check(&blobs)?;
    Ok(info.to_vec())
}

fn object_path(root: &Path, key: &Key) -> PathBuf {
    let hex = hex::encode(key);
    root.join(&hex[..2]).join(format!("{hex}.obj"))
}

fn invalid(why: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string())
}

fn head_crc(prefix: &[u8], internal: &[u8], header: &[u8], info: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&prefix[..24]);
    h.update(&prefix[28..32]);
    h.update(internal);
    h.update(header);
    h.update(info);
    h.finalize()
}

async fn read_entry(path: &Path) -> std::io::Result<DiskEntry> {
    let mut file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    let mut prefix = [0u8; PREFIX];
    file.read_exact(&mut prefix).await?;
    let head = Head::parse(prefix, size)?;
    let mut blobs = vec![0u8; head.blobs_len()];
    file.read_exact(&mut blobs).await?;
    let (internal, header, info) = head.check(&blobs)?;
    Ok(DiskEntry {
        meta_internal: internal.to_vec(),
        meta_header: header.to_vec(),
        info: info.to_vec(),
        body_len: head.body_len,
        body_crc: head.body_crc,
        body_offset: head.body_offset(),
        file,
    })
}

/// An object being written to a temp file.
pub(crate) struct DiskWriter {
    tmp: Option<PathBuf>,
    janitor: Janitor,
    file: tokio::fs::File,
    crc: crc32fast::Hasher,
    len: u64,
    meta_internal: Vec<u8>,
    meta_header: Vec<u8>,
    info: Vec<u8>,
}

impl DiskWriter {
    pub(crate) async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.crc.update(data);
        self.len += data.len() as u64;
        self.file.write_all(data).await
    }

    /// Seals the header, fsyncs, and atomically publishes the object.
    pub(crate) async fn commit(mut self, tier: &DiskTier, key: &Key) -> std::io::Result<u64> {
        let mut prefix = [0u8; PREFIX];
        prefix[..4].copy_from_slice(MAGIC);
        prefix[4..8].copy_from_slice(&(self.meta_internal.len() as u32).to_le_bytes());
        prefix[8..12].copy_from_slice(&(self.meta_header.len() as u32).to_le_bytes());
        prefix[12..20].copy_from_slice(&self.len.to_le_bytes());
        prefix[20..24].copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
        prefix[28..32].copy_from_slice(&(self.info.len() as u32).to_le_bytes());
        let hc = head_crc(&prefix, &self.meta_internal, &self.meta_header, &self.info);
        prefix[24..28].copy_from_slice(&hc.to_le_bytes());
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        self.file.write_all(&prefix).await?;
        self.file.flush().await?;
        self.file.sync_data().await?;
        let dest = tier.path(key);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = self
            .tmp
            .take()
            .ok_or_else(|| invalid("writer already committed"))?;
        tokio::fs::rename(&tmp, &dest).await?;
        let size = PREFIX as u64
            + self.meta_internal.len() as u64
            + self.meta_header.len() as u64
            + self.len;
        tier.index.insert(*key, size);
        Ok(size)
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        // An abandoned write (origin error, client gone) leaves nothing behind.
        if let Some(tmp) = self.tmp.take() {
            self.janitor.delete(Chore::Temporary(tmp));
        }
    }
}

/// Fuzzing the object file format: whatever is on disk (torn writes, bit rot, a
/// hostile file), reading it is an error or a checked entry, never a panic; and the
/// metadata inside a file whose checksum matches is still untrusted input.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn read(bytes: &[u8]) -> std::io::Result<DiskEntry> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.obj");
        std::fs::write(&path, bytes).expect("write");
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(read_entry(&path))
    }

    /// A file whose prefix and head checksum are right, with arbitrary blobs.
    fn well_formed(internal: &[u8], header: &[u8], info: &[u8], body: &[u8]) -> Vec<u8> {
        let mut prefix = [0u8; PREFIX];
        prefix[..4].copy_from_slice(MAGIC);
        prefix[4..8].copy_from_slice(&(internal.len() as u32).to_le_bytes());
        prefix[8..12].copy_from_slice(&(header.len() as u32).to_le_bytes());
        prefix[12..20].copy_from_slice(&(body.len() as u64).to_le_bytes());
        prefix[28..32].copy_from_slice(&(info.len() as u32).to_le_bytes());
        let crc = head_crc(&prefix, internal, header, info);
        prefix[24..28].copy_from_slice(&crc.to_le_bytes());
        [&prefix[..], internal, header, info, body].concat()
    }

    proptest! {
        #[test]
        fn arbitrary_files_are_refused_or_read(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), magic in any::<bool>()) {
            if magic && bytes.len() >= 4 {
                bytes[..4].copy_from_slice(MAGIC);
            }
            if let Ok(entry) = read(&bytes) {
                let _ = pingora_cache::CacheMeta::deserialize(&entry.meta_internal, &entry.meta_header);
            }
        }

        #[test]
        fn checksummed_garbage_metadata_is_an_error_not_a_panic(
            internal in proptest::collection::vec(any::<u8>(), 0..256),
            header in proptest::collection::vec(any::<u8>(), 0..256),
            info in proptest::collection::vec(any::<u8>(), 0..64),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let entry = read(&well_formed(&internal, &header, &info, &body)).expect("well formed");
            prop_assert_eq!(entry.body_len, body.len() as u64);
            let _ = pingora_cache::CacheMeta::deserialize(&entry.meta_internal, &entry.meta_header);
            let _ = crate::catalog::ObjectInfo::decode(&entry.info);
        }

        #[test]
        fn truncating_a_good_file_anywhere_is_detected(cut in 0usize..200) {
            let good = well_formed(b"internal", b"header", b"info", b"body");
            let cut = cut.min(good.len() - 1);
            prop_assert!(read(&good[..cut]).is_err());
        }
    }
}

#[cfg(test)]
mod janitor_tests {
    use super::*;

    async fn store(tier: &DiskTier, key: &Key, body: &[u8]) {
        let mut w = tier.begin(b"i", b"h", b"info").await.expect("begin");
        w.write(body).await.expect("write");
        w.commit(tier, key).await.expect("commit");
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn purged_files_are_deleted_by_the_janitor_and_recached_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tier = DiskTier::open(dir.path(), 1 << 30, true, &mut |_, _| {}, Box::new(|_| {}))
            .expect("open");
        let keys: Vec<Key> = (0..200u8).map(|i| [i; 16]).collect();
        for k in &keys {
            store(&tier, k, b"body").await;
        }
        for k in &keys {
            assert!(tier.remove(k));
            assert!(!tier.index.contains_key(k), "gone from the index at once");
        }
        // Cached again right after its purge: the janitor must not delete the new file.
        store(&tier, &keys[0], b"again").await;
        wait_until("purged files deleted", || {
            keys[1..].iter().all(|k| !tier.path(k).exists())
        });
        assert!(
            tier.path(&keys[0]).exists(),
            "the re-cached object's file survives"
        );
        assert!(tier.open_entry(&keys[0]).await.is_some());
        // An abandoned write leaves nothing in tmp/.
        drop(tier.begin(b"i", b"h", b"info").await.expect("begin"));
        wait_until("abandoned write deleted", || {
            std::fs::read_dir(dir.path().join("tmp")).map_or(0, |d| d.count()) == 0
        });
    }
}
