//! The Web APIs written in JavaScript: which files make up the runtime, in what order
//! they run, and which (Streams, Web Crypto's key operations, HTMLRewriter's handler
//! side, FormData's body codecs) are compiled only when a script first needs them.

use boa_engine::script::SharedCode;
use boa_engine::{Context, JsResult, JsValue, Script, Source};
use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::sync::OnceLock;

/// Run in every new context, in this order (each file's header says what it holds):
/// DOM events and aborts, the loader that stands in for the Streams globals, Blob and
/// File, FormData, Web Crypto, URLSearchParams, URLPattern, Headers, the Workers prelude
/// (Request, Response, fetch, HTMLRewriter, the entry points), then the rest of the
/// Workers global scope over the prelude's host calls.
const EAGER: [&str; 10] = [
    include_str!("js/events.js"),
    include_str!("js/streams-loader.js"),
    include_str!("js/blob.js"),
    include_str!("js/formdata.js"),
    include_str!("js/crypto.js"),
    include_str!("js/url.js"),
    include_str!("js/urlpattern.js"),
    include_str!("js/headers.js"),
    include_str!("prelude.js"),
    include_str!("js/platform.js"),
];

/// The parts compiled on a script's first use of one, by name: each is one function
/// expression (its header says what it takes and returns). The Streams standard, in
/// parts concatenated in order (see `js/streams-loader.js`), Web Crypto's key
/// operations (see `js/crypto.js`), FormData's body encoding and parsing (see
/// `js/formdata.js`).
const PARTS: [(&str, &str); 3] = [
    (
        "streams",
        concat!(
            include_str!("js/streams/01-core.js"),
            include_str!("js/streams/02-readable.js"),
            include_str!("js/streams/03-byte.js"),
            include_str!("js/streams/04-tee-pipe.js"),
            include_str!("js/streams/05-writable.js"),
            include_str!("js/streams/06-transform.js"),
            include_str!("js/streams/07-extras.js"),
        ),
    ),
    ("subtle", include_str!("js/subtle.js")),
    ("multipart", include_str!("js/multipart.js")),
];

/// A source without comment lines and indentation: boa's parser time grows with the
/// bytes it reads (a quarter less).
fn strip(src: &str) -> String {
    src.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sources every new context runs, stripped once per process.
pub(crate) fn eager() -> &'static [String] {
    static STRIPPED: OnceLock<Vec<String>> = OnceLock::new();
    STRIPPED.get_or_init(|| EAGER.iter().map(|s| strip(s)).collect())
}

/// The source of the part named `name`, stripped once per process.
pub(crate) fn part(name: &str) -> Option<&'static str> {
    static STRIPPED: OnceLock<Vec<String>> = OnceLock::new();
    let stripped = STRIPPED.get_or_init(|| PARTS.iter().map(|(_, s)| strip(s)).collect());
    let i = PARTS.iter().position(|(n, _)| *n == name)?;
    Some(stripped[i].as_str())
}

thread_local! {
    /// Each source's code as compiled by the first runtime on this JS thread, keyed by
    /// the source's address (every source is a process-wide static): the thread's other
    /// contexts run the same code blocks instead of compiling their own copy (boa's heap
    /// is per thread, so its objects may be shared by the thread's contexts). Never
    /// dropped: the thread's contexts hold it until the thread ends, and boa's heap may
    /// be gone by the time thread-locals are.
    static COMPILED: RefCell<ManuallyDrop<HashMap<usize, SharedCode>>> =
        RefCell::new(ManuallyDrop::new(HashMap::new()));
}

/// Runs one of these sources in `ctx`. Its functions keep no source text: they are the
/// runtime's, so `toString()` shows them as `[native code]`, as Workers' built-ins
/// show, and each context is spared a UTF-16 copy of ~60 KB of source for its life.
/// The code is compiled once per thread where it can be (see [`COMPILED`]): a source
/// that declares nothing globally, run in a realm without global `let`/`const`/`class`
/// bindings (so always in a fresh runtime; a service-worker script's declarations make
/// a later lazy part compile for its context alone).
pub(crate) fn run(source: &'static str, ctx: &mut Context) -> JsResult<JsValue> {
    let key = source.as_ptr() as usize;
    let compiled = COMPILED.with_borrow(|c| c.get(&key).cloned());
    if let Some(script) = compiled.and_then(|code| Script::from_shared_code(&code, ctx)) {
        return script.evaluate(ctx);
    }
    let script = Script::parse_without_source(Source::from_bytes(source), None, ctx)?;
    if let Some(code) = script.shared_code(ctx)? {
        COMPILED.with_borrow_mut(|c| c.insert(key, code));
    }
    script.evaluate(ctx)
}
