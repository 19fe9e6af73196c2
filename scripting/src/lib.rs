//! JavaScript hooks: a Workers-shaped runtime on boa_engine.
//!
//! This crate owns running developers' scripts: a pool of dedicated JS threads (boa's
//! `Context` is `!Send`), each keeping every script it has seen compiled and warm; the
//! two Workers entry points (`export default { fetch }` and
//! `addEventListener("fetch", …)`); the Web APIs scripts see (Request, Response,
//! Headers, URL, console, TextEncoder/Decoder, atob/btoa, structuredClone, from
//! `boa_runtime`); and the sandbox limits (CPU time per request, loop and recursion
//! limits). It must not open files or sockets on a script's behalf: the only way out
//! is `fetch()`, which a later step routes through Outpost's own pipeline via a trait
//! that `proxy` implements. It knows nothing of pingora, rules or the cache.
//!
//! Status: the runtime core (entry points, Web API classes, limits, error reporting)
//! is here and tested; `fetch()` subrequests, KV, env bindings, hot deploy and the
//! proxy wiring are still to come (see the scripting issue).

mod console;
mod engine;
mod error;
mod exchange;
mod host;
mod instance;
mod kv;
pub mod memory;

pub use engine::{
    ASYNC_TIMEOUT, Env, KvSlot, Limits, MAX_READ, MAX_SUBREQUESTS, ScriptEngine, ScriptSource,
};
pub use error::{Result, ScriptError};
pub use exchange::{
    Answer, Body, BodyStream, Cf, FetchRequest, FetchResponse, Fetcher, HookRequest, HookResponse,
};
pub use kv::{KvKey, KvList, KvStore, MAX_KEY as KV_MAX_KEY, MAX_VALUE as KV_MAX_VALUE};
