//! Per-request values in configured text: `{{ header.x-user | html_escape }}`.
//!
//! Templates are parsed once at load (so a typo is a config error with its line) and
//! rendered per request by whoever holds the request (`proxy`), through a lookup
//! function: this crate never sees a request.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Text with `{{ … }}` placeholders, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Value(Placeholder),
}

/// Where a placeholder's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueSource {
    /// `header.NAME` (lowercase name): the request header's value.
    Header(String),
    /// `cookie.NAME`: a request cookie's value.
    Cookie(String),
    /// `query.NAME`: a query parameter's (decoded) value.
    Query(String),
    /// `client_ip`.
    ClientIp,
    /// `host`: the request's host, without port.
    Host,
    /// `path`: the request path.
    Path,
    /// `method`.
    Method,
}

/// How a value is escaped before it is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    /// The default: `& < > " '` become character references (where the text is HTML).
    HtmlEscape,
    /// Inserted as is (`| raw`): only for values the site owner trusts.
    Raw,
    /// Percent-encoded for use in a URL (`| url_encode`).
    UrlEncode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Placeholder {
    source: ValueSource,
    filter: Filter,
    default: String,
}

/// Where rendered text goes, which decides the escaping of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// HTML markup (or an attribute value): values are HTML-escaped unless `raw`.
    Html,
    /// Plain text that the writer escapes itself: values are inserted as they are
    /// (escaping here would escape twice).
    Text,
}

impl Template {
    /// Parses `text`; the error says what is wrong with which placeholder.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed placeholder {:?}", &rest[open..]))?;
            parts.push(Part::Value(parse_placeholder(&after[..close])?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// A template that is plain text.
    pub fn literal(text: &str) -> Template {
        Template {
            parts: vec![Part::Literal(text.to_string())],
        }
    }

    /// Whether rendering depends on the request.
    pub fn is_dynamic(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Value(_)))
    }

    /// The sources the placeholders read.
    pub fn sources(&self) -> impl Iterator<Item = &ValueSource> {
        self.parts.iter().filter_map(|p| match p {
            Part::Value(v) => Some(&v.source),
            Part::Literal(_) => None,
        })
    }

    /// The text with each placeholder replaced by `lookup`'s value (or its default),
    /// escaped for `context`.
    pub fn render<'a>(
        &'a self,
        context: Context,
        lookup: &dyn Fn(&ValueSource) -> Option<String>,
    ) -> Cow<'a, str> {
        match self.parts.as_slice() {
            [] => Cow::Borrowed(""),
            [Part::Literal(s)] => Cow::Borrowed(s),
            parts => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        Part::Literal(s) => out.push_str(s),
                        Part::Value(v) => {
                            let value = lookup(&v.source);
                            let value = value.as_deref().unwrap_or(&v.default);
                            match (v.filter, context) {
                                (Filter::UrlEncode, _) => {
                                    out.extend(percent_encoding::utf8_percent_encode(
                                        value,
                                        percent_encoding::NON_ALPHANUMERIC,
                                    ))
                                }
                                (Filter::HtmlEscape, Context::Html) => html_escape(value, &mut out),
                                _ => out.push_str(value),
                            }
                        }
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

/// Appends `s` with `& < > " '` replaced by character references.
pub fn html_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn parse_placeholder(inner: &str) -> Result<Placeholder, String> {
    let mut pieces = inner.split('|').map(str::trim);
    let what = pieces.next().unwrap_or_default();
    let source = match what.split_once('.') {
        Some(("header", name)) if !name.is_empty() => {
            http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            ValueSource::Header(name.to_ascii_lowercase())
        }
        Some(("cookie", name)) if !name.is_empty() => ValueSource::Cookie(name.to_string()),
        Some(("query", name)) if !name.is_empty() => ValueSource::Query(name.to_string()),
        None if what == "client_ip" => ValueSource::ClientIp,
        None if what == "host" => ValueSource::Host,
        None if what == "path" => ValueSource::Path,
        None if what == "method" => ValueSource::Method,
        _ => {
            return Err(format!(
                "unknown value {what:?} in {{{{{inner}}}}} (expected header.NAME, cookie.NAME, query.NAME, client_ip, host, path or method)"
            ));
        }
    };
    let mut filter = Filter::HtmlEscape;
    let mut default = String::new();
    for f in pieces {
        match f.split_once(':').map(|(a, b)| (a.trim(), b.trim())) {
            Some(("default", d)) => {
                default = d.trim_matches('"').trim_matches('\'').to_string();
            }
            _ => match f {
                "html_escape" => filter = Filter::HtmlEscape,
                "raw" => filter = Filter::Raw,
                "url_encode" => filter = Filter::UrlEncode,
                other => {
                    let mut msg = String::new();
                    let _ = write!(
                        msg,
                        "unknown filter {other:?} (expected html_escape, raw, url_encode or default: \"…\")"
                    );
                    return Err(msg);
                }
            },
        }
    }
    Ok(Placeholder {
        source,
        filter,
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(s: &ValueSource) -> Option<String> {
        match s {
            ValueSource::Header(h) if h == "x-user" => Some("<Ann & \"Bob\">".into()),
            ValueSource::Cookie(c) if c == "bucket" => Some("b".into()),
            _ => None,
        }
    }

    #[test]
    fn escapes_unless_raw() {
        let t = Template::parse("Hi {{ header.X-User }}!").expect("template");
        assert_eq!(
            t.render(Context::Html, &lookup),
            "Hi &lt;Ann &amp; &quot;Bob&quot;&gt;!"
        );
        assert_eq!(t.render(Context::Text, &lookup), "Hi <Ann & \"Bob\">!");
        let raw = Template::parse("{{header.x-user|raw}}").expect("template");
        assert_eq!(raw.render(Context::Html, &lookup), "<Ann & \"Bob\">");
        let url = Template::parse("/s?u={{ header.x-user | url_encode }}").expect("template");
        assert_eq!(
            url.render(Context::Html, &lookup),
            "/s?u=%3CAnn%20%26%20%22Bob%22%3E"
        );
    }

    #[test]
    fn defaults_and_errors() {
        let t = Template::parse("{{ cookie.bucket }}/{{ query.q | default: \"none\" }}")
            .expect("template");
        assert_eq!(t.render(Context::Html, &lookup), "b/none");
        assert!(
            Template::parse("{{ header.x")
                .expect_err("bad template")
                .contains("unclosed")
        );
        assert!(
            Template::parse("{{ body }}")
                .expect_err("bad template")
                .contains("unknown value")
        );
        assert!(
            Template::parse("{{ host | shout }}")
                .expect_err("bad template")
                .contains("unknown filter")
        );
        assert!(!Template::parse("plain").expect("template").is_dynamic());
    }
}
