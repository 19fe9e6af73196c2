//! Rewritten pages kept in memory: a stored page that a profile rewrites the same way
//! for every visitor is parsed once per stored version, and later hits send the kept
//! result (`cache.rewritten_pages`).
//!
//! A kept rewrite is found only through the stored object it was made from: its key
//! holds that object's cache key and the instants it was stored and last revalidated,
//! so a purge, a new version or a changed head can never be answered with an old
//! rewrite; the next request simply rewrites again. Entries are in memory only,
//! weighed by their bytes, and the least used go first.

use super::Coding;
use super::profile::CompiledProfile;
use super::stream::PageRewriter;
use crate::error::ProxyError;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A kept rewrite unused this long is dropped even when there is room (its page has
/// most likely changed or gone).
const IDLE: Duration = Duration::from_secs(600);

/// The stored object a response's body is read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredSource {
    /// Its cache key, variance included.
    pub key: [u8; 16],
    /// When it was stored (to the nanosecond).
    pub created: SystemTime,
    /// When it was last revalidated (a 304 may have changed its head).
    pub updated: SystemTime,
}

/// Everything a rewrite's bytes depend on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeptKey {
    source: StoredSource,
    profile: u64,
    /// The request values a visitor-independent profile may read.
    host: Box<str>,
    path: Box<str>,
    /// The head fields that steer the rewrite: charset, and coding in and out.
    charset: Option<Box<str>>,
    from: Option<Coding>,
    to: Option<Coding>,
}

impl KeptKey {
    /// The key of `profile`'s rewrite of `source` for a request to `host` + `path`.
    pub(crate) fn new(
        source: StoredSource,
        profile: &CompiledProfile,
        (host, path): (&str, &str),
        (charset, from, to): (Option<&str>, Option<Coding>, Option<Coding>),
    ) -> Self {
        KeptKey {
            source,
            profile: profile.id(),
            host: host.into(),
            path: path.into(),
            charset: charset.map(Into::into),
            from,
            to,
        }
    }

    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.host.len()
            + self.path.len()
            + self.charset.as_ref().map_or(0, |c| c.len())
    }
}

/// The kept rewrites of this process.
pub struct KeptPages {
    pages: moka::sync::Cache<KeptKey, Bytes>,
    /// The largest rewrite kept; a longer page is rewritten on every hit.
    max_page: usize,
}

impl std::fmt::Debug for KeptPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptPages")
            .field("pages", &self.pages.entry_count())
            .field("max_page", &self.max_page)
            .finish()
    }
}

impl KeptPages {
    /// Room for `capacity` bytes of rewrites (`None` for 0: nothing is kept); one page
    /// may take at most a sixteenth of it, and never more than `max_page`.
    pub fn new(capacity: u64, max_page: u64) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let max_page = usize::try_from((capacity / 16).min(max_page)).unwrap_or(usize::MAX);
        let pages = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .weigher(|k: &KeptKey, v: &Bytes| {
                u32::try_from(k.weight() + v.len()).unwrap_or(u32::MAX)
            })
            .time_to_idle(IDLE)
            .build();
        Some(KeptPages { pages, max_page })
    }

    /// The kept rewrite under `key`, if there is one.
    pub fn get(&self, key: &KeptKey) -> Option<Bytes> {
        self.pages.get(key)
    }
}

/// Collects a rewrite as it is sent, to keep it once it has ended well.
#[derive(Debug)]
pub struct Keeper {
    pages: Arc<KeptPages>,
    key: KeptKey,
    /// What was sent so far; `None` once the page outgrew `max_page`.
    sent: Option<BytesMut>,
}

impl Keeper {
    pub(crate) fn new(pages: Arc<KeptPages>, key: KeptKey) -> Self {
        Keeper {
            pages,
            key,
            sent: Some(BytesMut::new()),
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        if let Some(sent) = &mut self.sent {
            if sent.len() + bytes.len() > self.pages.max_page {
                self.sent = None;
            } else {
                sent.extend_from_slice(bytes);
            }
        }
    }

    fn keep(self) {
        if let Some(sent) = self.sent {
            self.pages.pages.insert(self.key, sent.freeze());
        }
    }
}

/// A rewritten response's body: rewritten now (and maybe kept as it goes), or sent
/// from a kept rewrite in place of the stored page's bytes.
#[derive(Debug)]
pub enum PageBody {
    /// Rewritten as it streams; kept at the end when there is a [`Keeper`].
    Rewriting(Box<PageRewriter>, Option<Keeper>),
    /// The kept bytes, until sent.
    Kept(Option<Bytes>),
}

impl PageBody {
    /// Whether this body is sent from a kept rewrite.
    pub fn is_kept(&self) -> bool {
        matches!(self, PageBody::Kept(_))
    }

    /// The body for the next chunk of the stored page: what to send now.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, ProxyError> {
        match self {
            PageBody::Rewriting(rewriter, keeper) => {
                let out = rewriter.push(chunk)?;
                if let Some(k) = keeper {
                    k.add(&out);
                }
                Ok(out)
            }
            PageBody::Kept(bytes) => Ok(bytes.take().unwrap_or_default()),
        }
    }

    /// Ends the body: the last bytes to send. A rewrite that got here is kept.
    pub fn finish(&mut self) -> Result<Bytes, ProxyError> {
        match self {
            PageBody::Rewriting(rewriter, keeper) => {
                let out = rewriter.finish()?;
                if let Some(mut k) = keeper.take() {
                    k.add(&out);
                    k.keep();
                }
                Ok(out)
            }
            PageBody::Kept(bytes) => Ok(bytes.take().unwrap_or_default()),
        }
    }
}
