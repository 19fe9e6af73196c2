//! A request's id (`RequestId`: its one spelling) and the request-id response header
//! (`Outpost-Request-Id` by default), as a pingora downstream module so that every
//! response carries it: proxied and cached ones, a hook's, redirects and error pages
//! alike. `request_filter` hands the module the id (the same one the access log and
//! the scripts' console lines carry).

use crate::wire::{put, put_hex};
use async_trait::async_trait;
use pingora::http::ResponseHeader;
use pingora::modules::http::{HttpModule, HttpModuleBuilder, Module};
use std::sync::Arc;

/// One request's id as logs, scripts and the request-id field give it: the node's
/// id, `-`, and the request's number on the node in hex (`3fa9c2-1b`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestId<'a> {
    pub(crate) node: &'a str,
    pub(crate) seq: u64,
}

impl RequestId<'_> {
    /// Appends the id (no formatter: the fast paths write one per request).
    pub(crate) fn put(self, out: &mut Vec<u8>) {
        put(out, &[self.node.as_bytes(), b"-"]);
        put_hex(out, self.seq);
    }

    /// Appends a field `name: id` and its line end.
    pub(crate) fn put_field(self, out: &mut Vec<u8>, name: &http::HeaderName) {
        put(out, &[name.as_str().as_bytes(), b": "]);
        self.put(out);
        out.extend_from_slice(b"\r\n");
    }

    /// The id as text the request keeps (logs, scripts, the module below).
    pub(crate) fn shared(self) -> Arc<str> {
        let mut out = Vec::with_capacity(self.node.len() + 17);
        self.put(&mut out);
        // (A `&str` and ASCII digits: always UTF-8.)
        match String::from_utf8(out) {
            Ok(text) => text.into(),
            Err(_) => self.to_string().into(),
        }
    }
}

impl std::fmt::Display for RequestId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:x}", self.node, self.seq)
    }
}

/// Per-request state of the module: the header to set and the id.
#[derive(Debug, Default)]
pub struct RequestIdModule {
    header: Option<(http::HeaderName, Arc<str>)>,
}

impl RequestIdModule {
    /// Every response of this request gets `name: id`.
    pub fn set(&mut self, name: http::HeaderName, id: Arc<str>) {
        self.header = Some((name, id));
    }
}

#[async_trait]
impl HttpModule for RequestIdModule {
    async fn response_header_filter(
        &mut self,
        resp: &mut ResponseHeader,
        _end_of_stream: bool,
    ) -> pingora::Result<()> {
        if let Some((name, id)) = &self.header {
            resp.insert_header(name.clone(), per_response_value(id)?)?;
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// A header value that differs on every response, marked so HTTP/2's HPACK never
/// puts it in its dynamic table: an id indexed per response would evict the fields
/// that repeat (content type, validators, `Via`) and make every later head larger
/// and slower to encode. (HTTP/1 ignores the mark.)
pub(crate) fn per_response_value(text: &str) -> pingora::Result<http::HeaderValue> {
    let mut v = http::HeaderValue::from_str(text)
        .map_err(|e| pingora::Error::explain(pingora::ErrorType::InternalError, e.to_string()))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Builds the module for each request.
#[derive(Debug)]
pub struct RequestIdBuilder;

impl HttpModuleBuilder for RequestIdBuilder {
    fn init(&self) -> Module {
        Box::<RequestIdModule>::default()
    }
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn every_spelling_of_an_id_agrees() {
        for (node, seq) in [("node1", 0x2a), ("3fa9c2", 0), ("n", u64::MAX)] {
            let id = RequestId { node, seq };
            let text = format!("{node}-{seq:x}");
            assert_eq!(id.to_string(), text);
            assert_eq!(&*id.shared(), text);
            let mut out = Vec::new();
            id.put_field(&mut out, &http::HeaderName::from_static("x-request-id"));
            assert_eq!(out, format!("x-request-id: {text}\r\n").into_bytes());
        }
    }
}
