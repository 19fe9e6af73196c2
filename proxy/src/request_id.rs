//! The request-id response header (`Outpost-Request-Id` by default), as a pingora
//! downstream module so that every response carries it: proxied and cached ones, a
//! hook's, redirects and error pages alike. `request_filter` hands the module the id
//! (the same one the access log and the scripts' console lines carry).

use async_trait::async_trait;
use pingora::http::ResponseHeader;
use pingora::modules::http::{HttpModule, HttpModuleBuilder, Module};
use std::sync::Arc;

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
