//! Web Crypto's ciphers beyond ring's AES-GCM, and ECDH, on RustCrypto: AES-CBC (PKCS#7
//! padding), AES-CTR with the counter width Web Crypto lets a script choose, AES-KW
//! (RFC 3394), each with 128-, 192- and 256-bit keys; ECDH on P-256 and P-384. Key
//! objects and algorithm checks live in `js/crypto.js`.

use crate::convert::{arg, array_buffer, bytes_of, string_arg, type_error};
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use aes::{Aes128, Aes192, Aes256};
use boa_engine::{Context, JsResult, JsValue};

fn key_size_error(n: usize) -> boa_engine::JsError {
    type_error(format!("AES keys are 128, 192 or 256 bits, not {}", n * 8))
}

/// `aesCbc(encrypt, key, iv, data) -> ArrayBuffer`; a TypeError the JS side turns into
/// an `OperationError` when the padding is wrong.
pub(crate) fn aes_cbc(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    use cbc::cipher::block_padding::Pkcs7;
    let encrypt = arg(args, 0).to_boolean();
    let key = bytes_of(&arg(args, 1), ctx)?;
    let iv = bytes_of(&arg(args, 2), ctx)?;
    let data = bytes_of(&arg(args, 3), ctx)?;
    fn run<C>(encrypt: bool, key: &[u8], iv: &[u8], data: &[u8]) -> JsResult<Vec<u8>>
    where
        C: aes::cipher::BlockCipher
            + aes::cipher::BlockEncrypt
            + aes::cipher::BlockDecrypt
            + KeyInit,
    {
        let bad = |_| type_error("the AES-CBC IV must be 16 bytes");
        if encrypt {
            let c = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(bad)?;
            Ok(c.encrypt_padded_vec_mut::<Pkcs7>(data))
        } else {
            let c = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(bad)?;
            c.decrypt_padded_vec_mut::<Pkcs7>(data)
                .map_err(|_| type_error("bad padding"))
        }
    }
    let out = match key.len() {
        16 => run::<Aes128>(encrypt, &key, &iv, &data)?,
        24 => run::<Aes192>(encrypt, &key, &iv, &data)?,
        32 => run::<Aes256>(encrypt, &key, &iv, &data)?,
        n => return Err(key_size_error(n)),
    };
    Ok(array_buffer(&out, ctx)?.into())
}

/// `aesCtr(key, counter, length, data) -> ArrayBuffer`: the rightmost `length` bits of
/// the 16-byte counter block count up (wrapping within those bits, the rest fixed), as
/// Web Crypto defines AES-CTR; more blocks than those bits can count is an error
/// rather than a reused keystream.
pub(crate) fn aes_ctr(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let key = bytes_of(&arg(args, 0), ctx)?;
    let counter: [u8; 16] = bytes_of(&arg(args, 1), ctx)?
        .try_into()
        .map_err(|_| type_error("the AES-CTR counter must be 16 bytes"))?;
    let length = arg(args, 2).to_u32(ctx)?;
    if !(1..=128).contains(&length) {
        return Err(type_error("the AES-CTR length must be between 1 and 128"));
    }
    let mut data = bytes_of(&arg(args, 3), ctx)?;
    let blocks = data.len().div_ceil(16) as u128;
    if length < 128 && blocks > 1u128 << length {
        return Err(type_error("the AES-CTR counter would repeat"));
    }
    match key.len() {
        16 => ctr_apply(
            &Aes128::new_from_slice(&key).map_err(|_| key_size_error(16))?,
            counter,
            length,
            &mut data,
        ),
        24 => ctr_apply(
            &Aes192::new_from_slice(&key).map_err(|_| key_size_error(24))?,
            counter,
            length,
            &mut data,
        ),
        32 => ctr_apply(
            &Aes256::new_from_slice(&key).map_err(|_| key_size_error(32))?,
            counter,
            length,
            &mut data,
        ),
        n => return Err(key_size_error(n)),
    }
    Ok(array_buffer(&data, ctx)?.into())
}

fn ctr_apply<C: BlockEncrypt>(cipher: &C, counter: [u8; 16], length: u32, data: &mut [u8]) {
    let start = u128::from_be_bytes(counter);
    let mask = if length == 128 {
        u128::MAX
    } else {
        (1u128 << length) - 1
    };
    let fixed = start & !mask;
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let count = (start & mask).wrapping_add(i as u128) & mask;
        let mut block = GenericArray::clone_from_slice(&(fixed | count).to_be_bytes());
        cipher.encrypt_block(&mut block);
        for (byte, k) in chunk.iter_mut().zip(block.iter()) {
            *byte ^= k;
        }
    }
}

/// `aesKw(wrap, key, data) -> ArrayBuffer` (RFC 3394; the data a multiple of 8 bytes).
pub(crate) fn aes_kw(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let wrap = arg(args, 0).to_boolean();
    let key = bytes_of(&arg(args, 1), ctx)?;
    let data = bytes_of(&arg(args, 2), ctx)?;
    fn run<A>(wrap: bool, key: &[u8], data: &[u8]) -> JsResult<Vec<u8>>
    where
        aes_kw::Kek<A>: for<'a> TryFrom<&'a [u8]>,
        A: aes::cipher::BlockCipher
            + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>
            + BlockEncryptMut
            + BlockDecryptMut
            + BlockEncrypt
            + aes::cipher::BlockDecrypt
            + KeyInit,
    {
        let kek = aes_kw::Kek::<A>::try_from(key).map_err(|_| key_size_error(key.len()))?;
        if wrap {
            kek.wrap_vec(data)
                .map_err(|_| type_error("AES-KW wraps data of at least 16 bytes, a multiple of 8"))
        } else {
            kek.unwrap_vec(data)
                .map_err(|_| type_error("AES-KW unwrapping failed"))
        }
    }
    let out = match key.len() {
        16 => run::<Aes128>(wrap, &key, &data)?,
        24 => run::<Aes192>(wrap, &key, &data)?,
        32 => run::<Aes256>(wrap, &key, &data)?,
        n => return Err(key_size_error(n)),
    };
    Ok(array_buffer(&out, ctx)?.into())
}

/// `ecdh(kind, storedPrivate, publicPoint) -> ArrayBuffer`: the shared secret (the x
/// coordinate of the shared point, as Web Crypto's ECDH deriveBits gives it).
pub(crate) fn ecdh(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let kind = string_arg(args, 0, ctx)?;
    let stored = bytes_of(&arg(args, 1), ctx)?;
    let point = bytes_of(&arg(args, 2), ctx)?;
    let secret = crate::private_keys::ec_secret(&kind, &stored)
        .ok_or_else(|| type_error("the private key is unusable"))?;
    let bad_public = |_| type_error("the public key is not a point on the curve");
    let bad_secret = |_| type_error("the private key is unusable");
    let shared = match kind.as_str() {
        "EC-P-256" => {
            let public = p256::PublicKey::from_sec1_bytes(&point).map_err(bad_public)?;
            let secret = p256::SecretKey::from_slice(&secret).map_err(bad_secret)?;
            p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine())
                .raw_secret_bytes()
                .to_vec()
        }
        "EC-P-384" => {
            let public = p384::PublicKey::from_sec1_bytes(&point).map_err(bad_public)?;
            let secret = p384::SecretKey::from_slice(&secret).map_err(bad_secret)?;
            p384::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine())
                .raw_secret_bytes()
                .to_vec()
        }
        other => return Err(type_error(format!("ECDH on {other} is not supported"))),
    };
    Ok(array_buffer(&shared, ctx)?.into())
}
