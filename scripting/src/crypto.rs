//! Web Crypto's native side: random bytes, UUIDs, digests and HMAC, on ring (the
//! crypto library under the TLS stack; public-key signatures are `public_keys`). Keys
//! and algorithm checks live in the prelude.

use crate::convert::{arg, array_buffer, bytes_of, string_arg, type_error, uint8_array};
use boa_engine::{Context, JsResult, JsString, JsValue};

fn fill_random(buf: &mut [u8]) -> JsResult<()> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| type_error("the system random number generator failed"))
}

/// `random(n) -> Uint8Array`.
pub(crate) fn random(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let n = (arg(args, 0).to_length(ctx)? as usize).min(65536);
    let mut buf = vec![0u8; n];
    fill_random(&mut buf)?;
    uint8_array(&buf, ctx)
}

/// `uuid() -> string` (version 4).
pub(crate) fn uuid(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let mut b = [0u8; 16];
    fill_random(&mut b)?;
    let id = uuid::Builder::from_random_bytes(b).into_uuid();
    Ok(JsString::from(id.hyphenated().to_string().as_str()).into())
}

/// `digest(name, bytes) -> ArrayBuffer`.
pub(crate) fn digest(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = string_arg(args, 0, ctx)?;
    let alg = match name.as_str() {
        "SHA-1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => &ring::digest::SHA256,
        "SHA-384" => &ring::digest::SHA384,
        "SHA-512" => &ring::digest::SHA512,
        other => return Err(type_error(format!("unsupported digest {other}"))),
    };
    let data = bytes_of(&arg(args, 1), ctx)?;
    let out = ring::digest::digest(alg, &data);
    Ok(array_buffer(out.as_ref(), ctx)?.into())
}

fn hmac_algorithm(name: &str) -> JsResult<ring::hmac::Algorithm> {
    Ok(match name {
        "SHA-1" => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => ring::hmac::HMAC_SHA256,
        "SHA-384" => ring::hmac::HMAC_SHA384,
        "SHA-512" => ring::hmac::HMAC_SHA512,
        other => return Err(type_error(format!("unsupported HMAC hash {other}"))),
    })
}

/// `hmacSign(hash, key, data) -> ArrayBuffer`.
pub(crate) fn hmac_sign(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let alg = hmac_algorithm(&string_arg(args, 0, ctx)?)?;
    let key = ring::hmac::Key::new(alg, &bytes_of(&arg(args, 1), ctx)?);
    let tag = ring::hmac::sign(&key, &bytes_of(&arg(args, 2), ctx)?);
    Ok(array_buffer(tag.as_ref(), ctx)?.into())
}

/// `hmacVerify(hash, key, signature, data) -> boolean`, in constant time.
pub(crate) fn hmac_verify(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let alg = hmac_algorithm(&string_arg(args, 0, ctx)?)?;
    let key = ring::hmac::Key::new(alg, &bytes_of(&arg(args, 1), ctx)?);
    let signature = bytes_of(&arg(args, 2), ctx)?;
    let data = bytes_of(&arg(args, 3), ctx)?;
    Ok(ring::hmac::verify(&key, &data, &signature).is_ok().into())
}
