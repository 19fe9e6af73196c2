//! On-the-fly compression (`sites[].compression`).
//!
//! Two places compress, with the same decision ([`plan`]) and head changes
//! ([`encoded_head`]):
//! - **Before the cache** (`upstream_response_filter`): an uncompressed origin
//!   response is compressed for the client that fetched it and stored that way, with
//!   `Vary: Accept-Encoding`; the cache keys the variant by which codings the client
//!   accepts (`caching::variance`), so each kind of client costs one origin fetch and
//!   every later hit is served without compressing again. Measured on a 60 KiB page,
//!   compressing per hit instead cut cache-HIT throughput 4–13× (README, Benchmarks).
//! - **On the way out** ([`CompressModule`], a pingora downstream module): whatever is
//!   still uncompressed — a hook's response, an HTML rewrite's output, error pages.
//!
//! A response is left alone when it is already encoded (never double-compress), says
//! `Cache-Control: no-transform` (RFC 9110 §7.7), is partial or bodiless, or its type
//! is not listed or its known length is under `min_size`.

use async_trait::async_trait;
use bytes::Bytes;
use http::header;
use outpost_config::Compression;
use outpost_scripting::codec::{Codec, Coding};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::{HttpModule, HttpModuleBuilder, Module};
use std::sync::Arc;

/// What the module did for one response, for metrics and the access log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// The coding used, if the response was compressed.
    pub coding: Option<Coding>,
    /// Body bytes before compression.
    pub bytes_in: u64,
    /// Body bytes after compression.
    pub bytes_out: u64,
}

/// Per-request state of the module.
#[derive(Default)]
pub struct CompressModule {
    settings: Option<Arc<Compression>>,
    accept: Option<String>,
    encoder: Option<Encoder>,
}

impl std::fmt::Debug for CompressModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressModule")
            .field("encoder", &self.encoder)
            .finish()
    }
}

impl CompressModule {
    /// Compress this request's response per the site's `settings`.
    pub fn configure(&mut self, settings: Arc<Compression>) {
        self.settings = Some(settings);
    }

    /// What happened to the response so far.
    pub fn outcome(&self) -> Outcome {
        self.encoder
            .as_ref()
            .map(Encoder::outcome)
            .unwrap_or_default()
    }
}

/// Decides whether `resp` is compressed for a client whose `Accept-Encoding` is
/// `accept`, and with what; marks it `Vary: Accept-Encoding` when the answer depends
/// on the client. `None`: send it as it is.
pub fn plan(
    resp: &mut ResponseHeader,
    settings: &Compression,
    accept: Option<&str>,
) -> Option<Coding> {
    if !Facts::of_header(resp).compressible(settings) {
        return None;
    }
    // From here on the representation depends on Accept-Encoding, whatever this
    // client sent: caches (ours included) must keep the variants apart.
    vary_on_accept_encoding(resp);
    negotiate(settings, accept)
}

/// The coding of `settings` that a client whose `Accept-Encoding` is `accept` takes.
fn negotiate(settings: &Compression, accept: Option<&str>) -> Option<Coding> {
    let offered: Vec<Coding> = settings.codings.iter().map(|&c| c.into()).collect();
    Coding::negotiate(accept, &offered)
}

/// What [`plan`] would do to a head that is not pingora's yet (a hook's answer, written
/// straight to an HTTP/1 client when [`plan`] changes nothing but `Vary`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Planned {
    /// Nothing: the body is not compressible with these settings.
    Nothing,
    /// Only `Vary: Accept-Encoding` added (the head has no `Vary`, the client accepts
    /// none of the offered codings).
    Vary,
    /// More than that: [`plan`] must run on pingora's head.
    More,
}

/// [`Planned`] for a head with `facts` (`has_vary`: it has a `Vary` field), for a
/// client whose `Accept-Encoding` is `accept`.
pub(crate) fn planned(
    facts: &Facts<'_>,
    has_vary: bool,
    settings: &Compression,
    accept: Option<&str>,
) -> Planned {
    if !facts.compressible(settings) {
        return Planned::Nothing;
    }
    if has_vary {
        return Planned::More;
    }
    match negotiate(settings, accept) {
        None => Planned::Vary,
        Some(_) => Planned::More,
    }
}

/// The parts of a response head that decide whether it is compressed, read from
/// pingora's map or from the fields as they came off the wire.
pub(crate) struct Facts<'a> {
    status: u16,
    content_type: Option<&'a [u8]>,
    length: Option<u64>,
    encoded: bool,
    ranged: bool,
    no_transform: bool,
}

impl<'a> Facts<'a> {
    /// From a parsed head.
    pub(crate) fn of_header(resp: &'a ResponseHeader) -> Self {
        Self::of_fields(
            resp.status.as_u16(),
            resp.headers
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
        )
    }

    /// From `(name, value)` pairs (names in any case).
    pub(crate) fn of_fields(
        status: u16,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Self {
        let mut f = Facts {
            status,
            content_type: None,
            length: None,
            encoded: false,
            ranged: false,
            no_transform: false,
        };
        for (name, value) in fields {
            if name.eq_ignore_ascii_case(b"content-type") {
                f.content_type.get_or_insert(value);
            } else if name.eq_ignore_ascii_case(b"content-length") {
                f.length = f.length.or_else(|| {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                });
            } else if name.eq_ignore_ascii_case(b"content-encoding") {
                f.encoded |= !value.trim_ascii().eq_ignore_ascii_case(b"identity");
            } else if name.eq_ignore_ascii_case(b"content-range") {
                f.ranged = true;
            } else if name.eq_ignore_ascii_case(b"cache-control") {
                f.no_transform |= value
                    .split(|b| *b == b',')
                    .any(|d| d.trim_ascii().eq_ignore_ascii_case(b"no-transform"));
            }
        }
        f
    }

    /// The same with the body's length known (a length field among the fields, if
    /// any, is the one that is replaced).
    pub(crate) fn with_length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }

    /// Left as it is whatever the settings and the client: partial or bodiless,
    /// already encoded (never double-compress), or `no-transform`.
    pub(crate) fn never_compressed(&self) -> bool {
        matches!(self.status, 100..=199 | 204 | 206 | 304)
            || self.ranged
            || self.encoded
            || self.no_transform
    }

    /// The media type, lowercase, without parameters.
    pub(crate) fn media(&self) -> Option<String> {
        let ct = std::str::from_utf8(self.content_type?).ok()?;
        Some(crate::media::media_type(ct).0)
    }

    /// Whether a site with `settings` compresses it for a client that accepts a
    /// coding (and so marks it `Vary: Accept-Encoding` for every client).
    pub(crate) fn compressible(&self, settings: &Compression) -> bool {
        settings.enabled
            && !self.never_compressed()
            && self.media().is_some_and(|m| settings.compresses(&m))
            && self.length.is_none_or(|n| n >= settings.min_size)
    }
}

/// Rewrites the head of a response whose body will be sent encoded with `coding`.
pub fn encoded_head(resp: &mut ResponseHeader, coding: Coding) -> pingora::Result<()> {
    resp.insert_header(header::CONTENT_ENCODING, coding.token())?;
    streamed_head(resp)?;
    // Other bytes than the origin's: a strong validator would lie (RFC 9110 §8.8.1).
    if let Some(etag) = resp
        .headers
        .get(header::ETAG)
        .map(|v| v.as_bytes().to_vec())
    {
        if etag.starts_with(b"\"") {
            let mut weak = b"W/".to_vec();
            weak.extend_from_slice(&etag);
            if let Ok(v) = http::HeaderValue::from_bytes(&weak) {
                resp.insert_header(header::ETAG, v)?;
            }
        } else if !etag.starts_with(b"W/") {
            resp.remove_header(&header::ETAG);
        }
    }
    Ok(())
}

impl Outcome {
    /// Counts a response compressed on the fly in `m` (nothing when it was not).
    pub(crate) fn count(&self, m: &crate::metrics::Metrics) {
        let Some(coding) = self.coding else {
            return;
        };
        let token = coding.token();
        m.compressed.with_label_values(&[token]).inc();
        m.compression_bytes
            .with_label_values(&[token, "in"])
            .inc_by(self.bytes_in);
        m.compression_bytes
            .with_label_values(&[token, "out"])
            .inc_by(self.bytes_out);
    }
}

/// One response body's compressor, counting bytes in and out.
pub struct Encoder {
    codec: Option<Codec>,
    outcome: Outcome,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl Encoder {
    /// An encoder for `coding` at the site's level for it.
    pub fn new(coding: Coding, settings: &Compression) -> std::io::Result<Encoder> {
        let level = match coding {
            Coding::Gzip | Coding::Deflate => settings.gzip_level,
            Coding::Brotli => settings.brotli_level,
            Coding::Zstd => u32::try_from(settings.zstd_level).unwrap_or(3),
        };
        Ok(Encoder {
            codec: Some(Codec::encoder_at(coding, level)?),
            outcome: Outcome {
                coding: Some(coding),
                ..Outcome::default()
            },
        })
    }

    /// What was compressed so far.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Compresses one chunk (`end`: the last; the coding's trailer is added). After
    /// the end, further calls return nothing.
    pub fn encode(&mut self, data: &[u8], end: bool) -> std::io::Result<Vec<u8>> {
        let Some(codec) = self.codec.as_mut() else {
            return Ok(Vec::new());
        };
        self.outcome.bytes_in += data.len() as u64;
        let mut out = if data.is_empty() {
            Vec::new()
        } else {
            codec.push(data)?
        };
        if end && let Some(codec) = self.codec.take() {
            out.extend(codec.finish()?);
        }
        self.outcome.bytes_out += out.len() as u64;
        Ok(out)
    }

    /// Compresses a body chunk in place as a pingora body filter does: `None` when
    /// nothing is ready yet (an empty chunk would end a chunked body early).
    pub fn filter(&mut self, body: &mut Option<Bytes>, end: bool) -> pingora::Result<()> {
        let data = body.take().unwrap_or_default();
        match self.encode(&data, end) {
            Ok(out) if out.is_empty() && !end => *body = None,
            Ok(out) => *body = Some(Bytes::from(out)),
            Err(e) => {
                return Err(pingora::Error::explain(
                    pingora::ErrorType::InternalError,
                    format!("compression failed: {e}"),
                ));
            }
        }
        Ok(())
    }
}

/// Says the response depends on `Accept-Encoding` (once: kept if `Vary` already names
/// it or `*`). Every `Vary` field is folded into one, so clients that read only the
/// first one see it.
pub(crate) fn vary_on_accept_encoding(resp: &mut ResponseHeader) {
    let values: Vec<&[u8]> = resp
        .headers
        .get_all(header::VARY)
        .iter()
        .map(|v| v.as_bytes().trim_ascii())
        .filter(|v| !v.is_empty())
        .collect();
    let present = values.iter().any(|v| {
        v.split(|b| *b == b',').any(|t| {
            let t = t.trim_ascii();
            t == b"*" || t.eq_ignore_ascii_case(b"accept-encoding")
        })
    });
    if present {
        return;
    }
    let mut folded = values.join(&b", "[..]);
    if !folded.is_empty() {
        folded.extend_from_slice(b", ");
    }
    folded.extend_from_slice(b"Accept-Encoding");
    if let Ok(v) = http::HeaderValue::from_bytes(&folded) {
        let _ = resp.insert_header(header::VARY, v);
    }
}

/// Head changes for a body that is re-made on the way out (compressed or rewritten):
/// its length is unknown until the end and byte ranges of the origin's body no longer
/// apply.
pub(crate) fn streamed_head(resp: &mut ResponseHeader) -> pingora::Result<()> {
    resp.remove_header(&header::CONTENT_LENGTH);
    resp.remove_header(&header::ACCEPT_RANGES);
    // pingora frames an HTTP/1.1 body by this header (and drops it for HTTP/2).
    resp.insert_header(header::TRANSFER_ENCODING, "chunked")?;
    Ok(())
}

#[async_trait]
impl HttpModule for CompressModule {
    async fn request_header_filter(&mut self, req: &mut RequestHeader) -> pingora::Result<()> {
        self.accept = req
            .headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(())
    }

    async fn response_header_filter(
        &mut self,
        resp: &mut ResponseHeader,
        end_of_stream: bool,
    ) -> pingora::Result<()> {
        let Some(settings) = self.settings.clone() else {
            return Ok(());
        };
        // A bodiless answer (HEAD, or an empty body) has nothing to encode.
        if end_of_stream || resp.status.is_informational() {
            return Ok(());
        }
        let Some(coding) = plan(resp, &settings, self.accept.as_deref()) else {
            return Ok(());
        };
        match Encoder::new(coding, &settings) {
            Ok(encoder) => self.encoder = Some(encoder),
            Err(e) => {
                tracing::warn!(error = %e, coding = coding.token(), "compressor set-up failed; sending uncompressed");
                return Ok(());
            }
        }
        encoded_head(resp, coding)
    }

    fn response_body_filter(
        &mut self,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
    ) -> pingora::Result<()> {
        match self.encoder.as_mut() {
            Some(encoder) => encoder.filter(body, end_of_stream),
            None => Ok(()),
        }
    }

    fn response_done_filter(&mut self) -> pingora::Result<Option<Bytes>> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Ok(None);
        };
        let mut tail = None;
        encoder.filter(&mut tail, true)?;
        Ok(tail.filter(|b| !b.is_empty()))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Builds the module for each request (inactive until `request_filter` hands it the
/// site's settings).
#[derive(Debug)]
pub struct CompressBuilder;

impl HttpModuleBuilder for CompressBuilder {
    fn init(&self) -> Module {
        Box::<CompressModule>::default()
    }

    fn order(&self) -> i16 {
        // After other modules' response filters, as pingora's own compression module.
        i16::MIN / 2
    }
}
