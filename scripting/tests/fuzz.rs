//! Property-based fuzzing of the header handling the proxy and scripts share
//! (stable Rust, proptest): `Accept-Encoding` negotiation and cache-variance keys on
//! any header text, the streaming decoders on any bytes (a hostile origin's
//! "gzip"), and the `Headers` a script builds from any name and value, run through
//! the real engine. Longer runs: `PROPTEST_CASES=100000 cargo test --release -p
//! outpost-scripting --test fuzz`.

use outpost_scripting::codec::{Codec, Coding, accept_encoding_key};
use outpost_scripting::{Answer, HookRequest, Limits, ScriptEngine, ScriptError, ScriptSource};
use proptest::prelude::*;
use std::sync::OnceLock;

const ALL: [Coding; 4] = [Coding::Zstd, Coding::Brotli, Coding::Gzip, Coding::Deflate];

fn accept() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("gzip"),
            Just("br"),
            Just("zstd"),
            Just("deflate"),
            Just("*"),
            Just("identity"),
            Just(";q="),
            Just("0"),
            Just("1"),
            Just("0.5"),
            Just("1.0000"),
            Just("-1"),
            Just("nan"),
            Just(","),
            Just(" "),
            Just("GZIP"),
            Just("x-gzip"),
            Just(";"),
            Just("="),
        ],
        0..16,
    )
    .prop_map(|v| v.concat())
}

/// Pieces of header names and values: token characters, separators, HTTP whitespace,
/// the bytes response splitting needs, other controls, Latin-1 and beyond.
fn header_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("x"),
            Just("Y"),
            Just("-"),
            Just("_"),
            Just("9"),
            Just("!"),
            Just("~"),
            Just("'"),
            Just(" "),
            Just("\t"),
            Just("\r"),
            Just("\n"),
            Just("\r\nx-injected: 1"),
            Just("\0"),
            Just("\u{1}"),
            Just("\u{7f}"),
            Just(":"),
            Just("\""),
            Just("("),
            Just(","),
            Just("/"),
            Just("é"),
            Just("€"),
            Just("😀"),
        ],
        0..max,
    )
    .prop_map(|v| v.concat())
}

/// A header name a script may use: one or more RFC 9110 token characters.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Fetch's normalisation: leading and trailing HTTP whitespace go.
fn normalised(value: &str) -> &str {
    value.trim_matches(['\t', '\n', '\r', ' '])
}

/// The values Outpost keeps: anything without control characters but tab, stored as
/// UTF-8 (as Workers does). Workers refuses only NUL, CR and LF inside a value;
/// Outpost refuses every control character, which no header needs.
fn is_plain_value(value: &str) -> bool {
    !value
        .chars()
        .any(|c| (c.is_control() && c <= '\u{7f}') && c != '\t')
}

/// One engine and runtime for every case: the script is compiled once and each case
/// is a request whose query carries the name and value.
fn headers_engine() -> &'static (tokio::runtime::Runtime, ScriptEngine, ScriptSource) {
    static ENGINE: OnceLock<(tokio::runtime::Runtime, ScriptEngine, ScriptSource)> =
        OnceLock::new();
    ENGINE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = ScriptEngine::new(1, Limits::default()).expect("engine");
        let script = ScriptSource {
            path: "headers.js".into(),
            name: "headers.js".into(),
            code: r#"export default { fetch(request) {
                const p = new URL(request.url).searchParams;
                const n = p.get("n"), v = p.get("v"), how = p.get("how");
                let h;
                if (how === "init") h = new Headers({ [n]: v });
                else if (how === "append") { h = new Headers(); h.append(n, v); h.append(n, v); }
                else { h = new Headers(); h.set(n, v); }
                return new Response(h.get(n), { headers: h });
            } };"#
                .into(),
            version: 1,
        };
        (rt, engine, script)
    })
}

/// Runs the headers script for `name`/`value`: the response's values for `name` and
/// its body (what `headers.get(name)` said in JS), or the script's error.
fn set_from_js(how: &str, name: &str, value: &str) -> Result<(Vec<Vec<u8>>, String), ScriptError> {
    let (rt, engine, script) = headers_engine();
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("how", how)
        .append_pair("n", name)
        .append_pair("v", value)
        .finish();
    let request = HookRequest::new(
        http::Request::builder()
            .uri(format!("http://tenant.test/?{query}"))
            .body(bytes::Bytes::new())
            .expect("request"),
    );
    rt.block_on(async {
        match engine
            .run(script.clone(), Default::default(), request)
            .await?
        {
            Answer::Respond(r) => {
                let values = r
                    .head
                    .headers
                    .get_all(name.to_ascii_lowercase().as_str())
                    .iter()
                    .map(|v| v.as_bytes().to_vec())
                    .collect();
                let body = r.body.into_bytes(1 << 16).await?;
                Ok((values, String::from_utf8_lossy(&body).into_owned()))
            }
            Answer::PassThrough(e) => Err(e),
        }
    })
}

proptest! {
    /// A script can set any token name with a value without control characters
    /// (beyond ASCII too) and gets exactly the normalised value back, in JS and on
    /// the wire; anything else (a bad name, CR, LF, NUL or another control inside the
    /// value) is a `TypeError`, so no script can split a response or smuggle a header.
    #[test]
    fn headers_from_js_are_kept_exactly_or_refused_with_a_type_error(
        name in header_text(6),
        value in header_text(10),
        how in prop_oneof![Just("set"), Just("append"), Just("init")],
    ) {
        let valid = is_token(&name) && is_plain_value(normalised(&value));
        match set_from_js(how, &name, &value) {
            Ok((values, body)) => {
                prop_assert!(valid, "accepted {:?}: {:?} ({})", name, value, how);
                let want = normalised(&value);
                let copies = if how == "append" { 2 } else { 1 };
                prop_assert_eq!(values, vec![want.as_bytes().to_vec(); copies]);
                prop_assert_eq!(body, vec![want; copies].join(", "));
            }
            Err(e) => {
                prop_assert!(!valid, "refused {:?}: {:?} ({}): {}", name, value, how, e);
                let message = e.to_string();
                prop_assert!(
                    message.contains("TypeError: Invalid header"),
                    "unclear error for {:?}: {:?}: {}", name, value, message
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn negotiation_picks_an_offered_coding_the_client_did_not_refuse(a in accept()) {
        if let Some(c) = Coding::negotiate(Some(&a), &ALL) {
            prop_assert!(ALL.contains(&c));
            // Never a coding the client named with q=0 and nothing else.
            let refused = format!("{};q=0", c.token());
            prop_assert!(a != refused, "picked a refused coding for {:?}", a);
        }
        let key = accept_encoding_key(Some(&a));
        // The cache variance key is a normalised set, from a fixed vocabulary.
        prop_assert!(key.split(',').all(|t| t.is_empty() || ["br", "zstd", "gzip", "deflate"].contains(&t)), "{}", key);
        let _ = Coding::from_content_encoding(Some(&a));
    }

    #[test]
    fn decoders_take_any_bytes_without_panicking(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        split in 0usize..2048,
        which in 0usize..4,
    ) {
        let mut d = Codec::decoder(ALL[which]).expect("decoder");
        let split = split.min(data.len());
        if d.push(&data[..split]).is_ok() && d.push(&data[split..]).is_ok() {
            let _ = d.finish();
        }
    }

    #[test]
    fn every_coding_round_trips(data in proptest::collection::vec(any::<u8>(), 0..4096), which in 0usize..4) {
        let mut e = Codec::encoder(ALL[which]).expect("encoder");
        let mut packed = e.push(&data).expect("encode");
        packed.extend(e.finish().expect("finish"));
        let mut d = Codec::decoder(ALL[which]).expect("decoder");
        let mut out = d.push(&packed).expect("decode");
        out.extend(d.finish().expect("finish"));
        prop_assert_eq!(out, data);
    }
}
