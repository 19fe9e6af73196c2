//! Web Crypto's private keys, native side: a PKCS#8 document or JWK parts brought to
//! one stored form, the matching public key (in `public_keys`' form), signing, and
//! key-pair generation (ECDSA, Ed25519), on ring. Key objects, usages and errors as
//! Web Crypto names them live in the prelude.

use crate::convert::{arg, array_buffer, bytes_of, string_arg, type_error, uint8_array};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsResult, JsValue};
use ring::rand::SystemRandom;
use ring::signature::{self as s, KeyPair};

/// How a private key is stored: a tag byte, then the key.
pub(crate) const PKCS8: u8 = 1;
/// JWK parts: EC `d` then the uncompressed point; Ed25519 seed then public key; RSA
/// `n e d p q dp dq qi`, each with a 4-byte length.
pub(crate) const PARTS: u8 = 2;

enum Pair {
    Ecdsa(s::EcdsaKeyPair),
    Ed25519(s::Ed25519KeyPair),
    Rsa(s::RsaKeyPair),
}

impl Pair {
    fn public(&self) -> &[u8] {
        match self {
            Pair::Ecdsa(k) => k.public_key().as_ref(),
            Pair::Ed25519(k) => k.public_key().as_ref(),
            Pair::Rsa(k) => k.public().as_ref(),
        }
    }
}

fn ecdsa_alg(kind: &str) -> Option<&'static s::EcdsaSigningAlgorithm> {
    match kind {
        "EC-P-256" => Some(&s::ECDSA_P256_SHA256_FIXED_SIGNING),
        "EC-P-384" => Some(&s::ECDSA_P384_SHA384_FIXED_SIGNING),
        _ => None,
    }
}

/// Splits length-prefixed fields.
pub(crate) fn fields(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        let (field, rest) = rest.split_at_checked(len)?;
        out.push(field);
        data = rest;
    }
    Some(out)
}

fn load(kind: &str, stored: &[u8]) -> Option<Pair> {
    let rng = SystemRandom::new();
    let (&tag, key) = stored.split_first()?;
    match (tag, kind) {
        (PKCS8, "Ed25519") => s::Ed25519KeyPair::from_pkcs8_maybe_unchecked(key)
            .ok()
            .map(Pair::Ed25519),
        (PKCS8, "RSA") => s::RsaKeyPair::from_pkcs8(key).ok().map(Pair::Rsa),
        (PKCS8, _) => s::EcdsaKeyPair::from_pkcs8(ecdsa_alg(kind)?, key, &rng)
            .ok()
            .map(Pair::Ecdsa),
        (PARTS, "Ed25519") => {
            let (seed, public) = key.split_at_checked(32)?;
            s::Ed25519KeyPair::from_seed_and_public_key(seed, public)
                .ok()
                .map(Pair::Ed25519)
        }
        (PARTS, "RSA") => {
            let f = fields(key)?;
            let [n, e, d, p, q, dp, dq, qi] = f.as_slice() else {
                return None;
            };
            let components = ring::rsa::KeyPairComponents {
                public_key: ring::rsa::PublicKeyComponents { n: *n, e: *e },
                d: *d,
                p: *p,
                q: *q,
                dP: *dp,
                dQ: *dq,
                qInv: *qi,
            };
            s::RsaKeyPair::from_components(&components)
                .ok()
                .map(Pair::Rsa)
        }
        (PARTS, _) => {
            let f = fields(key)?;
            let [d, point] = f.as_slice() else {
                return None;
            };
            s::EcdsaKeyPair::from_private_key_and_public_key(ecdsa_alg(kind)?, d, point, &rng)
                .ok()
                .map(Pair::Ecdsa)
        }
        _ => None,
    }
}

fn stored_and_public(kind: &str, stored: Vec<u8>, ctx: &mut Context) -> JsResult<JsValue> {
    let pair = load(kind, &stored)
        .ok_or_else(|| type_error(format!("invalid private key data for {kind}")))?;
    let public = uint8_array(pair.public(), ctx)?;
    let stored = uint8_array(&stored, ctx)?;
    Ok(JsArray::from_iter([stored, public], ctx).into())
}

/// `privateKey(kind, format, data) -> [stored, public]`: `format` is `pkcs8` (`data`
/// the DER document) or `jwk` (`data` an array of the decoded parts: EC `d, x, y`,
/// Ed25519 `d, x`, RSA `n, e, d, p, q, dp, dq, qi`). Throws a TypeError the prelude
/// turns into a `DataError`.
pub(crate) fn private_key(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let kind = string_arg(args, 0, ctx)?;
    let format = string_arg(args, 1, ctx)?;
    let data = arg(args, 2);
    let mut stored = Vec::new();
    if format == "pkcs8" {
        stored.push(PKCS8);
        stored.extend_from_slice(&bytes_of(&data, ctx)?);
    } else {
        let parts = data
            .as_object()
            .ok_or_else(|| type_error("jwk parts: expected an array"))?
            .clone();
        let n = parts
            .get(boa_engine::js_string!("length"), ctx)?
            .to_length(ctx)?;
        let mut decoded = Vec::new();
        for i in 0..n {
            decoded.push(bytes_of(&parts.get(i, ctx)?, ctx)?);
        }
        stored.push(PARTS);
        match (kind.as_str(), decoded.as_slice()) {
            ("Ed25519", [d, x]) => {
                stored.extend_from_slice(d);
                stored.extend_from_slice(x);
            }
            ("EC-P-256" | "EC-P-384", [d, x, y]) => {
                let mut point = vec![4u8];
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                for f in [d.as_slice(), point.as_slice()] {
                    stored.extend_from_slice(&(f.len() as u32).to_be_bytes());
                    stored.extend_from_slice(f);
                }
            }
            ("RSA", parts) if parts.len() == 8 => {
                for f in parts {
                    stored.extend_from_slice(&(f.len() as u32).to_be_bytes());
                    stored.extend_from_slice(f);
                }
            }
            _ => return Err(type_error(format!("invalid jwk key data for {kind}"))),
        }
    }
    stored_and_public(&kind, stored, ctx)
}

/// `generateKeyPair(kind) -> [stored, public]` (ECDSA P-256/P-384, Ed25519; ring does
/// not generate RSA keys).
pub(crate) fn generate_key_pair(
    _: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let kind = string_arg(args, 0, ctx)?;
    let rng = SystemRandom::new();
    let document = match kind.as_str() {
        "Ed25519" => s::Ed25519KeyPair::generate_pkcs8(&rng),
        other => {
            let alg = ecdsa_alg(other)
                .ok_or_else(|| type_error(format!("cannot generate {other} keys")))?;
            s::EcdsaKeyPair::generate_pkcs8(alg, &rng)
        }
    }
    .map_err(|_| type_error("key generation failed"))?;
    let mut stored = vec![PKCS8];
    stored.extend_from_slice(document.as_ref());
    stored_and_public(&kind, stored, ctx)
}

/// `sign(scheme, kind, stored, data) -> ArrayBuffer`, `scheme` as `verifySignature`
/// names it. ECDSA signatures are in IEEE P1363 form, as Web Crypto gives them.
pub(crate) fn sign(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let scheme = string_arg(args, 0, ctx)?;
    let kind = string_arg(args, 1, ctx)?;
    let stored = bytes_of(&arg(args, 2), ctx)?;
    let data = bytes_of(&arg(args, 3), ctx)?;
    let pair = load(&kind, &stored).ok_or_else(|| type_error("the private key is unusable"))?;
    let rng = SystemRandom::new();
    let signature = match (&pair, scheme.as_str()) {
        (Pair::Ed25519(k), "Ed25519") => k.sign(&data).as_ref().to_vec(),
        (Pair::Ecdsa(k), "ECDSA-P-256-SHA-256" | "ECDSA-P-384-SHA-384") => k
            .sign(&rng, &data)
            .map_err(|_| type_error("signing failed"))?
            .as_ref()
            .to_vec(),
        (Pair::Rsa(k), scheme) => {
            let padding: &dyn s::RsaEncoding = match scheme {
                "RSASSA-PKCS1-v1_5-SHA-256" => &s::RSA_PKCS1_SHA256,
                "RSASSA-PKCS1-v1_5-SHA-384" => &s::RSA_PKCS1_SHA384,
                "RSASSA-PKCS1-v1_5-SHA-512" => &s::RSA_PKCS1_SHA512,
                "RSA-PSS-SHA-256" => &s::RSA_PSS_SHA256,
                "RSA-PSS-SHA-384" => &s::RSA_PSS_SHA384,
                "RSA-PSS-SHA-512" => &s::RSA_PSS_SHA512,
                other => return Err(type_error(format!("unsupported signature scheme {other}"))),
            };
            let mut out = vec![0u8; k.public().modulus_len()];
            k.sign(padding, &rng, &data, &mut out)
                .map_err(|_| type_error("signing failed"))?;
            out
        }
        _ => return Err(type_error(format!("unsupported signature scheme {scheme}"))),
    };
    Ok(array_buffer(&signature, ctx)?.into())
}

/// The secret scalar of a stored EC private key (for ECDH), checked to be on `kind`'s
/// curve.
pub(crate) fn ec_secret(kind: &str, stored: &[u8]) -> Option<Vec<u8>> {
    use p256::pkcs8::DecodePrivateKey;
    let (&tag, key) = stored.split_first()?;
    match (tag, kind) {
        (PKCS8, "EC-P-256") => Some(
            p256::SecretKey::from_pkcs8_der(key)
                .ok()?
                .to_bytes()
                .to_vec(),
        ),
        (PKCS8, "EC-P-384") => Some(
            p384::SecretKey::from_pkcs8_der(key)
                .ok()?
                .to_bytes()
                .to_vec(),
        ),
        (PARTS, "EC-P-256" | "EC-P-384") => Some(fields(key)?.first()?.to_vec()),
        _ => None,
    }
}
