//! Content codings (gzip, deflate, br, zstd), streamed chunk by chunk in constant
//! memory: `HTMLRewriter` decodes a compressed page before rewriting it, and `proxy`'s
//! HTML profiles decode origin pages and encode the result for the client.

use std::io::Write;

/// A content coding Outpost can decode and encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `gzip`.
    Gzip,
    /// `deflate` (zlib framing, as RFC 9110 defines it).
    Deflate,
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
}

impl Coding {
    /// The coding a `Content-Encoding` value names: `Some(None)` for identity, `None`
    /// for a coding (or a stack of them) Outpost cannot decode.
    pub fn from_content_encoding(value: Option<&str>) -> Option<Option<Coding>> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Some(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "identity" => Some(None),
            "gzip" | "x-gzip" => Some(Some(Coding::Gzip)),
            "deflate" => Some(Some(Coding::Deflate)),
            "br" => Some(Some(Coding::Brotli)),
            "zstd" => Some(Some(Coding::Zstd)),
            _ => None,
        }
    }

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// The coding to send a client whose `Accept-Encoding` is `accept`: the origin's
    /// own if the client takes it (no surprise for caches downstream), else the best
    /// the client takes (br, zstd, gzip), else none.
    pub fn for_client(accept: Option<&str>, origin: Option<Coding>) -> Option<Coding> {
        let origin = origin?;
        if accept_q(accept.unwrap_or(""), origin.token()) > 0.0 {
            return Some(origin);
        }
        Coding::negotiate(accept, &[Coding::Brotli, Coding::Zstd, Coding::Gzip])
    }

    /// The coding among `offered` (best first) that a client whose `Accept-Encoding`
    /// is `accept` prefers: highest `q` wins, ties go to the earlier offer; `None`
    /// when it takes none of them (or sent no `Accept-Encoding`, which RFC 9110
    /// allows us to read as "anything", but old clients mean "identity" by it).
    pub fn negotiate(accept: Option<&str>, offered: &[Coding]) -> Option<Coding> {
        let accept = accept?;
        let mut best: Option<(f32, Coding)> = None;
        for &c in offered {
            let q = accept_q(accept, c.token());
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, c));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// A short canonical form of an `Accept-Encoding` value, for cache variance: the
/// codings Outpost knows that it accepts, in a fixed order (`"br,zstd,gzip"`), so the
/// many spellings browsers send make a handful of variants, not hundreds.
pub fn accept_encoding_key(accept: Option<&str>) -> String {
    let accept = accept.unwrap_or("");
    let mut key = String::new();
    for token in ["br", "zstd", "gzip", "deflate"] {
        if accept_q(accept, token) > 0.0 {
            if !key.is_empty() {
                key.push(',');
            }
            key.push_str(token);
        }
    }
    key
}

impl From<outpost_config::CompressCoding> for Coding {
    fn from(c: outpost_config::CompressCoding) -> Self {
        match c {
            outpost_config::CompressCoding::Brotli => Coding::Brotli,
            outpost_config::CompressCoding::Zstd => Coding::Zstd,
            outpost_config::CompressCoding::Gzip => Coding::Gzip,
        }
    }
}

/// The `q` an `Accept-Encoding` value gives `token`: its own entry's, else `*`'s,
/// else 0. Entries without `q` count as 1; a malformed `q` as 0.
fn accept_q(accept: &str, token: &str) -> f32 {
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(token)
            || (token == "gzip" && name.eq_ignore_ascii_case("x-gzip"))
        {
            return q;
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star.unwrap_or(0.0)
}

/// A streaming decoder or encoder writing into a buffer that is drained after every
/// chunk.
pub struct Codec(Inner);

enum Inner {
    GzipDecode(flate2::write::GzDecoder<Vec<u8>>),
    DeflateDecode(flate2::write::ZlibDecoder<Vec<u8>>),
    BrotliDecode(Box<brotli::DecompressorWriter<Vec<u8>>>),
    ZstdDecode(zstd::stream::write::Decoder<'static, Vec<u8>>),
    GzipEncode(flate2::write::GzEncoder<Vec<u8>>),
    DeflateEncode(flate2::write::ZlibEncoder<Vec<u8>>),
    BrotliEncode(Box<brotli::CompressorWriter<Vec<u8>>>),
    ZstdEncode(zstd::stream::write::Encoder<'static, Vec<u8>>),
    RawDecode(flate2::write::DeflateDecoder<Vec<u8>>),
    RawEncode(flate2::write::DeflateEncoder<Vec<u8>>),
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Codec")
    }
}

/// Brotli quality for on-the-fly encoding: level 11 is for static assets; 5 keeps
/// most of the gain at a fraction of the CPU (the choice nginx and Cloudflare make
/// for dynamic compression).
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW: u32 = 22;

impl Codec {
    /// A decoder for `coding`.
    pub fn decoder(coding: Coding) -> std::io::Result<Codec> {
        Ok(Codec(match coding {
            Coding::Gzip => Inner::GzipDecode(flate2::write::GzDecoder::new(Vec::new())),
            Coding::Deflate => Inner::DeflateDecode(flate2::write::ZlibDecoder::new(Vec::new())),
            Coding::Brotli => {
                Inner::BrotliDecode(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096)))
            }
            Coding::Zstd => Inner::ZstdDecode(zstd::stream::write::Decoder::new(Vec::new())?),
        }))
    }

    /// A decoder (or, with `encode`, an encoder) of raw DEFLATE (RFC 1951, no zlib
    /// framing): `deflate-raw` of the Compression Streams standard.
    pub fn raw_deflate(encode: bool) -> Codec {
        Codec(if encode {
            Inner::RawEncode(flate2::write::DeflateEncoder::new(
                Vec::new(),
                flate2::Compression::new(5),
            ))
        } else {
            Inner::RawDecode(flate2::write::DeflateDecoder::new(Vec::new()))
        })
    }

    /// An encoder for `coding` at the levels HTML rewriting uses (gzip 5, brotli 5,
    /// zstd 3).
    pub fn encoder(coding: Coding) -> std::io::Result<Codec> {
        let level = match coding {
            Coding::Gzip | Coding::Deflate => 5,
            Coding::Brotli => BROTLI_QUALITY,
            Coding::Zstd => 3,
        };
        Codec::encoder_at(coding, level)
    }

    /// An encoder for `coding` at `level` (gzip/deflate 1..=9, brotli 0..=11, zstd
    /// 1..=19; out-of-range levels are clamped by the libraries).
    pub fn encoder_at(coding: Coding, level: u32) -> std::io::Result<Codec> {
        let flate_level = flate2::Compression::new(level.min(9));
        let level_zstd = i32::try_from(level).unwrap_or(3);
        Ok(Codec(match coding {
            Coding::Gzip => {
                Inner::GzipEncode(flate2::write::GzEncoder::new(Vec::new(), flate_level))
            }
            Coding::Deflate => {
                Inner::DeflateEncode(flate2::write::ZlibEncoder::new(Vec::new(), flate_level))
            }
            Coding::Brotli => Inner::BrotliEncode(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                level.min(11),
                BROTLI_WINDOW,
            ))),
            Coding::Zstd => {
                Inner::ZstdEncode(zstd::stream::write::Encoder::new(Vec::new(), level_zstd)?)
            }
        }))
    }

    /// Feeds `data`; returns what came out. Encoders flush, so the client gets each
    /// chunk's bytes now rather than when the encoder's window fills.
    pub fn push(&mut self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        macro_rules! feed {
            ($w:expr, $flush:expr) => {{
                $w.write_all(data)?;
                if $flush {
                    $w.flush()?;
                }
                Ok(std::mem::take($w.get_mut()))
            }};
        }
        match &mut self.0 {
            Inner::GzipDecode(w) => feed!(w, false),
            Inner::DeflateDecode(w) => feed!(w, false),
            Inner::BrotliDecode(w) => feed!(w, false),
            Inner::ZstdDecode(w) => feed!(w, true),
            Inner::GzipEncode(w) => feed!(w, true),
            Inner::DeflateEncode(w) => feed!(w, true),
            Inner::BrotliEncode(w) => feed!(w, true),
            Inner::ZstdEncode(w) => feed!(w, true),
            Inner::RawDecode(w) => feed!(w, false),
            Inner::RawEncode(w) => feed!(w, true),
        }
    }

    /// Ends the stream; returns the last bytes (an encoder's trailer). A decoder fails
    /// here if its input stopped short.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        match self.0 {
            Inner::GzipDecode(w) => w.finish(),
            Inner::DeflateDecode(w) => w.finish(),
            Inner::BrotliDecode(mut w) => {
                w.close()
                    .map_err(|_| std::io::Error::other("truncated brotli stream"))?;
                Ok(std::mem::take(w.get_mut()))
            }
            Inner::ZstdDecode(mut w) => {
                w.flush()?;
                Ok(std::mem::take(w.get_mut()))
            }
            Inner::GzipEncode(w) => w.finish(),
            Inner::DeflateEncode(w) => w.finish(),
            Inner::BrotliEncode(w) => Ok(w.into_inner()),
            Inner::ZstdEncode(w) => w.finish(),
            Inner::RawDecode(w) => w.finish(),
            Inner::RawEncode(w) => w.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_small_chunks() {
        let text: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("<p>{i}</p>").into_bytes())
            .collect();
        for coding in [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd] {
            let mut enc = Codec::encoder(coding).expect("encoder");
            let mut packed = Vec::new();
            for c in text.chunks(1000) {
                packed.extend(enc.push(c).expect("encode"));
            }
            packed.extend(enc.finish().expect("finish"));
            assert!(packed.len() < text.len() / 3, "{coding:?} compresses");
            let mut dec = Codec::decoder(coding).expect("decoder");
            let mut out = Vec::new();
            for c in packed.chunks(777) {
                out.extend(dec.push(c).expect("decode"));
            }
            out.extend(dec.finish().expect("finish"));
            assert_eq!(out, text, "{coding:?}");
        }
    }

    #[test]
    fn client_choice() {
        use Coding::*;
        assert_eq!(Coding::for_client(Some("gzip, br"), Some(Gzip)), Some(Gzip));
        assert_eq!(Coding::for_client(Some("gzip"), Some(Brotli)), Some(Gzip));
        assert_eq!(
            Coding::for_client(Some("br;q=0, gzip"), Some(Brotli)),
            Some(Gzip)
        );
        assert_eq!(Coding::for_client(None, Some(Gzip)), None);
        assert_eq!(Coding::for_client(Some("gzip"), None), None);
        assert!(Coding::from_content_encoding(Some("gzip, br")).is_none());
        let offer = [Brotli, Zstd, Gzip];
        assert_eq!(
            Coding::negotiate(Some("gzip, deflate, br, zstd"), &offer),
            Some(Brotli)
        );
        assert_eq!(
            Coding::negotiate(Some("gzip;q=1, br;q=0.5"), &offer),
            Some(Gzip)
        );
        assert_eq!(Coding::negotiate(Some("*"), &offer), Some(Brotli));
        assert_eq!(Coding::negotiate(Some("*, br;q=0"), &offer), Some(Zstd));
        assert_eq!(Coding::negotiate(Some("identity"), &offer), None);
        assert_eq!(Coding::negotiate(Some("gzip;q=0"), &offer), None);
        assert_eq!(Coding::negotiate(None, &offer), None);
        assert_eq!(Coding::negotiate(Some("x-gzip"), &[Gzip]), Some(Gzip));
        assert_eq!(
            accept_encoding_key(Some("gzip, deflate, br, zstd")),
            "br,zstd,gzip,deflate"
        );
        assert_eq!(
            accept_encoding_key(Some("br;q=1.0, gzip;q=0.8, *;q=0.1")),
            "br,zstd,gzip,deflate"
        );
        assert_eq!(accept_encoding_key(Some("identity")), "");
        assert_eq!(accept_encoding_key(None), "");
    }
}
