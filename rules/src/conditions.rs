//! Evaluation of a rule's `when:` conditions.

use crate::request::RequestView;
use outpost_config::{Conditions, ValueTest};

/// Whether every condition holds for `req`.
pub(crate) fn hold(c: &Conditions, req: &RequestView<'_>) -> bool {
    if c.is_empty() {
        return true;
    }
    (c.methods.is_empty() || c.methods.iter().any(|m| m == req.method))
        && c.headers.iter().all(|(name, test)| {
            let mut values = req
                .headers
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .peekable();
            let present = values.peek().is_some();
            check(test, present, values)
        })
        && c.cookies.iter().all(|(name, test)| {
            let mut values = cookies(req.headers)
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v)
                .peekable();
            let present = values.peek().is_some();
            check(test, present, values)
        })
        && c.query.iter().all(|(name, test)| {
            let query = req
                .path_and_query
                .split_once('?')
                .map_or("", |(_, q)| q)
                .as_bytes();
            let values: Vec<String> = form_urlencoded::parse(query)
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .collect();
            check(test, !values.is_empty(), values.iter().map(String::as_str))
        })
        && (c.client_ip.is_empty()
            || req
                .client_ip
                .is_some_and(|ip| c.client_ip.iter().any(|net| net.contains(&ip))))
}

fn check<'v>(test: &ValueTest, present: bool, mut values: impl Iterator<Item = &'v str>) -> bool {
    match test {
        ValueTest::Present => present,
        ValueTest::Absent => !present,
        ValueTest::Equals(want) => values.any(|v| v == want),
        ValueTest::Regex(re) => values.any(|v| re.is_match(v)),
    }
}

/// `(name, value)` pairs from every `Cookie` header (RFC 6265 `name=value; ...`).
pub fn cookies(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            Some((k.trim(), v.trim()))
        })
}
