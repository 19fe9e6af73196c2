//! `outpost rules test`: which page rule applies to a URL, and what it would do.

use anyhow::{Context, bail};
use outpost_config::{CacheLevel, Config, HeaderEdits, QueryKey};
use outpost_rules::{RequestView, RuleSet};
use std::fmt::Write;
use std::net::IpAddr;

/// Builds the explanation printed by `outpost rules test`.
pub fn explain(
    cfg: &Config,
    url: &str,
    method: &str,
    headers: &[String],
    client_ip: IpAddr,
) -> anyhow::Result<String> {
    let full = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let uri: http::Uri = full
        .parse()
        .with_context(|| format!("{url:?} is not a URL"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => bail!("{url:?}: only http:// and https:// URLs can be tested"),
    };
    let authority = uri.authority().context("the URL has no host")?;
    let host = authority.host().trim_end_matches('.').to_ascii_lowercase();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut map = http::HeaderMap::new();
    for h in headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("header {h:?} is not `Name: value`"))?;
        let name = http::HeaderName::from_bytes(k.trim().as_bytes())
            .with_context(|| format!("{k:?} is not a header name"))?;
        let value = http::HeaderValue::from_str(v.trim())
            .with_context(|| format!("{v:?} is not a header value"))?;
        map.append(name, value);
    }
    let method = method.to_ascii_uppercase();

    let mut out = String::new();
    let Some(site) = cfg.site_for_host(&host) else {
        writeln!(out, "no site serves host {host:?}: Outpost answers 404")?;
        return Ok(out);
    };
    writeln!(out, "site:    {}", site.name)?;
    let set = RuleSet::new(&site.rules);
    let view = RequestView {
        tls,
        host: &host,
        port,
        path_and_query: pq,
        method: &method,
        headers: &map,
        client_ip: Some(client_ip),
    };
    let Some(m) = set.find(&view) else {
        writeln!(
            out,
            "rule:    none of the site's {} rule(s) match; the site's defaults apply",
            set.len()
        )?;
        return Ok(out);
    };
    let rule = &m.rule;
    write!(
        out,
        "rule:    {}  match {:?}",
        rule.source, rule.pattern.text
    )?;
    if let Some(name) = &rule.name {
        write!(out, "  ({name})")?;
    }
    writeln!(out)?;
    for (i, c) in m.captures.iter().enumerate() {
        writeln!(out, "  ${} = {c:?}", i + 1)?;
    }
    writeln!(out, "actions:")?;
    let https_port = cfg.listen.https.map(|a| a.port());
    match m.redirect(&view, https_port) {
        Some(Ok(r)) => {
            writeln!(out, "  redirect {} -> {}", r.status, r.location)?;
            return Ok(out);
        }
        Some(Err(e)) => {
            writeln!(out, "  error: {e} (Outpost answers 500)")?;
            return Ok(out);
        }
        None if rule.actions.always_use_https => {
            writeln!(out, "  always_use_https: already HTTPS, nothing to do")?;
        }
        None => {}
    }
    let a = &rule.actions;
    match m.rewritten(pq) {
        Some(Ok(to)) => writeln!(out, "  rewrite: origin gets {to}")?,
        Some(Err(e)) => writeln!(out, "  rewrite error: {e} (Outpost answers 500)")?,
        None => {}
    }
    if let Some(level) = a.cache_level {
        let level = match level {
            CacheLevel::Bypass => "bypass (never cached)",
            CacheLevel::Basic => "basic (RFC 9111)",
            CacheLevel::IgnoreQueryString => "ignore_query_string",
            CacheLevel::CacheEverything => "cache_everything",
        };
        writeln!(out, "  cache_level: {level}")?;
    }
    if m.bypass_on_cookie(&map) {
        writeln!(
            out,
            "  bypass_cache_on_cookie: a cookie matches, the cache is skipped"
        )?;
    } else if let Some(re) = &a.bypass_cache_on_cookie {
        writeln!(
            out,
            "  bypass_cache_on_cookie: /{re}/ (no cookie in this request matches)"
        )?;
    }
    let secs = |d: std::time::Duration| humantime::format_duration(d).to_string();
    if let Some(t) = a.edge_ttl {
        writeln!(out, "  edge_ttl: {}", secs(t))?;
    }
    if let Some(t) = a.browser_ttl {
        writeln!(
            out,
            "  browser_ttl: {} (clients get max-age={})",
            secs(t),
            t.as_secs()
        )?;
    }
    if let Some(k) = &a.cache_key {
        let query = match &k.query {
            QueryKey::Full => "full".to_string(),
            QueryKey::Sorted => "sorted".to_string(),
            QueryKey::Ignore => "ignore".to_string(),
            QueryKey::Include(n) => format!("include {}", n.join(", ")),
            QueryKey::Exclude(n) => format!("exclude {}", n.join(", ")),
        };
        writeln!(
            out,
            "  cache_key: query {query}; headers [{}]; cookies [{}]",
            k.headers.join(", "),
            k.cookies.join(", ")
        )?;
    }
    if let Some(occ) = a.origin_cache_control {
        writeln!(out, "  origin_cache_control: {occ}")?;
    }
    headers_out(&mut out, "request", &a.request_headers)?;
    headers_out(&mut out, "response", &a.response_headers)?;
    if let Some(h) = &a.host_header {
        writeln!(out, "  host_header: {h}")?;
    }
    if let Some(o) = &a.origin {
        writeln!(out, "  origin: pool {o}")?;
    }
    if let Some(s) = &a.script {
        writeln!(out, "  script: {}", s.path.display())?;
    }
    if let Some(h) = &a.html_rewrite {
        writeln!(out, "  html_rewrite: {h}")?;
    }
    if let Some(r) = &a.rate_limit {
        let key = match &r.key {
            outpost_config::RateKey::ClientIp => "client_ip".to_string(),
            outpost_config::RateKey::Header(h) => format!("header:{h}"),
            outpost_config::RateKey::Cookie(c) => format!("cookie:{c}"),
        };
        let action = match r.action {
            outpost_config::RateAction::Block => "429 with Retry-After",
            outpost_config::RateAction::ChallengeHeader => "Outpost-Rate-Limited: 1 to the origin",
        };
        writeln!(
            out,
            "  rate_limit: {} per {} by {key}, then {action}",
            r.requests,
            humantime::format_duration(r.per)
        )?;
    }
    if a.disable_scripts {
        writeln!(out, "  disable: scripts")?;
    }
    if a.disable_html_rewrite {
        writeln!(out, "  disable: html_rewrite")?;
    }
    Ok(out)
}

fn headers_out(out: &mut String, side: &str, e: &HeaderEdits) -> std::fmt::Result {
    for n in &e.remove {
        writeln!(out, "  {side} header: remove {n}")?;
    }
    for (n, v) in &e.set {
        writeln!(out, "  {side} header: set {n}: {v}")?;
    }
    for (n, v) in &e.add {
        writeln!(out, "  {side} header: add {n}: {v}")?;
    }
    Ok(())
}
