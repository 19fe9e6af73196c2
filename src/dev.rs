//! `outpost dev`: local development. Serves on localhost with debug headers and full
//! error detail, reloads when the config, rules or scripts change, and prints each
//! request as one readable line and each `console.*` call as plainly as it was written.

use std::fmt::Write as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The fields of one event, as text.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name(), text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs.push((field.name(), value.to_string()));
        }
    }
}

/// Formats events for a developer's terminal.
pub(crate) struct DevFormat;

impl<S, N> FormatEvent<S, N> for DevFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut f = Fields::default();
        event.record(&mut f);
        let field = |k: &str| f.get(k).unwrap_or("-").to_string();
        match meta.target() {
            "outpost::access" => {
                let mut line = format!(
                    "{} {}{} → {} (",
                    field("method"),
                    field("host"),
                    field("path"),
                    field("status"),
                );
                // A request a script answered never reached the cache itself.
                if f.get("script").is_none() {
                    let _ = write!(line, "cache {}, ", field("cache"));
                }
                if let Some(ms) = f.get("duration_ms").and_then(|m| m.parse::<f64>().ok()) {
                    let _ = write!(line, "{ms:.1} ms");
                }
                line.push(')');
                if let Some(rule) = f.get("rule") {
                    let _ = write!(line, " rule {rule}");
                }
                if let Some(script) = f.get("script") {
                    let _ = write!(line, " script {script}");
                }
                if let Some(html) = f.get("html") {
                    let _ = write!(line, " html {html}");
                }
                if f.get("subrequest") == Some("true") {
                    line.insert_str(0, "  ↳ fetch ");
                }
                if let Some(e) = f.get("error") {
                    let _ = write!(line, " error: {e}");
                }
                writeln!(w, "{line}")
            }
            "outpost::script" => {
                let script = f.get("script").unwrap_or("script");
                let name = script.rsplit('/').next().unwrap_or(script);
                let level = match *meta.level() {
                    tracing::Level::ERROR => "error ",
                    tracing::Level::WARN => "warn ",
                    _ => "",
                };
                writeln!(w, "  [{name}] {level}{}", f.message)
            }
            _ => {
                let mut line = format!("{} {}", meta.level(), f.message);
                // Fields bridged from the `log` crate say where in a dependency the
                // line came from: noise here.
                for (k, v) in f.pairs.iter().filter(|(k, _)| !k.starts_with("log.")) {
                    let _ = write!(line, " {k}={v}");
                }
                writeln!(w, "{line}")
            }
        }
    }
}
