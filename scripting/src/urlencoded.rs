//! `application/x-www-form-urlencoded` as the URL standard defines it (§5), for
//! `URLSearchParams`: parsing (`+` is a space, valid percent-escapes decoded, invalid
//! ones kept, bytes read as UTF-8 with replacement) and serialising, on the
//! `form_urlencoded` crate (the `url` crate's own).

use crate::convert::arg;
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsResult, JsString, JsValue};

/// `formDecode(string) -> [[name, value], ...]`.
pub(crate) fn decode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let input = arg(args, 0).to_string(ctx)?.to_std_string_lossy();
    let mut pairs = Vec::new();
    for (name, value) in form_urlencoded::parse(input.as_bytes()) {
        let pair = JsArray::from_iter(
            [
                JsString::from(name.as_ref()).into(),
                JsString::from(value.as_ref()).into(),
            ],
            ctx,
        );
        pairs.push(pair.into());
    }
    Ok(JsArray::from_iter(pairs, ctx).into())
}

/// `formEncode([name, value, name, value, ...]) -> string`; lone surrogates become
/// U+FFFD first (the standard's strings are scalar value strings).
pub(crate) fn encode(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let list = arg(args, 0);
    let Some(list) = list.as_object() else {
        return Ok(JsString::from("").into());
    };
    let len = list
        .get(boa_engine::js_string!("length"), ctx)?
        .to_length(ctx)?;
    let mut out = form_urlencoded::Serializer::new(String::new());
    let mut i = 0;
    while i + 1 < len {
        let name = list.get(i, ctx)?.to_string(ctx)?.to_std_string_lossy();
        let value = list.get(i + 1, ctx)?.to_string(ctx)?.to_std_string_lossy();
        out.append_pair(&name, &value);
        i += 2;
    }
    Ok(JsString::from(out.finish().as_str()).into())
}
