//! Conversions between JavaScript values and Rust for the host functions: arguments,
//! byte arrays in and out of the VM, and the errors they raise.

use boa_engine::object::builtins::{AlignedVec, JsArrayBuffer, JsTypedArray, JsUint8Array};
use boa_engine::string::JsStrVariant;
use boa_engine::{Context, JsError, JsNativeError, JsResult, JsString, JsValue, js_string};

pub(crate) fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

pub(crate) fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

pub(crate) fn string_arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    Ok(utf8(&arg(args, i).to_string(ctx)?))
}

/// `s` in UTF-8, as `to_std_string_escaped` gives it. The usual string — a body, a
/// URL, a method, a field value — is ASCII held as Latin-1 bytes, which are copied as
/// they are: the escaped form goes character by character through a formatter, ~1 400
/// instructions for a 20-byte body.
pub(crate) fn utf8(s: &JsString) -> String {
    match s.as_str().variant() {
        JsStrVariant::Latin1(bytes) if bytes.is_ascii() => {
            // ASCII is UTF-8 as it is.
            String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| s.to_std_string_escaped())
        }
        _ => s.to_std_string_escaped(),
    }
}

pub(crate) fn call_arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<u32> {
    arg(args, i).to_u32(ctx)
}

/// The elements of an array-like `v` (a `TypeError` saying `what` if it is not an
/// object).
pub(crate) fn elements(v: &JsValue, what: &str, ctx: &mut Context) -> JsResult<Vec<JsValue>> {
    let o = v
        .as_object()
        .ok_or_else(|| type_error(format!("bad {what}")))?;
    let n = o.get(js_string!("length"), ctx)?.to_length(ctx)?;
    (0..n).map(|i| o.get(i, ctx)).collect()
}

/// The bytes of a typed array (copied out of the VM).
pub(crate) fn bytes_of(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let obj = v
        .as_object()
        .ok_or_else(|| type_error("expected a Uint8Array"))?;
    let array = JsTypedArray::from_object(obj.clone())?;
    let offset = array.byte_offset(ctx)?;
    let len = array.byte_length(ctx)?;
    let buffer = array.buffer(ctx)?;
    let buffer = buffer
        .as_object()
        .ok_or_else(|| type_error("typed array without a buffer"))?;
    let buffer = JsArrayBuffer::from_object(buffer.clone())?;
    let data = buffer
        .data()
        .ok_or_else(|| type_error("detached ArrayBuffer"))?;
    data.get(offset..offset + len)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| type_error("typed array out of its buffer's bounds"))
}

/// A new `ArrayBuffer` holding `bytes`.
pub(crate) fn array_buffer(bytes: &[u8], ctx: &mut Context) -> JsResult<JsArrayBuffer> {
    JsArrayBuffer::from_byte_block(AlignedVec::from_slice(64, bytes), ctx)
}

/// A new `Uint8Array` holding `bytes`.
pub(crate) fn uint8_array(bytes: &[u8], ctx: &mut Context) -> JsResult<JsValue> {
    let buffer = array_buffer(bytes, ctx)?;
    Ok(JsUint8Array::from_array_buffer(buffer, ctx)?.into())
}

/// The error as JavaScript prints it, with at most a few stack frames (a runaway
/// recursion would otherwise log hundreds of identical lines).
pub(crate) fn error_text(e: &JsError, context: &mut Context) -> String {
    // A thrown Error object carries the script's own stack (file:line:col per frame);
    // frames in Outpost's prelude and dispatcher (no file name) are left out.
    let stack = e.as_opaque().and_then(|v| v.as_object()).and_then(|o| {
        let stack = o.get(js_string!("stack"), context).ok()?;
        let stack = stack.as_string()?.to_std_string_escaped();
        let head = JsValue::from(o.clone())
            .to_string(context)
            .ok()?
            .to_std_string_escaped();
        let frames: Vec<&str> = stack
            .lines()
            .filter(|l| !l.contains("(unknown at "))
            .collect();
        Some(format!("{head}\n{}", frames.join("\n")))
    });
    let full = match stack {
        Some(s) => s,
        None => match e.try_native(context) {
            Ok(native) => native.to_string(),
            Err(_) => e.to_string(),
        },
    };
    let mut lines = full.lines();
    let mut out: Vec<&str> = lines.by_ref().take(6).collect();
    let rest = lines.count();
    let more = format!("    ... {rest} more frames");
    if rest > 0 {
        out.push(&more);
    }
    out.join("\n")
}

/// `ip` as `Display` writes it; an IPv4 address without the formatter (~1 300
/// instructions of every hooked request, for `cf.clientIp`).
pub(crate) fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ip_text, utf8};
    use boa_engine::JsString;

    #[test]
    fn ip_text_is_display() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.100.255",
            "9.99.199.200",
            "::1",
            "2001:db8::7",
        ] {
            let ip: std::net::IpAddr = ip.parse().expect("ip");
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    /// The fast copy gives what the escaped form gives, for ASCII, Latin-1 beyond
    /// ASCII, other text and a lone surrogate.
    #[test]
    fn utf8_is_the_escaped_form() {
        let lone: &[u16] = &[0x61, 0xD800, 0x62];
        for s in [
            JsString::from("hello from the edge\n"),
            JsString::from(""),
            JsString::from("caf\u{e9} \u{a0}"),
            JsString::from("\u{65e5}\u{672c} \u{1F600}"),
            JsString::from(lone),
        ] {
            assert_eq!(utf8(&s), s.to_std_string_escaped());
        }
    }
}
