//! The tiered cache: a pingora-cache [`Storage`](pingora_cache::Storage) with a moka
//! memory tier in front of a crash-safe, size-bounded disk tier.
//!
//! This crate owns where cached bytes live: admission and eviction in each tier
//! (moka's TinyLFU, weighed in bytes), promotion of disk hits to memory, the on-disk
//! format and its integrity checks, rebuilding the disk index at start, purge, and the
//! keyed hash that names keys (its secret lives with the disk tier).
//! File deletions (purge, eviction, abandoned writes) run on a janitor thread of its
//! own, never on the caller's.
//! It must know nothing of rules, scripts or sites: what is cacheable, for how long
//! and under which key is decided in `proxy`, with pingora-cache's HTTP semantics.

mod catalog;
mod disk;
mod error;
mod janitor;
mod key_hash;
mod storage;

pub use catalog::ObjectInfo;
pub use error::{CacheError, Result};
pub use key_hash::{KeyHash, Naming};
pub use storage::{CacheStats, MemEntry, TieredStorage, TieredStorageConfig};
