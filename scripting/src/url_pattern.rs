//! `URLPattern`'s native side: a compiled pattern held by its JS object, and matching
//! against it, on the `urlpattern` crate (the WHATWG URL Pattern standard). The JS class
//! (`js/urlpattern.js`) owns the argument overloads and the shape of results.

use crate::convert::{arg, type_error};
use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, Finalize, JsData, JsObject, JsResult, JsString, JsValue, Trace};
use std::borrow::Cow;
use urlpattern::quirks::{self, StringOrInit};
use urlpattern::{UrlPattern, UrlPatternOptions};

/// A compiled pattern; held by the script's `URLPattern` object.
#[derive(Trace, Finalize, JsData)]
struct Compiled(#[unsafe_ignore_trace] Box<UrlPattern>);

/// The components in the standard's order (the order results list them in).
fn components(p: &UrlPattern) -> [&quirks::Component<regex::Regex>; 8] {
    [
        &p.protocol,
        &p.username,
        &p.password,
        &p.hostname,
        &p.port,
        &p.pathname,
        &p.search,
        &p.hash,
    ]
}

fn optional_string(v: &JsValue, ctx: &mut Context) -> JsResult<Option<String>> {
    if v.is_undefined() {
        return Ok(None);
    }
    Ok(Some(v.to_string(ctx)?.to_std_string_lossy()))
}

/// A string, or the init dictionary as the JS side passes it: an array of the eight
/// components then `baseURL`, each a string or `undefined`.
fn input(v: &JsValue, ctx: &mut Context) -> JsResult<StringOrInit<'static>> {
    let Some(list) = v.as_object().filter(|o| o.is_array()) else {
        let s = v.to_string(ctx)?.to_std_string_lossy();
        return Ok(StringOrInit::String(Cow::Owned(s)));
    };
    let mut parts = Vec::with_capacity(9);
    for i in 0..9u32 {
        let part = list.get(i, ctx)?;
        parts.push(optional_string(&part, ctx)?);
    }
    let mut parts = parts.into_iter();
    let mut next = || parts.next().flatten();
    Ok(StringOrInit::Init(quirks::UrlPatternInit {
        protocol: next(),
        username: next(),
        password: next(),
        hostname: next(),
        port: next(),
        pathname: next(),
        search: next(),
        hash: next(),
        base_url: next(),
    }))
}

/// `urlPattern(input, baseURL, ignoreCase) -> [pattern, [8 component strings],
/// hasRegExpGroups]`; a `TypeError` for a pattern the standard rejects.
pub(crate) fn compile(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let pattern_input = input(&arg(args, 0), ctx)?;
    let base = optional_string(&arg(args, 1), ctx)?;
    let ignore_case = arg(args, 2).to_boolean();
    let init = quirks::process_construct_pattern_input(pattern_input, base.as_deref())
        .map_err(|e| type_error(format!("Failed to construct 'URLPattern': {e}")))?;
    let options = UrlPatternOptions {
        ignore_case,
        ..Default::default()
    };
    let pattern = UrlPattern::parse(init, options)
        .map_err(|e| type_error(format!("Failed to construct 'URLPattern': {e}")))?;
    let strings = JsArray::new(ctx)?;
    for c in components(&pattern) {
        strings.push(JsString::from(c.pattern_string.as_str()), ctx)?;
    }
    let regexp_groups = pattern.has_regexp_groups();
    let object = JsObject::from_proto_and_data(None, Compiled(Box::new(pattern)));
    let out = JsArray::from_iter([object.into(), strings.into(), regexp_groups.into()], ctx);
    Ok(out.into())
}

/// `urlPatternExec(pattern, input, baseURL) -> null | [[input, names, values] × 8]`:
/// `null` when the input does not match (or is not a URL); a `TypeError` for an init
/// dictionary given with a base URL. Group values that did not take part are
/// `undefined`; names are in the pattern's order.
pub(crate) fn exec(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let target = arg(args, 0);
    let object = target
        .as_object()
        .ok_or_else(|| type_error("Illegal invocation"))?;
    let match_input = input(&arg(args, 1), ctx)?;
    let base = optional_string(&arg(args, 2), ctx)?;
    let processed = quirks::process_match_input(match_input, base.as_deref())
        .map_err(|e| type_error(format!("Failed to execute 'exec' on 'URLPattern': {e}")))?;
    let Some((processed, _)) = processed else {
        return Ok(JsValue::null());
    };
    let compiled = object
        .downcast_ref::<Compiled>()
        .ok_or_else(|| type_error("Illegal invocation"))?;
    let result = compiled
        .0
        .exec(processed)
        .map_err(|e| type_error(format!("Failed to execute 'exec' on 'URLPattern': {e}")))?;
    let Some(result) = result else {
        return Ok(JsValue::null());
    };
    let results = [
        &result.protocol,
        &result.username,
        &result.password,
        &result.hostname,
        &result.port,
        &result.pathname,
        &result.search,
        &result.hash,
    ];
    let mut out = Vec::with_capacity(8);
    for (component, found) in components(&compiled.0).into_iter().zip(results) {
        let names = JsArray::new(ctx)?;
        let values = JsArray::new(ctx)?;
        for name in &component.group_name_list {
            names.push(JsString::from(name.as_str()), ctx)?;
            let value = match found.groups.get(name) {
                Some(Some(v)) => JsString::from(v.as_str()).into(),
                _ => JsValue::undefined(),
            };
            values.push(value, ctx)?;
        }
        let entry = JsArray::from_iter(
            [
                JsString::from(found.input.as_str()).into(),
                names.into(),
                values.into(),
            ],
            ctx,
        );
        out.push(entry.into());
    }
    Ok(JsArray::from_iter(out, ctx).into())
}
