//! `admin:`: the admin API's listener and token.

use crate::locate::Seg::Key;
use crate::raw;
use crate::validator::Validator;
use std::net::SocketAddr;

/// The admin API listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where it listens (plain HTTP; keep it on a private or loopback address).
    pub listen: SocketAddr,
    /// Bearer token required on every call (read from `token_file`); required unless
    /// `listen` is a loopback address.
    pub token: Option<String>,
}

pub(crate) fn validate(v: &mut Validator<'_>, a: &raw::Admin) -> Option<AdminConfig> {
    let listen = v.addr(Some(&a.listen), &[Key("admin"), Key("listen")])?;
    let token = a.token_file.as_ref().and_then(|f| {
        let path = v.existing_file(f, &[Key("admin"), Key("token_file")], "token");
        let token = std::fs::read_to_string(&path).ok()?.trim().to_string();
        if token.len() < 16 {
            v.report(
                &[Key("admin"), Key("token_file")],
                "the token must be at least 16 characters",
            );
        }
        Some(token)
    });
    if token.is_none() && !listen.ip().is_loopback() {
        v.report(
                &[Key("admin"), Key("listen")],
                format!("{listen} is not a loopback address: set admin.token_file so the admin API is not open to anyone"),
            );
    }
    Some(AdminConfig { listen, token })
}
