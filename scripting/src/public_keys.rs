//! Web Crypto's public-key signatures, native side: public keys brought to one form
//! per kind (an uncompressed point for ECDSA, 32 bytes for Ed25519, an `RSAPublicKey`
//! DER for RSA) from SPKI, raw bytes or JWK parts, and verification on ring. Key
//! objects, algorithm parameters and errors as Web Crypto names them live in the
//! prelude.

use crate::convert::{arg, bytes_of, string_arg, type_error, uint8_array};
use boa_engine::{Context, JsResult, JsValue};

/// Object identifiers an SPKI may name (DER content bytes).
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// One DER element at the start of `input`: (tag, contents, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The key `kind` (`EC-P-256`, `EC-P-384`, `Ed25519`, `RSA`) in its one form, from
/// an SPKI; `None` if it is not an SPKI of that kind.
fn from_spki(kind: &str, spki: &[u8]) -> Option<Vec<u8>> {
    let (0x30, body, []) = der(spki)? else {
        return None;
    };
    let (0x30, algorithm, rest) = der(body)? else {
        return None;
    };
    let (0x03, bits, []) = der(rest)? else {
        return None;
    };
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    let (0x06, oid, params) = der(algorithm)? else {
        return None;
    };
    let curve = |want: &[u8]| matches!(der(params), Some((0x06, c, [])) if c == want);
    let ok = match kind {
        "RSA" => oid == RSA_ENCRYPTION,
        "EC-P-256" => oid == EC_PUBLIC_KEY && curve(P256),
        "EC-P-384" => oid == EC_PUBLIC_KEY && curve(P384),
        "Ed25519" => oid == ED25519 && params.is_empty(),
        _ => false,
    };
    ok.then(|| key.to_vec())
}

/// DER `INTEGER` of an unsigned big-endian number.
fn der_integer(out: &mut Vec<u8>, n: &[u8]) {
    let n = match n.iter().position(|&b| b != 0) {
        Some(i) => &n[i..],
        None => &[0u8][..],
    };
    let pad = n[0] & 0x80 != 0;
    out.push(0x02);
    der_length(out, n.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(n);
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// `publicKey(kind, format, data, extra) -> Uint8Array`: `format` is `spki`, `raw`
/// (EC points, Ed25519 keys) or `jwk` (`data` then holds `x` or `n`, `extra` `y` or
/// `e`, decoded by the prelude). Throws a TypeError the prelude turns into a
/// `DataError`.
pub(crate) fn public_key(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let kind = string_arg(args, 0, ctx)?;
    let format = string_arg(args, 1, ctx)?;
    let data = bytes_of(&arg(args, 2), ctx)?;
    let bad = || type_error(format!("invalid {format} key data for {kind}"));
    let key = match (format.as_str(), kind.as_str()) {
        ("spki", _) => from_spki(&kind, &data).ok_or_else(bad)?,
        ("raw" | "jwk", "Ed25519") if data.len() == 32 => data,
        ("raw", "EC-P-256") if data.len() == 65 && data[0] == 4 => data,
        ("raw", "EC-P-384") if data.len() == 97 && data[0] == 4 => data,
        ("jwk", "EC-P-256" | "EC-P-384") => {
            let y = bytes_of(&arg(args, 3), ctx)?;
            let size = if kind == "EC-P-256" { 32 } else { 48 };
            if data.len() != size || y.len() != size {
                return Err(bad());
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&data);
            point.extend_from_slice(&y);
            point
        }
        ("jwk", "RSA") => {
            let e = bytes_of(&arg(args, 3), ctx)?;
            if data.is_empty() || e.is_empty() {
                return Err(bad());
            }
            let mut body = Vec::with_capacity(data.len() + e.len() + 16);
            der_integer(&mut body, &data);
            der_integer(&mut body, &e);
            let mut seq = vec![0x30];
            der_length(&mut seq, body.len());
            seq.extend_from_slice(&body);
            seq
        }
        _ => return Err(bad()),
    };
    uint8_array(&key, ctx)
}

/// `verifySignature(algorithm, key, signature, data) -> boolean`: `algorithm` names the
/// scheme and hash as ring does (`ECDSA-P-256-SHA-256`, `ECDSA-P-384-SHA-384`, `Ed25519`,
/// `RSASSA-PKCS1-v1_5-SHA-256`, `RSA-PSS-SHA-256`, …). A signature that does not check
/// (or a key ring refuses) is `false`.
pub(crate) fn verify_signature(
    _: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    use ring::signature as s;
    let alg = string_arg(args, 0, ctx)?;
    let key = bytes_of(&arg(args, 1), ctx)?;
    let signature = bytes_of(&arg(args, 2), ctx)?;
    let data = bytes_of(&arg(args, 3), ctx)?;
    let scheme: &dyn s::VerificationAlgorithm = match alg.as_str() {
        // (ring verifies IEEE P1363 signatures, Web Crypto's form, for these pairs.)
        "ECDSA-P-256-SHA-256" => &s::ECDSA_P256_SHA256_FIXED,
        "ECDSA-P-384-SHA-384" => &s::ECDSA_P384_SHA384_FIXED,
        "Ed25519" => &s::ED25519,
        "RSASSA-PKCS1-v1_5-SHA-1" => &s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "RSASSA-PKCS1-v1_5-SHA-256" => &s::RSA_PKCS1_2048_8192_SHA256,
        "RSASSA-PKCS1-v1_5-SHA-384" => &s::RSA_PKCS1_2048_8192_SHA384,
        "RSASSA-PKCS1-v1_5-SHA-512" => &s::RSA_PKCS1_2048_8192_SHA512,
        "RSA-PSS-SHA-256" => &s::RSA_PSS_2048_8192_SHA256,
        "RSA-PSS-SHA-384" => &s::RSA_PSS_2048_8192_SHA384,
        "RSA-PSS-SHA-512" => &s::RSA_PSS_2048_8192_SHA512,
        other => return Err(type_error(format!("unsupported signature scheme {other}"))),
    };
    let ok = s::UnparsedPublicKey::new(scheme, &key)
        .verify(&data, &signature)
        .is_ok();
    Ok(JsValue::from(ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_keep_their_sign_bit_clear() {
        let mut out = Vec::new();
        der_integer(&mut out, &[0x00, 0x80, 0x01]);
        assert_eq!(out, [0x02, 0x03, 0x00, 0x80, 0x01]);
        let mut out = Vec::new();
        der_integer(&mut out, &[0x01, 0x00, 0x01]);
        assert_eq!(out, [0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut long = Vec::new();
        der_length(&mut long, 300);
        assert_eq!(long, [0x82, 0x01, 0x2c]);
    }

    #[test]
    fn an_spki_of_another_kind_is_refused() {
        // An Ed25519 SPKI (RFC 8410 example key).
        let spki = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 0x19, 0xbf,
            0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b, 0x96,
            0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31,
            0x66, 0xe1,
        ];
        assert_eq!(from_spki("Ed25519", &spki).map(|k| k.len()), Some(32));
        assert!(from_spki("RSA", &spki).is_none());
        assert!(from_spki("EC-P-256", &spki).is_none());
        assert!(from_spki("Ed25519", &spki[..20]).is_none());
    }
}
