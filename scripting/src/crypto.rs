//! Web Crypto's native side: random bytes, UUIDs, digests, HMAC, AES-GCM, PBKDF2 and
//! HKDF, on ring (the crypto library under the TLS stack; public-key signatures are
//! `public_keys`). Keys and algorithm checks live in the prelude.

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
    if name == "MD5" {
        // (Not in Web Crypto; Workers have it, for ETags and Content-MD5.)
        use md5::Digest;
        let out = md5::Md5::digest(bytes_of(&arg(args, 1), ctx)?);
        return Ok(array_buffer(&out, ctx)?.into());
    }
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

/// `aesGcm(encrypt, key, iv, additionalData, data) -> ArrayBuffer`: AES-128/256-GCM
/// with a 96-bit IV and a 128-bit tag (appended to the ciphertext, as Web Crypto
/// gives it). A failed decryption throws "decryption failed" (the prelude's
/// OperationError).
pub(crate) fn aes_gcm(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    use ring::aead;
    let encrypt = arg(args, 0).to_boolean();
    let key = bytes_of(&arg(args, 1), ctx)?;
    let alg = match key.len() {
        16 => &aead::AES_128_GCM,
        32 => &aead::AES_256_GCM,
        n => {
            return Err(type_error(format!(
                "AES-GCM keys are 128 or 256 bits, not {}",
                n * 8
            )));
        }
    };
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(alg, &key).map_err(|_| type_error("bad AES-GCM key"))?,
    );
    let nonce = aead::Nonce::try_assume_unique_for_key(&bytes_of(&arg(args, 2), ctx)?)
        .map_err(|_| type_error("the AES-GCM IV must be 12 bytes here"))?;
    let aad = bytes_of(&arg(args, 3), ctx)?;
    let mut data = bytes_of(&arg(args, 4), ctx)?;
    if encrypt {
        key.seal_in_place_append_tag(nonce, aead::Aad::from(&aad), &mut data)
            .map_err(|_| type_error("encryption failed"))?;
        Ok(array_buffer(&data, ctx)?.into())
    } else {
        let plain = key
            .open_in_place(nonce, aead::Aad::from(&aad), &mut data)
            .map_err(|_| type_error("decryption failed"))?;
        Ok(array_buffer(plain, ctx)?.into())
    }
}

/// Workers' ceiling on PBKDF2 iterations: more is refused, not computed (a native
/// loop the CPU limit could not interrupt).
pub(crate) const PBKDF2_MAX_ITERATIONS: u32 = 100_000;

/// `pbkdf2(hash, key, salt, iterations, bytes) -> ArrayBuffer`.
pub(crate) fn pbkdf2(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let alg = match string_arg(args, 0, ctx)?.as_str() {
        "SHA-1" => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        "SHA-256" => ring::pbkdf2::PBKDF2_HMAC_SHA256,
        "SHA-384" => ring::pbkdf2::PBKDF2_HMAC_SHA384,
        "SHA-512" => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        other => return Err(type_error(format!("unsupported PBKDF2 hash {other}"))),
    };
    let key = bytes_of(&arg(args, 1), ctx)?;
    let salt = bytes_of(&arg(args, 2), ctx)?;
    let iterations = u32::try_from(arg(args, 3).to_length(ctx)?)
        .ok()
        .and_then(std::num::NonZeroU32::new)
        .filter(|n| n.get() <= PBKDF2_MAX_ITERATIONS)
        .ok_or_else(|| type_error("bad PBKDF2 iteration count"))?;
    let len = (arg(args, 4).to_length(ctx)? as usize).min(1 << 20);
    let mut out = vec![0u8; len];
    ring::pbkdf2::derive(alg, iterations, &salt, &key, &mut out);
    Ok(array_buffer(&out, ctx)?.into())
}

/// An HKDF output length for ring.
struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// `hkdf(hash, key, salt, info, bytes) -> ArrayBuffer` (at most 255 hash lengths).
pub(crate) fn hkdf(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let alg = match string_arg(args, 0, ctx)?.as_str() {
        "SHA-1" => ring::hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => ring::hkdf::HKDF_SHA256,
        "SHA-384" => ring::hkdf::HKDF_SHA384,
        "SHA-512" => ring::hkdf::HKDF_SHA512,
        other => return Err(type_error(format!("unsupported HKDF hash {other}"))),
    };
    let key = bytes_of(&arg(args, 1), ctx)?;
    let salt = bytes_of(&arg(args, 2), ctx)?;
    let info = bytes_of(&arg(args, 3), ctx)?;
    let len = arg(args, 4).to_length(ctx)? as usize;
    let info = [info.as_slice()];
    let mut out = vec![0u8; len];
    ring::hkdf::Salt::new(alg, &salt)
        .extract(&key)
        .expand(&info, Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| type_error("HKDF cannot derive that many bits"))?;
    Ok(array_buffer(&out, ctx)?.into())
}

/// `base64url(bytes) -> string` (no padding, as JWK members are written).
pub(crate) fn base64url(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    use base64::Engine;
    let bytes = bytes_of(&arg(args, 0), ctx)?;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(JsString::from(text.as_str()).into())
}

/// `fromBase64url(string) -> Uint8Array | null` (padding optional; `null` when the
/// text is not base64url).
pub(crate) fn from_base64url(
    _: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    use base64::Engine;
    let text = string_arg(args, 0, ctx)?;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    match engine.decode(text.as_bytes()) {
        Ok(bytes) => uint8_array(&bytes, ctx),
        Err(_) => Ok(JsValue::null()),
    }
}
