//! Outpost's configuration: the YAML model, its validation, and nothing else.
//!
//! This crate owns the shape of `outpost.yaml` and of the files it names (rules
//! files), including HTML rewrite profiles and their per-request placeholders (parsed
//! here, rendered by whoever holds the request). It parses YAML with `serde_yaml` into a private wire schema
//! (`raw`), then validates every value into the public [`Config`] model, reporting
//! each problem with the file, line and column it came from and the YAML path of
//! the value (`outpost.yaml:14:5: sites[0].origins[1]: ...`).
//!
//! It must stay pure data: no sockets, no threads, no DNS. It may read the files the
//! configuration names (to check that they exist), but it never opens a port or
//! resolves a host name; `proxy` does that when it builds a running snapshot.

mod acme;
mod admin;
mod bindings;
mod cache;
mod cluster;
mod compression;
mod egress;
mod error;
mod html;
mod images;
mod kv;
mod locate;
mod log;
mod model;
mod pattern;
mod raw;
mod resolver;
mod rule;
mod rule_file;
mod script_file;
mod server;
mod site;
mod template;
mod tls;
mod triggers;
mod validate;
mod validator;

pub use acme::{
    AcmeChallenge, AcmeKeyType, AcmePlaceholder, AcmeSettings, LETS_ENCRYPT, LETS_ENCRYPT_STAGING,
    SiteAcme,
};
pub use cluster::{ClusterConfig, SecretKey, Tier};
pub use compression::{CompressCoding, Compression, DEFAULT_COMPRESS_TYPES};
pub use egress::{DEFAULT_MAX_SUBREQUESTS, Egress};
pub use error::{ConfigError, Diagnostic, Result};
pub use html::*;
pub use images::Images;
pub use model::*;
pub use resolver::ResolverConfig;
pub use rule::*;
pub use script_file::ScriptFile;
pub use template::{Context as TemplateContext, Template, ValueSource, html_escape};
pub use triggers::CronTrigger;

use std::path::Path;

/// Reads and validates the main configuration file at `path`.
///
/// Relative paths inside the file (static roots, certificates) are resolved against
/// the directory that holds it.
pub fn load(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(&text, path)
}

/// Validates configuration text as if it had been read from `path`.
///
/// `path` is used for error messages and as the base of relative paths; it need not
/// exist (tests and the embedded quickstart use this).
pub fn load_str(text: &str, path: &Path) -> Result<Config> {
    let raw: raw::Root = serde_yaml::from_str(text)
        .map_err(|e| ConfigError::Invalid(vec![Diagnostic::from_yaml_error(path, &e)]))?;
    validate::validate(raw, text, path)
}
