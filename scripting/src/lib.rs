//! JavaScript hooks: a Workers-shaped runtime on boa_engine.
//!
//! This crate owns running developers' scripts: a pool of dedicated JS threads (boa's
//! `Context` is `!Send`), each running an event loop and keeping every script it has
//! seen compiled and warm; the two Workers entry points (`export default { fetch }` and
//! `addEventListener("fetch", …)`); the Web APIs scripts see (a JS prelude over
//! `boa_runtime`'s Headers, URL, console and encoding classes, native `Request` and
//! `Response` classes, `fetch()`'s common case in Rust, and a few native host functions); `HTMLRewriter` (lol_html on a parser thread that asks the JS thread to
//! run each handler); KV namespaces on disk; and the sandbox limits (CPU time and memory per
//! request, loop and recursion limits). It must not open sockets on a script's behalf:
//! the only way out is `fetch()`, which goes to a [`Fetcher`] that `proxy` implements
//! with subrequests through Outpost's own pipeline. It knows nothing of pingora, rules
//! or the cache.

mod budget;
mod ciphers;
mod clock;
pub mod codec;
mod compression;
mod console;
mod convert;
mod crypto;
mod engine;
mod env;
mod error;
mod exchange;
mod fetch;
mod headers;
mod host;
mod host_streams;
mod instance;
mod key_export;
mod kv;
mod limits;
pub mod memory;
mod native_class;
mod private_keys;
mod public_keys;
mod request;
mod response;
mod rewriter;
mod rewriter_handlers;
mod rewriter_thread;
mod sink;
mod sources;
mod token_objects;
mod tokens;
mod url_pattern;
mod urlencoded;

pub use engine::{KvSlot, QueueLimits, ScriptEngine, ScriptSource};
pub use env::Env;
pub use error::{Result, ScriptError};
pub use exchange::{
    Answer, Body, BodyStream, CACHE_MISS_HEADER, CacheOp, Cf, FetchCf, FetchRequest, FetchResponse,
    Fetcher, HookRequest, HookResponse, Scheduled,
};
pub use kv::{
    KvBackend, KvFuture, KvKey, KvList, KvStore, MAX_KEY as KV_MAX_KEY, MAX_VALUE as KV_MAX_VALUE,
    check_key as kv_check_key,
};
pub use limits::{ASYNC_TIMEOUT, Limits, MAX_READ, MAX_SUBREQUESTS};
