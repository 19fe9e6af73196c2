//! What goes in and out of a hook: the request handed to it, the response it gives
//! back, bodies that stay on the Rust side, and the [`Fetcher`] through which its
//! `fetch()` subrequests leave the sandbox.

use crate::error::{Result, ScriptError};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// A body that is streamed, not held in memory: a subrequest's response body, or a
/// client's request body still arriving. A hook that hands one on unchanged (returns a
/// fetched response, or fetches with the request's body) passes this stream straight
/// through, so the bytes never pass through JavaScript.
pub struct BodyStream {
    chunks: BoxStream<'static, Result<Bytes>>,
    /// How many bytes it will yield, when known (a request's `Content-Length`).
    length: Option<u64>,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyStream")
    }
}

impl BodyStream {
    /// Wraps a stream of chunks.
    pub fn new(s: impl Stream<Item = Result<Bytes>> + Send + 'static) -> Self {
        BodyStream {
            chunks: s.boxed(),
            length: None,
        }
    }

    /// Records that the stream yields exactly `length` bytes (the producer enforces it).
    pub fn with_length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }

    /// How many bytes the stream yields, when known.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// `first`, then the rest of this stream (after a caller read the start of it).
    pub fn after(self, first: Bytes) -> BodyStream {
        BodyStream {
            chunks: futures_util::stream::iter([Ok(first)])
                .chain(self.chunks)
                .boxed(),
            length: self.length,
        }
    }

    /// The next chunk; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Bytes>> {
        self.chunks.next().await
    }

    /// Reads the whole body, failing once it passes `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(ScriptError::BodyTooLarge { limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }

    /// Splits the stream in two (for `clone()`): each half sees every chunk. The half
    /// that reads ahead buffers the chunks the other has not read yet.
    pub fn tee(self) -> (BodyStream, BodyStream) {
        let length = self.length;
        let shared = Arc::new(Mutex::new(Tee {
            source: Some(self),
            queues: [Vec::new(), Vec::new()],
            finished: false,
        }));
        let half = |i: usize| {
            let shared = shared.clone();
            BodyStream {
                chunks: futures_util::stream::poll_fn(move |cx| Tee::poll_half(&shared, i, cx))
                    .boxed(),
                length,
            }
        };
        (half(0), half(1))
    }
}

struct Tee {
    source: Option<BodyStream>,
    queues: [Vec<Result<Bytes>>; 2],
    finished: bool,
}

impl Tee {
    fn poll_half(
        shared: &Mutex<Tee>,
        i: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes>>> {
        let Ok(mut t) = shared.lock() else {
            return Poll::Ready(None);
        };
        if !t.queues[i].is_empty() {
            return Poll::Ready(Some(t.queues[i].remove(0)));
        }
        if t.finished {
            return Poll::Ready(None);
        }
        let Some(source) = t.source.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut source.chunks).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                t.finished = true;
                t.source = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => {
                let copy = match &item {
                    Ok(b) => Ok(b.clone()),
                    Err(e) => Err(e.clone()),
                };
                t.queues[1 - i].push(copy);
                Poll::Ready(Some(item))
            }
        }
    }
}

/// A body as a hook gives it back.
#[derive(Debug)]
pub enum Body {
    /// Bytes made by the script (or none).
    Bytes(Bytes),
    /// A subrequest's body, streamed through untouched.
    Stream(BodyStream),
}

impl Body {
    /// The whole body (reads a stream to its end, up to `limit` bytes).
    pub async fn into_bytes(self, limit: usize) -> Result<Bytes> {
        match self {
            Body::Bytes(b) => Ok(b),
            Body::Stream(s) => s.collect(limit).await,
        }
    }
}

/// What Outpost knows about the connection, shown to scripts as `request.cf`.
#[derive(Debug, Clone, Default)]
pub struct Cf {
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// `TLSv1.3`, `TLSv1.2`, or none for plain HTTP.
    pub tls_version: Option<String>,
    /// `HTTP/1.1`, `HTTP/2`…
    pub http_protocol: String,
    /// The page rule that bound the script (`file:line`), if one did.
    pub rule: Option<String>,
    /// Set for a cron trigger's run: the script's `scheduled` handler is called
    /// instead of its `fetch` handler.
    pub scheduled: Option<Scheduled>,
}

/// A cron trigger firing, as a `scheduled` handler sees it (`controller.cron`,
/// `controller.scheduledTime`).
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// The expression as configured.
    pub cron: String,
    /// When it was due, in milliseconds since the Unix epoch.
    pub scheduled_time_ms: f64,
}

/// A request handed to a hook.
pub struct HookRequest {
    /// Method, absolute URL, headers and the body when it was read already.
    pub request: http::Request<Bytes>,
    /// The body while it is still arriving (`request`'s body is then empty): the script
    /// reads it chunk by chunk as `request.body`, or hands it on unread.
    pub stream: Option<BodyStream>,
    /// Connection facts for `request.cf`.
    pub cf: Cf,
    /// Where the script's `fetch()` calls go; without one, `fetch()` rejects.
    pub fetcher: Option<Arc<dyn Fetcher>>,
    /// The request's id in Outpost's logs; the script's `console` lines carry it.
    pub id: Arc<str>,
}

impl HookRequest {
    /// A request with no connection facts and no fetcher.
    pub fn new(request: http::Request<Bytes>) -> Self {
        HookRequest {
            request,
            stream: None,
            cf: Cf::default(),
            fetcher: None,
            id: Arc::from("-"),
        }
    }
}

/// A hook's response.
#[derive(Debug)]
pub struct HookResponse {
    /// Status and headers.
    pub head: http::response::Parts,
    /// The body.
    pub body: Body,
}

/// How a hook run ended, when the script itself did not fail outright.
#[derive(Debug)]
pub enum Answer {
    /// The script's response.
    Respond(HookResponse),
    /// The script failed after calling `passThroughOnException()`: the request goes on
    /// to the cache and origin as if there were no script. Carries the failure, for logs.
    PassThrough(ScriptError),
}

/// A subrequest as a script made it.
#[derive(Debug)]
pub struct FetchRequest {
    /// Method.
    pub method: http::Method,
    /// Absolute URL.
    pub url: url::Url,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body bytes, if any.
    pub body: Option<Body>,
    /// Not a request to send: an operation of the Cache API on the URL's entry.
    pub cache: Option<CacheOp>,
    /// The cache options of Workers' `cf` on the request (`cacheTtl`…), when it
    /// gave any.
    pub cf: Option<FetchCf>,
}

/// Workers' cache options on a `fetch()` (`init.cf` or the `Request`'s `cf`): the
/// answer comes from the node's cache when a fresh one is stored there, and is
/// stored there as they say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FetchCf {
    /// Store for this many seconds whatever the response's headers say (for the
    /// statuses an edge TTL applies to); zero or less: do not store.
    pub cache_ttl: Option<i64>,
    /// Store responses that give no lifetime too (with the default lifetimes).
    pub cache_everything: bool,
    /// The entry's key instead of the URL.
    pub cache_key: Option<String>,
    /// Seconds by status range (`"200-299": 86400`, `"404": 1`); zero or less: do
    /// not store. Wins over `cache_ttl` for the statuses it names.
    pub cache_ttl_by_status: std::collections::BTreeMap<String, i64>,
    /// Tags the stored entry is purged by (as `Cache-Tag` values).
    pub cache_tags: Vec<String>,
    /// Workers' image resizing options (`cf.image`): the response is the fetched
    /// image transformed, by name as in the `/cdn-cgi/image/` URL form.
    pub image: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl FetchCf {
    /// Whether any option concerns the cache.
    pub fn caches(&self) -> bool {
        self.cache_ttl.is_some()
            || self.cache_everything
            || self.cache_key.is_some()
            || !self.cache_ttl_by_status.is_empty()
    }

    /// The lifetime the options give a response with `status`: `Some(n)` from
    /// `cacheTtlByStatus` (first range that holds it) or `cacheTtl`; `None`: the
    /// response's own headers decide.
    pub fn ttl_for(&self, status: u16) -> Option<i64> {
        self.cache_ttl_by_status
            .iter()
            .find(|(range, _)| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
                    (Ok(lo), Ok(hi)) => (lo..=hi).contains(&status),
                    _ => false,
                }
            })
            .map(|(_, ttl)| *ttl)
            .or(self.cache_ttl)
    }
}

/// A Cache API operation (`caches.default`, `caches.open(name)`), carried by a
/// [`FetchRequest`] whose URL is the entry's key. Answers: `match` the stored
/// response, or 404 with [`CACHE_MISS_HEADER`]; `put` 204; `delete` 200 when an entry
/// was removed, 404 when there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOp {
    /// `cache.match(request)`.
    Match {
        /// The cache's name (`default` for `caches.default`).
        cache: String,
    },
    /// `cache.put(request, response)`: the request's headers and body are the
    /// response's.
    Put {
        /// The cache's name.
        cache: String,
        /// The response's status.
        status: u16,
    },
    /// `cache.delete(request)`.
    Delete {
        /// The cache's name.
        cache: String,
    },
}

/// Marks the host's 404 answer to a `match` that found nothing (never on a stored
/// response: the host strips it from what it stores).
pub const CACHE_MISS_HEADER: &str = "outpost-cache-miss";

/// A subrequest's response: status and headers now, the body as a stream.
#[derive(Debug)]
pub struct FetchResponse {
    /// Status and headers.
    pub head: http::response::Parts,
    /// The body, streamed.
    pub body: BodyStream,
}

/// Where a script's `fetch()` goes. `proxy` implements it with subrequests through
/// Outpost's own pipeline (rules, cache, origin pools) for the sites it serves, and
/// with its egress client under the site's policy for other hosts; the sandbox has no
/// other way out.
pub trait Fetcher: Send + Sync + 'static {
    /// Starts the subrequest. Called on a JS thread: it must not block, only start work
    /// elsewhere and return a future of the response head.
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'static, Result<FetchResponse>>;

    /// How many subrequests one request may make.
    fn max_subrequests(&self) -> u32 {
        crate::limits::MAX_SUBREQUESTS
    }
}
