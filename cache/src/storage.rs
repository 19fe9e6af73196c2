//! [`TieredStorage`]: the pingora-cache `Storage` over the memory and disk tiers.

use crate::catalog::{Catalog, ObjectInfo};
use crate::disk::{DiskEntry, DiskTier, DiskWriter, Key, KeyHasher};
use crate::error::{CacheError, Result};
use crate::key_hash::KeyHash;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_cache::key::{CacheHashKey, CacheKey};
use pingora_cache::storage::{
    HandleHit, HandleMiss, HitHandler, MissFinishType, MissHandler, PurgeOutcome, PurgeTarget,
    PurgeType,
};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{CacheEntryKey, CacheMeta, Storage};
use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

type PResult<T> = pingora_error::Result<T>;

/// Sizes and places of the tiers.
#[derive(Debug, Clone)]
pub struct TieredStorageConfig {
    /// Memory tier capacity in bytes.
    pub memory_bytes: u64,
    /// Objects larger than this skip the memory tier (and are streamed from disk).
    pub max_memory_object: u64,
    /// Disk tier directory and capacity in bytes, if any.
    pub disk: Option<(PathBuf, u64)>,
}

/// Counters and sizes, for stats endpoints and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub memory_hits: u64,
    /// Lookups answered from disk.
    pub disk_hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Objects admitted.
    pub stores: u64,
    /// Objects evicted from memory for space.
    pub memory_evictions: u64,
    /// Objects evicted from disk for space.
    pub disk_evictions: u64,
    /// Objects and bytes in memory.
    pub memory_entries: u64,
    /// Bytes in memory.
    pub memory_bytes: u64,
    /// Objects on disk.
    pub disk_entries: u64,
    /// Bytes on disk.
    pub disk_bytes: u64,
    /// Disk-tier writes that failed (disk full, I/O error); those objects were kept
    /// in memory only.
    pub disk_write_errors: u64,
}

/// A memory-tier object, its meta as pingora serializes it. (Keeping the head parsed
/// instead made small-object hits 16% faster but cost ~6.4 KB per entry, measured with
/// `benches/load/cost-curve.sh`: not a trade worth making.)
///
/// `prepared` is a slot for the caller's own ready-to-send form of the head (the
/// proxy's memory-hit fast path fills it on the object's first fast hit), so that
/// later hits neither decompress nor parse the stored head. It lives and dies with
/// this version of the object: a revalidation or purge replaces the entry.
pub struct MemEntry {
    // pingora's internal meta, then its serialized head, in one exact allocation: the
    // serializer's `Vec`s carry spare capacity (the zstd bound for the head) that
    // would be held for the object's life and not weighed, and every entry is one
    // allocation fewer.
    meta: Box<[u8]>,
    /// Where the head starts in `meta`.
    split: u32,
    body: Bytes,
    prepared: std::sync::OnceLock<Option<Box<dyn Any + Send + Sync>>>,
}

impl MemEntry {
    fn new(meta_internal: &[u8], meta_header: &[u8], body: Bytes) -> Self {
        let mut meta = Vec::with_capacity(meta_internal.len() + meta_header.len());
        meta.extend_from_slice(meta_internal);
        meta.extend_from_slice(meta_header);
        MemEntry {
            meta: meta.into_boxed_slice(),
            // (pingora's internal meta is a few dozen bytes.)
            split: u32::try_from(meta_internal.len()).unwrap_or(u32::MAX),
            body,
            prepared: std::sync::OnceLock::new(),
        }
    }

    fn meta_parts(&self) -> (&[u8], &[u8]) {
        self.meta
            .split_at_checked(self.split as usize)
            .unwrap_or((&[], &self.meta))
    }

    /// The stored meta (decompresses and parses the head: not for every hit).
    pub fn meta(&self) -> PResult<CacheMeta> {
        let (internal, header) = self.meta_parts();
        CacheMeta::deserialize(internal, header)
    }

    /// The whole body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The caller's prepared form of this object, made by `make` the first time
    /// (`None` from `make`, or a `T` other than the one stored, gives `None`).
    pub fn prepared<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce(&Self) -> Option<T>,
    ) -> Option<&T> {
        self.prepared
            .get_or_init(|| make(self).map(|t| Box::new(t) as Box<dyn Any + Send + Sync>))
            .as_ref()
            .and_then(|b| b.downcast_ref::<T>())
    }
}

/// Memory tier (moka, TinyLFU, weighed in bytes) in front of an optional disk tier.
pub struct TieredStorage {
    memory: moka::sync::Cache<Key, Arc<MemEntry>, KeyHasher>,
    disk: Option<DiskTier>,
    /// Names keys: whoever makes a `CacheKey` for this storage sets its primary hash
    /// with this (`CacheKey::set_primary_bin_override`).
    key_hash: KeyHash,
    max_memory_object: u64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    memory_evictions: Arc<AtomicU64>,
    catalog: Catalog,
    disk_errors: DiskErrors,
    /// The `Vary` variants stored under each primary key (their combined keys), so
    /// invalidating a URL removes every variant, not only the primary slot. Bounded:
    /// the primaries used least lose their lists first (their variants then outlive an
    /// invalidation until they expire, as before the index).
    variants: moka::sync::Cache<Key, Arc<std::sync::Mutex<Vec<Key>>>, KeyHasher>,
}

/// Primary keys whose variants [`TieredStorage`] remembers, and variants per primary.
const VARIANT_PRIMARIES: u64 = 100_000;
const VARIANTS_PER_PRIMARY: usize = 64;

/// Failed disk-tier writes: counted, and logged at most every 10 s (a full disk
/// under load fails every miss).
#[derive(Default)]
struct DiskErrors {
    count: AtomicU64,
    /// `count` when the last warning went out, and when (seconds since `epoch`).
    logged_count: AtomicU64,
    logged_at: AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

impl DiskErrors {
    fn record(&self, stage: &'static str, error: &std::io::Error) {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self
            .epoch
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs()
            + 1;
        let last = self.logged_at.load(Ordering::Relaxed);
        if (last == 0 || now >= last + 10)
            && self
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let since = count - self.logged_count.swap(count, Ordering::Relaxed);
            tracing::warn!(
                stage,
                %error,
                failed_writes = since,
                "disk cache write failed; objects are kept in memory only until writes succeed again"
            );
        }
    }
}

impl std::fmt::Debug for TieredStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredStorage")
            .field("stats", &self.stats())
            .finish()
    }
}

impl TieredStorage {
    /// How keys for this storage are named (see [`KeyHash`]).
    pub fn key_hash(&self) -> &KeyHash {
        &self.key_hash
    }

    /// Builds the tiers; with a disk tier, its index is rebuilt from the directory.
    pub fn new(config: &TieredStorageConfig) -> Result<Self> {
        let memory_evictions = Arc::new(AtomicU64::new(0));
        let ev = memory_evictions.clone();
        let catalog = Catalog::default();
        let memory_only = config.disk.is_none();
        let mem_catalog = catalog.clone();
        let memory = moka::sync::Cache::builder()
            .max_capacity(config.memory_bytes)
            .weigher(|_k: &Key, v: &Arc<MemEntry>| {
                let w = v.body.len() + v.meta.len() + 128;
                w.min(u32::MAX as usize) as u32
            })
            .eviction_listener(
                move |k: Arc<Key>, _v, cause: moka::notification::RemovalCause| {
                    if cause.was_evicted() {
                        ev.fetch_add(1, Ordering::Relaxed);
                        // With a disk tier the object lives on there; without, it is gone.
                        if memory_only {
                            mem_catalog.remove(&k);
                        }
                    }
                },
            )
            .build_with_hasher(KeyHasher::default());
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| CacheError::Io { path, source }
        };
        let (disk, key_hash) = match &config.disk {
            Some((path, size)) => {
                // (A missing directory has no secret; `DiskTier::open` makes it.)
                let kept = KeyHash::load(path).map_err(io(path))?;
                // A disk tier without a secret was filled under other names (pingora's
                // Blake2b, before keyed names) or is new: nothing would ever find what
                // it holds, so that goes, before a secret makes the names stick.
                let rebuild_catalog = catalog.clone();
                let (evict_catalog, evict_memory) = (catalog.clone(), memory.clone());
                let tier = DiskTier::open(
                    path,
                    *size,
                    kept.is_some(),
                    &mut |k, info| rebuild_catalog.insert(k, ObjectInfo::decode(&info)),
                    // Leaving the disk tier is leaving the cache: a memory copy must not
                    // outlive its catalog record, or a purge by tag could miss it.
                    Box::new(move |k: &Key| {
                        evict_memory.invalidate(k);
                        evict_catalog.remove(k);
                    }),
                )
                .map_err(io(path))?;
                let key_hash = match kept {
                    Some(k) => k,
                    None => KeyHash::create(path).map_err(io(path))?,
                };
                (Some(tier), key_hash)
            }
            None => (None, KeyHash::random()),
        };
        Ok(TieredStorage {
            memory,
            disk,
            key_hash,
            max_memory_object: config.max_memory_object,
            memory_hits: AtomicU64::new(0),
            disk_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stores: AtomicU64::new(0),
            disk_errors: DiskErrors::default(),
            memory_evictions,
            catalog,
            variants: moka::sync::Cache::builder()
                .max_capacity(VARIANT_PRIMARIES)
                .build_with_hasher(KeyHasher::default()),
        })
    }

    /// Current counters and sizes.
    pub fn stats(&self) -> CacheStats {
        self.memory.run_pending_tasks();
        let (disk_entries, disk_bytes) = self.disk.as_ref().map_or((0, 0), |d| d.usage());
        CacheStats {
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.disk_hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stores: self.stores.load(Ordering::Relaxed),
            memory_evictions: self.memory_evictions.load(Ordering::Relaxed),
            disk_evictions: self
                .disk
                .as_ref()
                .map_or(0, |d| d.evictions.load(Ordering::Relaxed)),
            memory_entries: self.memory.entry_count(),
            memory_bytes: self.memory.weighted_size(),
            disk_entries,
            disk_bytes,
            disk_write_errors: self.disk_errors.count.load(Ordering::Relaxed),
        }
    }

    /// Records that `combined` is a variant of `primary`.
    fn remember_variant(&self, primary: Key, combined: Key) {
        let list = self.variants.get_with(primary, Arc::default);
        if let Ok(mut list) = list.lock()
            && !list.contains(&combined)
        {
            if list.len() >= VARIANTS_PER_PRIMARY {
                list.remove(0);
            }
            list.push(combined);
        }
    }

    /// Removes one object from both tiers and the catalog.
    fn remove(&self, k: &Key) -> bool {
        let in_memory = self.memory.remove(k).is_some();
        let on_disk = self.disk.as_ref().is_some_and(|d| d.remove(k));
        self.catalog.remove(k);
        in_memory || on_disk
    }

    /// Every cached object's key and record, for a purge that walks them in pieces
    /// ([`Self::purge_keys`]) so that it can pause between them.
    pub fn catalog_entries(&self) -> Vec<([u8; 16], ObjectInfo)> {
        self.catalog.entries()
    }

    /// Removes these objects from both tiers; returns how many were cached.
    pub fn purge_keys(&self, keys: &[[u8; 16]]) -> usize {
        keys.iter().filter(|k| self.remove(k)).count()
    }

    /// Purges everything; returns how many objects were removed.
    pub fn purge_all(&self) -> usize {
        let mut keys = self.catalog.keys();
        keys.extend(self.memory.iter().map(|(k, _)| *k));
        if let Some(d) = &self.disk {
            keys.extend(d.keys());
        }
        keys.sort_unstable();
        keys.dedup();
        let n = keys.iter().filter(|k| self.remove(k)).count();
        self.memory.invalidate_all();
        n
    }

    /// The memory-tier object stored under `key` (pingora's `combined_bin()` of the
    /// cache key). For a caller that serves memory hits itself (and then says so with
    /// [`Self::record_memory_hit`]); whatever it cannot serve goes through
    /// [`Storage::lookup`].
    pub fn memory_entry(&self, key: &[u8; 16]) -> Option<Arc<MemEntry>> {
        self.memory.get(key)
    }

    /// Counts a memory hit served by the caller from [`Self::memory_entry`].
    pub fn record_memory_hit(&self) {
        self.memory_hits.fetch_add(1, Ordering::Relaxed);
    }

    fn mem_hit(entry: &MemEntry) -> PResult<(CacheMeta, HitHandler)> {
        let meta = entry.meta()?;
        let hit = MemHit {
            body: entry.body.clone(),
            done: false,
            range: None,
        };
        Ok((meta, Box::new(hit)))
    }
}

fn internal_err(context: &'static str, e: impl std::fmt::Display) -> Box<pingora_error::Error> {
    pingora_error::Error::explain(
        pingora_error::ErrorType::InternalError,
        format!("{context}: {e}"),
    )
}

#[async_trait]
impl Storage for TieredStorage {
    async fn lookup(
        &'static self,
        key: &CacheKey,
        _trace: &SpanHandle,
    ) -> PResult<Option<(CacheMeta, HitHandler)>> {
        let k = key.combined_bin();
        if let Some(entry) = self.memory.get(&k) {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Self::mem_hit(&entry).map(Some);
        }
        let Some(disk) = &self.disk else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let Some(mut entry) = disk.open_entry(&k).await else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let meta = match CacheMeta::deserialize(&entry.meta_internal, &entry.meta_header) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "dropping disk cache object with unreadable metadata");
                disk.remove(&k);
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        };
        self.disk_hits.fetch_add(1, Ordering::Relaxed);
        if entry.body_len <= self.max_memory_object {
            // Small enough: read and verify it whole, then promote it to memory.
            let mut body = vec![0u8; entry.body_len as usize];
            if entry.file.read_exact(&mut body).await.is_err()
                || crc32fast::hash(&body) != entry.body_crc
            {
                tracing::warn!("dropping disk cache object whose body fails its checksum");
                disk.remove(&k);
                return Ok(None);
            }
            let promoted = Arc::new(MemEntry::new(
                &entry.meta_internal,
                &entry.meta_header,
                Bytes::from(body),
            ));
            self.memory.insert(k, promoted.clone());
            let hit = MemHit {
                body: promoted.body.clone(),
                done: false,
                range: None,
            };
            return Ok(Some((meta, Box::new(hit))));
        }
        let hit = DiskHit::new(entry, k);
        Ok(Some((meta, Box::new(hit))))
    }

    async fn get_miss_handler(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        _trace: &SpanHandle,
    ) -> PResult<MissHandler> {
        let (internal, header) = meta.serialize()?;
        let tags = meta
            .headers()
            .get("cache-tag")
            .and_then(|v| v.to_str().ok())
            .map(ObjectInfo::tags_from_header)
            .unwrap_or_default();
        let info = ObjectInfo::new(
            key.primary_key_str().unwrap_or_default(),
            tags.iter().map(String::as_str),
        );
        // A disk that cannot take the object (full, read-only, failing) must not
        // cost the response or the memory tier: the object is cached in memory only.
        let disk = match &self.disk {
            Some(d) => match d.begin(&internal, &header, info.encode()).await {
                Ok(w) => Some(w),
                Err(e) => {
                    self.disk_errors.record("begin", &e);
                    None
                }
            },
            None => None,
        };
        if key.variance_bin().is_some() {
            self.remember_variant(key.primary_bin(), key.combined_bin());
        }
        // A declared length sizes the memory copy once (growing by doubling would hold
        // up to twice the body for the object's life, unweighed).
        let declared = meta
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .filter(|n| *n <= self.max_memory_object)
            .unwrap_or(0);
        Ok(Box::new(TieredMiss {
            storage: self,
            key: key.combined_bin(),
            meta_internal: internal,
            meta_header: header,
            buffer: Some(Vec::with_capacity(declared as usize)),
            disk,
            len: 0,
            info,
        }))
    }

    async fn purge(
        &'static self,
        target: PurgeTarget<'_>,
        _purge_type: PurgeType,
        _trace: &SpanHandle,
    ) -> PResult<PurgeOutcome> {
        // We do not assign entry IDs, so identified targets cannot be ours.
        if matches!(target, PurgeTarget::Exact(CacheEntryKey::Identified { .. })) {
            return Ok(PurgeOutcome::NotFound);
        }
        let key = target.key();
        let k = key.combined_bin();
        let mut removed = self.remove(&k);
        // A URL's invalidation (no variance given) takes every variant stored for it.
        if key.variance_bin().is_none()
            && let Some(variants) = self.variants.remove(&k)
        {
            let variants = variants.lock().map(|v| v.clone()).unwrap_or_default();
            for v in variants {
                removed |= self.remove(&v);
            }
        }
        Ok(if removed {
            PurgeOutcome::Purged(None)
        } else {
            PurgeOutcome::NotFound
        })
    }

    async fn update_meta(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        _trace: &SpanHandle,
    ) -> PResult<bool> {
        let k = key.combined_bin();
        let (internal, header) = meta.serialize()?;
        let mut updated = false;
        if let Some(old) = self.memory.get(&k) {
            self.memory.insert(
                k,
                Arc::new(MemEntry::new(&internal, &header, old.body.clone())),
            );
            updated = true;
        }
        if let Some(disk) = &self.disk {
            updated |= disk
                .update_meta(&k, &internal, &header)
                .await
                .map_err(|e| internal_err("disk cache meta update", e))?;
        }
        Ok(updated)
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync + 'static) {
        self
    }
}

/// A hit served from memory (also used for just-promoted disk objects).
struct MemHit {
    body: Bytes,
    done: bool,
    range: Option<(usize, usize)>,
}

#[async_trait]
impl HandleHit for MemHit {
    async fn read_body(&mut self) -> PResult<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        Ok(Some(match self.range {
            Some((s, e)) => self.body.slice(s..e),
            None => self.body.clone(),
        }))
    }

    async fn finish(
        self: Box<Self>,
        _storage: &'static (dyn Storage + Sync),
        _key: &CacheKey,
        _trace: &SpanHandle,
    ) -> PResult<()> {
        Ok(())
    }

    fn can_seek(&self) -> bool {
        true
    }

    fn seek(&mut self, start: usize, end: Option<usize>) -> PResult<()> {
        let len = self.body.len();
        let end = end.unwrap_or(len).min(len);
        if start > end {
            return pingora_error::Error::e_explain(
                pingora_error::ErrorType::InternalError,
                "seek past end",
            );
        }
        self.range = Some((start, end));
        self.done = false;
        Ok(())
    }

    fn get_eviction_weight(&self) -> usize {
        self.body.len()
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn as_any_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        self
    }
}

/// A hit streamed from disk in 64 KiB reads, checksum verified on a full read.
struct DiskHit {
    entry: DiskEntry,
    key: Key,
    /// Bytes of body still to send in the current range.
    left: u64,
    /// Running CRC; only meaningful when reading the whole body from its start.
    crc: Option<crc32fast::Hasher>,
    seek_to: Option<u64>,
    corrupt: bool,
}

impl DiskHit {
    fn new(entry: DiskEntry, key: Key) -> Self {
        let left = entry.body_len;
        DiskHit {
            entry,
            key,
            left,
            crc: Some(crc32fast::Hasher::new()),
            seek_to: None,
            corrupt: false,
        }
    }
}

#[async_trait]
impl HandleHit for DiskHit {
    async fn read_body(&mut self) -> PResult<Option<Bytes>> {
        if let Some(pos) = self.seek_to.take() {
            self.entry
                .file
                .seek(std::io::SeekFrom::Start(self.entry.body_offset + pos))
                .await
                .map_err(|e| internal_err("disk cache seek", e))?;
        }
        if self.left == 0 {
            if let Some(h) = self.crc.take()
                && h.finalize() != self.entry.body_crc
            {
                self.corrupt = true;
                tracing::warn!(key = %hex::encode(self.key), "disk cache body failed its checksum mid-stream; aborting");
                return pingora_error::Error::e_explain(
                    pingora_error::ErrorType::InternalError,
                    "disk cache body checksum mismatch",
                );
            }
            return Ok(None);
        }
        let want = self.left.min(64 * 1024) as usize;
        let mut buf = vec![0u8; want];
        self.entry
            .file
            .read_exact(&mut buf)
            .await
            .map_err(|e| internal_err("disk cache read", e))?;
        self.left -= want as u64;
        if let Some(h) = self.crc.as_mut() {
            h.update(&buf);
        }
        Ok(Some(Bytes::from(buf)))
    }

    async fn finish(
        self: Box<Self>,
        storage: &'static (dyn Storage + Sync),
        _key: &CacheKey,
        _trace: &SpanHandle,
    ) -> PResult<()> {
        // A body that failed its checksum must never be served again.
        if self.corrupt
            && let Some(ts) = storage.as_any().downcast_ref::<TieredStorage>()
            && let Some(disk) = &ts.disk
        {
            disk.remove(&self.key);
        }
        Ok(())
    }

    fn can_seek(&self) -> bool {
        true
    }

    fn seek(&mut self, start: usize, end: Option<usize>) -> PResult<()> {
        let len = self.entry.body_len;
        let end = end.map_or(len, |e| (e as u64).min(len));
        if start as u64 > end {
            return pingora_error::Error::e_explain(
                pingora_error::ErrorType::InternalError,
                "seek past end",
            );
        }
        self.seek_to = Some(start as u64);
        self.left = end - start as u64;
        // Partial reads cannot verify the whole-body checksum.
        self.crc = None;
        Ok(())
    }

    fn get_eviction_weight(&self) -> usize {
        self.entry.body_len as usize
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn as_any_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        self
    }
}

/// A miss being admitted: streamed to a temp file, and buffered for memory while small.
struct TieredMiss {
    storage: &'static TieredStorage,
    key: Key,
    meta_internal: Vec<u8>,
    meta_header: Vec<u8>,
    buffer: Option<Vec<u8>>,
    disk: Option<DiskWriter>,
    len: u64,
    info: ObjectInfo,
}

#[async_trait]
impl HandleMiss for TieredMiss {
    async fn write_body(&mut self, data: Bytes, _eof: bool) -> PResult<()> {
        self.len += data.len() as u64;
        if self.len > self.storage.max_memory_object {
            // Large objects skip the memory tier: never hold them whole.
            self.buffer = None;
        }
        if let Some(buf) = self.buffer.as_mut() {
            buf.extend_from_slice(&data);
        }
        if let Some(w) = self.disk.as_mut()
            && let Err(e) = w.write(&data).await
        {
            // Dropping the writer removes its partial file.
            self.disk = None;
            self.storage.disk_errors.record("write", &e);
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> PResult<MissFinishType> {
        let TieredMiss {
            storage,
            key,
            meta_internal,
            meta_header,
            buffer,
            disk,
            len,
            info,
        } = *self;
        storage.catalog.insert(key, info);
        if let (Some(w), Some(tier)) = (disk, storage.disk.as_ref())
            && let Err(e) = w.commit(tier, &key).await
        {
            storage.disk_errors.record("commit", &e);
        }
        if let Some(mut body) = buffer {
            // A body of unknown length grew by doubling: give back what it did not use.
            if body.capacity() - body.len() > body.len() / 8 {
                body.shrink_to_fit();
            }
            storage.memory.insert(
                key,
                Arc::new(MemEntry::new(
                    &meta_internal,
                    &meta_header,
                    Bytes::from(body),
                )),
            );
        }
        storage.stores.fetch_add(1, Ordering::Relaxed);
        Ok(MissFinishType::Created(len as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora_http::ResponseHeader;
    use std::time::{Duration, SystemTime};

    /// A memory hit gives back the meta that was stored: everything pingora reads (head
    /// fields in order and case, freshness, variance, creation time).
    #[tokio::test]
    async fn memory_hit_meta_matches_what_was_stored() {
        let storage: &'static TieredStorage = Box::leak(Box::new(
            TieredStorage::new(&TieredStorageConfig {
                memory_bytes: 1 << 20,
                max_memory_object: 1 << 20,
                disk: None,
            })
            .expect("storage"),
        ));
        let mut head = ResponseHeader::build(200, None).expect("head");
        head.append_header("Content-Type", "text/html")
            .expect("field");
        head.append_header("X-Mixed-Case", "a").expect("field");
        head.append_header("set-cookie", "x=1").expect("field");
        head.append_header("set-cookie", "y=2").expect("field");
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let fresh = created + Duration::from_secs(60);
        let mut meta = CacheMeta::new(fresh, created, 5, 7, head);
        meta.set_variance([7u8; 16]);
        let key = CacheKey::new("", "/x");
        let span = pingora_cache::trace::Span::inactive().handle();
        let mut miss = storage
            .get_miss_handler(&key, &meta, &span)
            .await
            .expect("miss");
        miss.write_body(Bytes::from_static(b"body"), true)
            .await
            .expect("write");
        miss.finish().await.expect("finish");
        let (got, _) = storage
            .lookup(&key, &span)
            .await
            .expect("lookup")
            .expect("a hit");
        assert_eq!(got.fresh_until(), fresh);
        assert_eq!(got.created(), created);
        assert_eq!(got.stale_while_revalidate_sec(), 5);
        assert_eq!(got.stale_if_error_sec(), 7);
        assert_eq!(got.variance(), Some([7u8; 16]));
        let mut wire = bytes::BytesMut::new();
        got.response_header().header_to_h1_wire(&mut wire);
        let mut want = bytes::BytesMut::new();
        meta.response_header().header_to_h1_wire(&mut want);
        assert_eq!(
            String::from_utf8_lossy(&wire),
            String::from_utf8_lossy(&want)
        );
    }
}
