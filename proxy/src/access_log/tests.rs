//! The direct writer's lines against `tracing`'s formatter's, set up as the binary
//! sets it up (text, and JSON with flattened events; no ANSI colours).

use super::{AccessLine, timestamp};
use outpost_config::LogFormat;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The line `tracing` writes for `line` (with `duration_ms`), in `format`.
fn through_tracing(format: LogFormat, line: AccessLine<'_>, duration_ms: f64) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let builder = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone());
    let dispatch = match format {
        LogFormat::Text => tracing::Dispatch::new(builder.finish()),
        LogFormat::Json => tracing::Dispatch::new(builder.json().flatten_event(true).finish()),
    };
    tracing::dispatcher::with_default(&dispatch, || line.write_through_tracing(duration_ms));
    let bytes = out.0.lock().expect("lock").clone();
    String::from_utf8(bytes).expect("utf-8")
}

fn direct(format: LogFormat, line: &AccessLine<'_>, now: SystemTime, duration_ms: f64) -> String {
    let mut buf = Vec::new();
    line.render(format, now, duration_ms, &mut buf);
    String::from_utf8(buf).expect("utf-8")
}

/// The line without its timestamp (tested on its own below: `tracing` reads the clock
/// itself).
fn untimed(format: LogFormat, line: &str) -> String {
    match format {
        LogFormat::Text => line.split_once(' ').expect("timestamp").1.to_string(),
        LogFormat::Json => {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
            v.as_object_mut().expect("object").remove("timestamp");
            // (Compared as text too, below: the order of entries is part of the line.)
            v.to_string()
        }
    }
}

fn json_without_timestamp_text(line: &str) -> String {
    let at = line.find(",\"level\"").expect("level");
    line[at..].to_string()
}

struct Case {
    client: Option<std::net::IpAddr>,
    version: http::Version,
    site: &'static str,
    path: &'static str,
    rule: Option<String>,
    script: Option<String>,
    html: Option<&'static str>,
    compression: Option<&'static str>,
    error: Option<String>,
    duration_ms: f64,
}

fn cases() -> Vec<Case> {
    let plain = Case {
        client: Some("127.0.0.1".parse().expect("ip")),
        version: http::Version::HTTP_11,
        site: "quick",
        path: "/1k.txt",
        rule: None,
        script: None,
        html: None,
        compression: None,
        error: None,
        duration_ms: 0.073_412,
    };
    vec![
        Case { ..plain },
        Case {
            client: None,
            version: http::Version::HTTP_2,
            duration_ms: 12.5,
            ..Case { ..cases_base() }
        },
        Case {
            client: Some("2001:db8::1".parse().expect("ip")),
            version: http::Version::HTTP_3,
            site: "caf\u{e9} \"quoted\" back\\slash",
            path: "/a%20b?q=\"x\"",
            rule: Some("rule with \"quotes\"".into()),
            script: Some("hooks/edge.js".into()),
            html: Some("rewrite"),
            compression: Some("br"),
            error: Some(
                "line one\nline two\ttab \u{1b}[31m esc \u{85} nel \u{7f} del \u{301} mark 🦀"
                    .into(),
            ),
            duration_ms: 0.000_012_3,
        },
        Case {
            error: Some(String::new()),
            duration_ms: 123_456.789,
            ..cases_base()
        },
        Case {
            duration_ms: 1e-7,
            client: Some("255.0.10.100".parse().expect("ip")),
            ..cases_base()
        },
        Case {
            duration_ms: 0.0,
            version: http::Version::HTTP_09,
            ..cases_base()
        },
    ]
}

fn cases_base() -> Case {
    Case {
        client: Some("10.0.0.7".parse().expect("ip")),
        version: http::Version::HTTP_10,
        site: "",
        path: "/",
        rule: Some("r".into()),
        script: None,
        html: Some(""),
        compression: None,
        error: None,
        duration_ms: 1.0,
    }
}

fn line(c: &Case) -> AccessLine<'_> {
    AccessLine {
        client: c.client,
        request_id: &"6b1527224a3b99eb-0",
        method: "GET",
        host: "www.example.com",
        path: c.path,
        version: c.version,
        status: 200,
        bytes: 1024,
        start: Instant::now(),
        site: c.site,
        origin: "http://127.0.0.1:18080",
        attempts: 1,
        cache: "hit",
        subrequest: c.site.is_empty(),
        rule: c.rule.clone(),
        script: c.script.clone(),
        html: c.html,
        compression: c.compression,
        error: c.error.clone(),
    }
}

#[test]
fn direct_lines_are_tracings_lines() {
    let now = SystemTime::now();
    for format in [LogFormat::Text, LogFormat::Json] {
        for c in cases() {
            let ours = direct(format, &line(&c), now, c.duration_ms);
            let theirs = through_tracing(format, line(&c), c.duration_ms);
            assert!(
                ours.ends_with('\n') && !ours[..ours.len() - 1].contains('\n'),
                "{ours}"
            );
            assert_eq!(
                untimed(format, &ours),
                untimed(format, &theirs),
                "{format:?}"
            );
            if format == LogFormat::Json {
                assert_eq!(
                    json_without_timestamp_text(&ours),
                    json_without_timestamp_text(&theirs)
                );
            }
        }
    }
}

/// The timestamp is `tracing_subscriber`'s `SystemTime` timer's: the same text as
/// the timer's readings just before and after (same length, between them), and as
/// RFC 3339 with microseconds at fixed instants, across the per-second cache.
#[test]
fn timestamps_are_tracings_timestamps() {
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::FormatTime;
    let theirs = || {
        let mut s = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut Writer::new(&mut s))
            .expect("time");
        s
    };
    for _ in 0..1000 {
        let before = theirs();
        let mut ours = Vec::new();
        timestamp(SystemTime::now(), &mut ours);
        let after = theirs();
        let ours = String::from_utf8(ours).expect("utf-8");
        assert_eq!(ours.len(), before.len(), "{ours} vs {before}");
        assert!(
            before <= ours && ours <= after,
            "{before} <= {ours} <= {after}"
        );
    }
    for (secs, micros, text) in [
        (0, 0, "1970-01-01T00:00:00.000000Z"),
        (1_796_614_271, 323_867, "2026-12-07T03:31:11.323867Z"),
        (1_796_614_271, 5, "2026-12-07T03:31:11.000005Z"),
        (1_796_614_272, 999_999, "2026-12-07T03:31:12.999999Z"),
        (951_782_400, 1, "2000-02-29T00:00:00.000001Z"),
    ] {
        let at = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
        let mut ours = Vec::new();
        timestamp(at, &mut ours);
        assert_eq!(String::from_utf8(ours).expect("utf-8"), text);
    }
}
