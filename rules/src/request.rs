//! The request as rules see it: the few facts a pattern or condition reads.

use std::net::IpAddr;

/// What the matcher needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The request arrived over TLS.
    pub tls: bool,
    /// Host, lowercased, without port.
    pub host: &'a str,
    /// Port from the `Host` header, else the scheme's default.
    pub port: u16,
    /// Path and query as sent (`/a/b?x=1`).
    pub path_and_query: &'a str,
    /// Method, as sent (methods are case-sensitive).
    pub method: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// The client's address, if known.
    pub client_ip: Option<IpAddr>,
}
