//! Streaming HTML rewriting of responses on their way out, per the page rule's
//! `html_rewrite` profile.
//!
//! Runs in `response_body_filter`, after the cache: the cache keeps the origin's bytes
//! and every response is rewritten for its own request, so one cached page can carry
//! per-visitor values. Bodies stream through in constant memory: each chunk is
//! decoded (gzip, deflate, br, zstd), fed to lol_html, and whatever lol_html emits is
//! encoded again for the client and sent at once. A stored page that a profile
//! rewrites the same for every visitor is rewritten once per stored version and the
//! result kept (`kept`).

mod kept;
mod profile;
mod stream;

pub use kept::{KeptPages, PageBody, StoredSource};
pub use outpost_scripting::codec::{Codec, Coding};
pub use profile::{CompiledProfile, RequestValues, check_selectors};
pub use stream::PageRewriter;

use crate::media::media_type;

/// Starts rewriting `resp` with `profile` if it is a page the profile applies to:
/// adjusts the head (no `Content-Length`, weak `ETag`, the client's coding) and
/// returns what makes its body. `None` leaves the response untouched.
///
/// `stored`: the kept rewrites, and the stored object `resp` is read from (a cache
/// hit on a `GET`): a rewrite kept for it is sent as it is, and a new one is kept.
pub fn begin(
    profile: &std::sync::Arc<CompiledProfile>,
    req: &pingora::http::RequestHeader,
    resp: &mut pingora::http::ResponseHeader,
    (host, client_ip): (&str, Option<std::net::IpAddr>),
    stored: Option<(&std::sync::Arc<KeptPages>, StoredSource)>,
) -> Option<PageBody> {
    use http::header;
    let status = resp.status.as_u16();
    if matches!(status, 100..=199 | 204 | 206 | 304) {
        return None;
    }
    let (media, charset) = media_type(resp.headers.get(header::CONTENT_TYPE)?.to_str().ok()?);
    if !profile.rewrites(&media) {
        return None;
    }
    let encoding = resp
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let Some(from) = Coding::from_content_encoding(encoding) else {
        tracing::debug!(
            profile = profile.name(),
            encoding,
            "page left as is: unknown content coding"
        );
        return None;
    };
    let accept = req
        .headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let to = Coding::for_client(accept, from);
    let kept = stored
        .filter(|_| profile.same_for_every_visitor() && req.method == http::Method::GET)
        .map(|(pages, source)| {
            let key = kept::KeptKey::new(
                source,
                profile,
                (host, req.uri.path()),
                (charset.as_deref(), from, to),
            );
            (pages, key)
        });
    let fresh = || {
        rewriter(
            profile,
            req,
            (host, client_ip),
            charset.as_deref(),
            (from, to),
        )
        .map(Box::new)
    };
    let body = match kept {
        Some((pages, key)) => match pages.get(&key) {
            Some(bytes) => PageBody::Kept(Some(bytes)),
            None => PageBody::Rewriting(fresh()?, Some(kept::Keeper::new(pages.clone(), key))),
        },
        None => PageBody::Rewriting(fresh()?, None),
    };
    let _ = crate::compress::streamed_head(resp);
    // The bytes differ from the origin's, so a strong validator would lie (RFC 9110 §8.8.1).
    if let Some(etag) = resp.headers.get(header::ETAG).and_then(|v| v.to_str().ok())
        && !etag.starts_with("W/")
    {
        let weak = format!("W/{etag}");
        let _ = resp.insert_header(header::ETAG, weak);
    }
    match to {
        Some(c) => {
            let _ = resp.insert_header(header::CONTENT_ENCODING, c.token());
        }
        None => {
            resp.remove_header(&header::CONTENT_ENCODING);
        }
    }
    if from.is_some() {
        crate::compress::vary_on_accept_encoding(resp);
    }
    Some(body)
}

/// A rewriter of `profile` for this request's page.
fn rewriter(
    profile: &std::sync::Arc<CompiledProfile>,
    req: &pingora::http::RequestHeader,
    (host, client_ip): (&str, Option<std::net::IpAddr>),
    charset: Option<&str>,
    (from, to): (Option<Coding>, Option<Coding>),
) -> Option<PageRewriter> {
    let values = RequestValues::new(profile.sources(), req, host, client_ip);
    match PageRewriter::new(profile, std::sync::Arc::new(values), charset, from, to) {
        Ok(Some(r)) => Some(r),
        Ok(None) => {
            tracing::debug!(
                profile = profile.name(),
                charset,
                "page left as is: charset is not ASCII-compatible"
            );
            None
        }
        Err(e) => {
            tracing::warn!(profile = profile.name(), error = %e, "page left as is: codec set-up failed");
            None
        }
    }
}
