//! `Headers`' native side: boa_runtime's class holds an `http::HeaderMap`; these host
//! functions read and write it as the Fetch standard says (names checked, values
//! trimmed and checked, reads decoded beyond ASCII, iteration sorted and combined),
//! and hand maps between the class and the rest of the runtime.

use crate::convert::{arg, string_arg, type_error};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsResult, JsString, JsValue};
use boa_runtime::fetch::headers::JsHeaders;
use std::cell::RefCell;

/// A `Headers` object (boa_runtime's class) holding `map`.
pub(crate) fn headers_object(map: http::HeaderMap, ctx: &mut Context) -> JsResult<JsValue> {
    use boa_engine::class::Class;
    Ok(JsHeaders::from_data(JsHeaders::from_http(map), ctx)?.into())
}

/// The header map of a `Headers` object.
pub(crate) fn header_map(v: &JsValue) -> Option<http::HeaderMap> {
    let obj = v.as_object()?;
    let h = obj.downcast_ref::<JsHeaders>()?;
    let map = h.as_header_map().borrow().clone();
    Some(map)
}

/// A header value as a script reads it: boa_runtime's own `Headers` reads back a
/// value with any byte beyond ASCII as `""`; Workers decodes it.
fn header_text(value: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(value)
}

/// Every value of `name` joined with ", " (empty values too, as the Fetch standard
/// says), or `None`.
fn joined_values(map: &http::HeaderMap, name: &http::HeaderName) -> Option<JsString> {
    let mut values = map.get_all(name).iter();
    let mut joined = header_text(values.next()?.as_bytes()).into_owned();
    for v in values {
        joined.push_str(", ");
        joined.push_str(&header_text(v.as_bytes()));
    }
    Some(JsString::from(joined.as_str()))
}

/// The header map of a `Headers` object passed as `this` to the prelude's readers.
fn headers_of(v: &JsValue) -> JsResult<std::rc::Rc<RefCell<http::HeaderMap>>> {
    v.as_object()
        .and_then(|o| o.downcast_ref::<JsHeaders>().map(|h| h.as_header_map()))
        .ok_or_else(|| type_error("Illegal invocation: not a Headers object"))
}

/// `headerGet(headers, name)`: `Headers.prototype.get`.
pub(crate) fn get(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let map = headers_of(&arg(args, 0))?;
    let name = string_arg(args, 1, ctx)?;
    let name = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| type_error("Invalid header name."))?;
    let value = joined_values(&map.borrow(), &name);
    Ok(value.map_or_else(JsValue::null, JsValue::from))
}

/// `headerList(headers) -> [[name, value], ...]`: the Fetch standard's "sort and
/// combine" that iteration uses — sorted by name, repeated names joined with ", ",
/// except `set-cookie`, whose values stay apart.
pub(crate) fn list(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let map = headers_of(&arg(args, 0))?;
    let map = map.borrow();
    let mut names: Vec<&http::HeaderName> = map.keys().collect();
    names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut pairs: Vec<JsValue> = Vec::with_capacity(map.len());
    for name in names {
        let key = JsValue::from(JsString::from(name.as_str()));
        if name == http::header::SET_COOKIE {
            for v in map.get_all(name) {
                let v = JsString::from(header_text(v.as_bytes()).as_ref());
                pairs.push(JsArray::from_iter([key.clone(), v.into()], ctx).into());
            }
        } else if let Some(v) = joined_values(&map, name) {
            pairs.push(JsArray::from_iter([key, v.into()], ctx).into());
        }
    }
    Ok(JsArray::from_iter(pairs, ctx).into())
}

/// A header name as the Fetch standard allows it (a token; lowercased for the map).
fn name_arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<http::HeaderName> {
    let name = string_arg(args, i, ctx)?;
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| type_error(format!("Invalid header name: {name:?}")))
}

/// A header value normalised as the Fetch standard says (leading and trailing HTTP
/// whitespace removed). Values beyond ASCII are kept as UTF-8, as Workers keep them;
/// control characters other than tab are refused (the standard refuses only NUL, CR
/// and LF; the others would not survive HTTP/1).
fn value_arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<http::HeaderValue> {
    let value = arg(args, i).to_string(ctx)?.to_std_string_lossy();
    let trimmed = value.trim_matches(['\t', '\n', '\r', ' ']);
    http::HeaderValue::from_bytes(trimmed.as_bytes())
        .map_err(|_| type_error(format!("Invalid header value: {value:?}")))
}

/// `headerAppend(headers, name, value)`: `Headers.prototype.append`.
pub(crate) fn append(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    write(args, ctx, false)
}

/// `headerSet(headers, name, value)`: `Headers.prototype.set`.
pub(crate) fn set(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    write(args, ctx, true)
}

/// Adds a value for the name, or (`replace`) makes it the name's only value.
fn write(args: &[JsValue], ctx: &mut Context, replace: bool) -> JsResult<JsValue> {
    let map = headers_of(&arg(args, 0))?;
    let name = name_arg(args, 1, ctx)?;
    let value = value_arg(args, 2, ctx)?;
    let mut map = map.borrow_mut();
    if replace {
        map.insert(name, value);
    } else {
        map.append(name, value);
    }
    Ok(JsValue::undefined())
}

/// `headerDelete(headers, name)`: `Headers.prototype.delete`.
pub(crate) fn delete(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let map = headers_of(&arg(args, 0))?;
    let name = name_arg(args, 1, ctx)?;
    map.borrow_mut().remove(name);
    Ok(JsValue::undefined())
}
