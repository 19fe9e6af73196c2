//! Web Crypto's key export and RSA key generation, native side: private keys out as
//! PKCS#8 or JWK parts (however they were imported), RSA public keys as SPKI or JWK
//! parts, and RSA key pairs made (ring has no RSA generation; the `rsa` crate, already
//! used for ACME account keys, does). The JS side (`js/crypto.js`) builds the JWK.

use crate::convert::{arg, bytes_of, string_arg, type_error, uint8_array};
use crate::private_keys::{PARTS, PKCS8, fields};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsResult, JsValue};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

/// PKCS#8 v1 for an Ed25519 seed (RFC 8410 §7): the fixed prefix, then the seed.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn unusable() -> boa_engine::JsError {
    type_error("the private key cannot be exported")
}

fn list(parts: Vec<Vec<u8>>, ctx: &mut Context) -> JsResult<JsValue> {
    let mut values = Vec::with_capacity(parts.len());
    for p in parts {
        values.push(uint8_array(&p, ctx)?);
    }
    Ok(JsArray::from_iter(values, ctx).into())
}

/// The seed of an Ed25519 PKCS#8 document (v1 or v2: the private key is the OCTET
/// STRING wrapping a 32-byte OCTET STRING).
fn ed25519_seed(document: &[u8]) -> Option<[u8; 32]> {
    let at = document
        .windows(4)
        .position(|w| w == [0x04, 0x22, 0x04, 0x20])?;
    document.get(at + 4..at + 36)?.try_into().ok()
}

fn rsa_private(stored: &[u8]) -> Option<rsa::RsaPrivateKey> {
    let (&tag, key) = stored.split_first()?;
    match tag {
        PKCS8 => rsa::RsaPrivateKey::from_pkcs8_der(key).ok(),
        PARTS => {
            let f = fields(key)?;
            let [n, e, d, p, q, ..] = f.as_slice() else {
                return None;
            };
            let big = |b: &[u8]| rsa::BigUint::from_bytes_be(b);
            rsa::RsaPrivateKey::from_components(big(n), big(e), big(d), vec![big(p), big(q)]).ok()
        }
        _ => None,
    }
}

fn ec_parts(kind: &str, stored: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let d = crate::private_keys::ec_secret(kind, stored)?;
    let point = match kind {
        "EC-P-256" => p256::SecretKey::from_slice(&d)
            .ok()?
            .public_key()
            .to_sec1_bytes()
            .to_vec(),
        "EC-P-384" => p384::SecretKey::from_slice(&d)
            .ok()?
            .public_key()
            .to_sec1_bytes()
            .to_vec(),
        _ => return None,
    };
    Some((d, point))
}

/// `exportPrivate(kind, stored, format) -> Uint8Array | [parts]`: `pkcs8` gives the
/// DER document; `jwk` the parts (EC `d, x, y`; Ed25519 `d, x`; RSA
/// `n, e, d, p, q, dp, dq, qi`).
pub(crate) fn export_private(
    _: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let kind = string_arg(args, 0, ctx)?;
    let stored = bytes_of(&arg(args, 1), ctx)?;
    let format = string_arg(args, 2, ctx)?;
    let (&tag, key) = stored.split_first().ok_or_else(unusable)?;
    match (kind.as_str(), format.as_str()) {
        (_, "pkcs8") if tag == PKCS8 => uint8_array(key, ctx),
        ("Ed25519", "pkcs8") => {
            let mut doc = ED25519_PKCS8_PREFIX.to_vec();
            doc.extend_from_slice(key.get(..32).ok_or_else(unusable)?);
            uint8_array(&doc, ctx)
        }
        ("EC-P-256", "pkcs8") => {
            let d = crate::private_keys::ec_secret(&kind, &stored).ok_or_else(unusable)?;
            let key = p256::SecretKey::from_slice(&d).map_err(|_| unusable())?;
            let doc = key.to_pkcs8_der().map_err(|_| unusable())?;
            uint8_array(doc.as_bytes(), ctx)
        }
        ("EC-P-384", "pkcs8") => {
            let d = crate::private_keys::ec_secret(&kind, &stored).ok_or_else(unusable)?;
            let key = p384::SecretKey::from_slice(&d).map_err(|_| unusable())?;
            let doc = key.to_pkcs8_der().map_err(|_| unusable())?;
            uint8_array(doc.as_bytes(), ctx)
        }
        ("RSA", "pkcs8") => {
            let key = rsa_private(&stored).ok_or_else(unusable)?;
            let doc = key.to_pkcs8_der().map_err(|_| unusable())?;
            uint8_array(doc.as_bytes(), ctx)
        }
        ("EC-P-256" | "EC-P-384", "jwk") => {
            let (d, point) = ec_parts(&kind, &stored).ok_or_else(unusable)?;
            let size = (point.len() - 1) / 2;
            list(
                vec![d, point[1..1 + size].to_vec(), point[1 + size..].to_vec()],
                ctx,
            )
        }
        ("Ed25519", "jwk") => {
            let seed = match tag {
                PKCS8 => ed25519_seed(key).ok_or_else(unusable)?,
                _ => key
                    .get(..32)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(unusable)?,
            };
            let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
                .map_err(|_| unusable())?;
            use ring::signature::KeyPair;
            list(
                vec![seed.to_vec(), pair.public_key().as_ref().to_vec()],
                ctx,
            )
        }
        ("RSA", "jwk") => {
            let mut key = rsa_private(&stored).ok_or_else(unusable)?;
            key.precompute().map_err(|_| unusable())?;
            let primes = key.primes();
            let (Some(p), Some(q)) = (primes.first(), primes.get(1)) else {
                return Err(unusable());
            };
            let (Some(dp), Some(dq), Some(qi)) = (key.dp(), key.dq(), key.crt_coefficient()) else {
                return Err(unusable());
            };
            let parts = [key.n(), key.e(), key.d(), p, q, dp, dq, &qi]
                .iter()
                .map(|b| b.to_bytes_be())
                .collect();
            list(parts, ctx)
        }
        _ => Err(type_error(format!(
            "cannot export {kind} private keys as {format}"
        ))),
    }
}

/// `exportRsaPublic(der, format) -> Uint8Array | [n, e]` from the RSAPublicKey DER
/// public keys are kept as: `spki` the SubjectPublicKeyInfo, `jwk` the parts.
pub(crate) fn export_rsa_public(
    _: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let der = bytes_of(&arg(args, 0), ctx)?;
    let format = string_arg(args, 1, ctx)?;
    let key = rsa::RsaPublicKey::from_pkcs1_der(&der)
        .map_err(|_| type_error("the public key cannot be exported"))?;
    match format.as_str() {
        "spki" => {
            let doc = key
                .to_public_key_der()
                .map_err(|_| type_error("the public key cannot be exported"))?;
            uint8_array(doc.as_bytes(), ctx)
        }
        _ => list(vec![key.n().to_bytes_be(), key.e().to_bytes_be()], ctx),
    }
}

/// `generateRsa(bits, exponent) -> Uint8Array` (a PKCS#8 document; the JS side imports
/// it as any PKCS#8 key). Bits 2048 to 4096 (ring signs with nothing shorter), a
/// multiple of 8; exponent 3 or 65537.
pub(crate) fn generate_rsa(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let bits = arg(args, 0).to_u32(ctx)? as usize;
    let exponent = bytes_of(&arg(args, 1), ctx)?;
    if !(2048..=4096).contains(&bits) || !bits.is_multiple_of(8) {
        return Err(type_error(format!(
            "RSA modulus length {bits} is not supported (2048 to 4096, a multiple of 8)"
        )));
    }
    let exponent = rsa::BigUint::from_bytes_be(&exponent);
    if exponent != rsa::BigUint::from(3u32) && exponent != rsa::BigUint::from(65537u32) {
        return Err(type_error("the RSA public exponent must be 3 or 65537"));
    }
    let key = rsa::RsaPrivateKey::new_with_exp(&mut rand::rngs::OsRng, bits, &exponent)
        .map_err(|_| type_error("RSA key generation failed"))?;
    let doc = key
        .to_pkcs8_der()
        .map_err(|_| type_error("RSA key generation failed"))?;
    uint8_array(doc.as_bytes(), ctx)
}
