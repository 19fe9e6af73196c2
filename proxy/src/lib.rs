//! Outpost's proxy: the pingora application that wires the other crates together.
//!
//! This crate owns the `ProxyHttp` implementation ([`EdgeProxy`]), host-based site
//! selection, origin pools (round robin, consistent hash, active and passive health),
//! the built-in static origin, live config snapshots with atomic reload, streaming
//! HTML rewriting of responses by the rules' profiles ([`html`]), on-the-fly
//! compression ([`compress`]), and the process
//! wiring (pingora `Server`, listeners, the control-plane runtime).
//!
//! It is the only crate that depends on `pingora-proxy`. It must keep per-request
//! state in [`service::RequestCtx`], never in the proxy struct, and must not parse
//! YAML itself (that is `outpost-config`'s job) or choose certificates (that is
//! `outpost-tls`'s).

pub mod access_log;
mod acme_alpn;
mod admin;
pub mod admission;
pub mod bundle;
mod cache_api;
pub mod caching;
mod client_limits;
pub mod compress;
pub mod connection;
mod control;
mod egress;
mod error;
mod fetch_cache;
pub mod freshness;
mod front;
mod header_policy;
pub mod hit_path;
mod hook_lane;
mod hooks;
pub mod html;
mod http3;
mod images;
pub mod media;
pub mod metrics;
pub mod pass_marks;
pub mod pool;
pub mod purge;
mod quic_steering;
mod reply;
mod request_id;
pub mod resolve;
mod scheduled;
mod server;
pub mod service;
mod shared_kv;
pub mod site;
pub mod snapshot;
mod static_origin;
mod subrequest;
mod upstream;
mod wire;

pub use control::ServeOptions;
pub use error::{ProxyError, Result};
pub use server::run;
pub use service::EdgeProxy;
pub use snapshot::check_image_rules;
pub use snapshot::{Live, Snapshot};
pub use static_origin::ensure_static_origin;
