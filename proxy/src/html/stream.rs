//! One response's rewrite: decode, rewrite with lol_html, encode, chunk by chunk.

use super::profile::{CompiledProfile, RequestValues};
use super::{Codec, Coding};
use crate::error::ProxyError;
use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// lol_html's output for the chunk being processed (shared with its sink).
#[derive(Clone, Default)]
struct Out(Arc<Mutex<Vec<u8>>>);

impl Out {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl lol_html::OutputSink for Out {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(chunk);
        }
    }
}

/// The rewrite of one response body.
pub struct PageRewriter {
    decoder: Option<(Coding, Codec)>,
    rewriter: Option<lol_html::send::HtmlRewriter<'static, Out>>,
    out: Out,
    encoder: Option<(Coding, Codec)>,
}

impl std::fmt::Debug for PageRewriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRewriter")
            .field("decode", &self.decoder.as_ref().map(|d| d.0))
            .field("encode", &self.encoder.as_ref().map(|e| e.0))
            .finish()
    }
}

/// Buffers lol_html may hold for one response (a single tag longer than this fails
/// the rewrite): bounds memory whatever the page.
const REWRITER_MEMORY: usize = 8 << 20;

impl PageRewriter {
    /// A rewrite of a body in `charset` (from `Content-Type`; `None` lets a
    /// `<meta charset>` decide, UTF-8 otherwise), coded as `from`, for a client that
    /// gets `to`. `None` if the charset is not one lol_html can rewrite (UTF-16).
    pub fn new(
        profile: &Arc<CompiledProfile>,
        values: Arc<RequestValues>,
        charset: Option<&str>,
        from: Option<Coding>,
        to: Option<Coding>,
    ) -> std::io::Result<Option<Self>> {
        let (encoding, from_meta) = match charset {
            Some(label) => match encoding_rs::Encoding::for_label(label.trim().as_bytes()) {
                Some(e) => (e, false),
                None => (encoding_rs::UTF_8, false),
            },
            None => (encoding_rs::UTF_8, true),
        };
        let Some(encoding) = lol_html::AsciiCompatibleEncoding::new(encoding) else {
            return Ok(None);
        };
        let out = Out::default();
        let settings = profile
            .settings(values)
            .with_encoding(encoding)
            .with_adjust_charset_on_meta_tag(from_meta)
            .with_memory_settings(
                lol_html::MemorySettings::new().with_max_allowed_memory_usage(REWRITER_MEMORY),
            );
        let rewriter = lol_html::send::HtmlRewriter::new(settings, out.clone());
        Ok(Some(PageRewriter {
            decoder: from
                .map(|c| Codec::decoder(c).map(|d| (c, d)))
                .transpose()?,
            rewriter: Some(rewriter),
            out,
            encoder: to.map(|c| Codec::encoder(c).map(|e| (c, e))).transpose()?,
        }))
    }

    /// Rewrites the next chunk of the body; returns what to send now (maybe nothing).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, ProxyError> {
        let decoded;
        let html = match &mut self.decoder {
            Some((c, d)) => {
                decoded = d.push(chunk).map_err(|source| ProxyError::HtmlCodec {
                    coding: c.token(),
                    source,
                })?;
                &decoded[..]
            }
            None => chunk,
        };
        if let Some(r) = &mut self.rewriter
            && !html.is_empty()
        {
            r.write(html).map_err(ProxyError::HtmlRewriter)?;
        }
        self.encode(false)
    }

    /// Ends the body; returns the last bytes.
    pub fn finish(&mut self) -> Result<Bytes, ProxyError> {
        if let Some((c, d)) = self.decoder.take() {
            let rest = d.finish().map_err(|source| ProxyError::HtmlCodec {
                coding: c.token(),
                source,
            })?;
            if let Some(r) = &mut self.rewriter
                && !rest.is_empty()
            {
                r.write(&rest).map_err(ProxyError::HtmlRewriter)?;
            }
        }
        if let Some(r) = self.rewriter.take() {
            r.end().map_err(ProxyError::HtmlRewriter)?;
        }
        self.encode(true)
    }

    fn encode(&mut self, last: bool) -> Result<Bytes, ProxyError> {
        let html = self.out.take();
        let Some((c, e)) = &mut self.encoder else {
            return Ok(Bytes::from(html));
        };
        let coding = c.token();
        let mut bytes = if html.is_empty() {
            Vec::new()
        } else {
            e.push(&html)
                .map_err(|source| ProxyError::HtmlCodec { coding, source })?
        };
        if last && let Some((_, e)) = self.encoder.take() {
            bytes.extend(
                e.finish()
                    .map_err(|source| ProxyError::HtmlCodec { coding, source })?,
            );
        }
        Ok(Bytes::from(bytes))
    }
}
