//! The native half of `CompressionStream` / `DecompressionStream` (Compression Streams
//! standard: gzip, deflate, deflate-raw): one codec per stream, fed synchronously from
//! the stream's transform callbacks (so the work counts as the request's CPU time).

use crate::codec::{Codec, Coding};
use boa_engine::{Context, JsNativeError, JsResult, JsValue};
use foldhash::{HashMap, HashMapExt};
use std::cell::{Cell, RefCell};

thread_local! {
    static NEXT: Cell<u64> = const { Cell::new(1) };
    /// Each codec with the request that made it (dropped with that request).
    static CODECS: RefCell<HashMap<u64, (u64, Codec)>> = RefCell::new(HashMap::new());
}

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

/// `codecOpen(format, compress) -> id`.
pub(crate) fn open(request: u64, format: &str, compress: bool) -> JsResult<u64> {
    let coding = match format {
        "gzip" => Some(Coding::Gzip),
        "deflate" => Some(Coding::Deflate),
        "deflate-raw" => None,
        other => {
            return Err(type_error(format!(
                "Unsupported compression format: '{other}'"
            )));
        }
    };
    let codec = match (coding, compress) {
        (Some(c), true) => Codec::encoder(c),
        (Some(c), false) => Codec::decoder(c),
        (None, encode) => Ok(Codec::raw_deflate(encode)),
    }
    .map_err(|e| type_error(e.to_string()))?;
    let id = NEXT.get();
    NEXT.set(id + 1);
    CODECS.with_borrow_mut(|m| m.insert(id, (request, codec)));
    Ok(id)
}

/// `codecPush(id, bytes) -> Uint8Array`; with `last`, ends the codec (`codecFinish`).
pub(crate) fn push(id: u64, data: &[u8], last: bool, ctx: &mut Context) -> JsResult<JsValue> {
    let failed = |e: std::io::Error| type_error(format!("The compressed data is not valid: {e}"));
    let out = if last {
        let (_, codec) = CODECS
            .with_borrow_mut(|m| m.remove(&id))
            .ok_or_else(|| type_error("the stream has already ended"))?;
        codec.finish().map_err(failed)?
    } else {
        CODECS
            .with_borrow_mut(|m| m.get_mut(&id).map(|(_, c)| c.push(data)))
            .ok_or_else(|| type_error("the stream has already ended"))?
            .map_err(failed)?
    };
    crate::convert::uint8_array(&out, ctx)
}

/// Drops the codecs `request` left open.
pub(crate) fn drop_for(request: u64) {
    CODECS.with_borrow_mut(|m| m.retain(|_, (r, _)| *r != request));
}
