//! `HTMLRewriter` through the real engine: every element, text, comment, end-tag and
//! document method, async handlers, errors and limits.

use outpost_scripting::{Answer, HookRequest, Limits, ScriptEngine, ScriptError, ScriptSource};

fn script(name: &str, code: &str) -> ScriptSource {
    ScriptSource {
        path: name.into(),
        name: name.into(),
        code: code.into(),
        version: 1,
    }
}

fn request() -> HookRequest {
    HookRequest::new(
        http::Request::builder()
            .uri("https://example.com/")
            .body(bytes::Bytes::new())
            .expect("request"),
    )
}

async fn run_with(e: &ScriptEngine, code: &str) -> Result<(http::HeaderMap, String), ScriptError> {
    match e
        // Named by its length: each different script gets its own warm instance.
        .run(
            script(&format!("rewrite-{}.js", code.len()), code),
            Default::default(),
            request(),
        )
        .await?
    {
        Answer::Respond(r) => {
            let body = r.body.into_bytes(64 << 20).await?;
            Ok((
                r.head.headers,
                String::from_utf8(body.to_vec()).expect("utf8"),
            ))
        }
        Answer::PassThrough(e) => panic!("unexpected pass-through: {e}"),
    }
}

async fn run(code: &str) -> Result<(http::HeaderMap, String), ScriptError> {
    let e = patient(ScriptEngine::new(1, behaviour_limits()).expect("engine"));
    run_with(&e, code).await
}

/// Limits for the tests about what a rewrite does, not how long it may take: a debug
/// build's page with a JS stream and promise handlers is charged ~10 ms on an idle
/// machine, and a loaded CI machine (2 cores, test binaries side by side) once took it
/// past the 50 ms default. The CPU limit
/// has its own test (`handlers_count_against_the_cpu_limit`).
fn behaviour_limits() -> Limits {
    Limits {
        cpu_time: std::time::Duration::from_secs(5),
        ..Limits::default()
    }
}

/// A module whose fetch handler rewrites `page` with the rewriter `setup` builds.
fn module(page: &str, setup: &str) -> String {
    format!(
        r#"
        const page = {page:?};
        export default {{
          async fetch(request) {{
            const response = new Response(page, {{ headers: {{ "content-type": "text/html", "content-length": "{len}" }} }});
            return {setup}.transform(response);
          }},
        }};
        "#,
        len = page.len()
    )
}

#[tokio::test]
async fn element_methods() {
    let page = r#"<div id="a" class="x" data-drop="1"><p>one</p><span>keep me</span><b>gone</b><i>old</i><u>in</u></div><img src="/a.png">"#;
    let code = module(
        page,
        r#"new HTMLRewriter()
          .on("div#a", {
            element(el) {
              const seen = [el.tagName, el.getAttribute("class"), el.hasAttribute("id"), el.hasAttribute("nope"),
                            el.getAttribute("nope"), [...el.attributes].map(([k, v]) => k + "=" + v).join(","),
                            el.canHaveContent, el.removed];
              el.setAttribute("class", "y").removeAttribute("data-drop");
              el.setAttribute("data-seen", JSON.stringify(seen));
              el.before("<hr>", { html: true }).after("<after>");
              el.prepend("<em>first</em>", { html: true }).append("last");
            },
          })
          .on("p", { element(el) { el.setInnerContent("<b>two</b>", { html: true }); } })
          .on("span", { element(el) { el.removeAndKeepContent(); } })
          .on("b", { element(el) { el.remove(); if (!el.removed) throw new Error("removed flag"); } })
          .on("i", { element(el) { el.replace("<i>new</i>", { html: true }); } })
          .on("u", { element(el) { el.tagName = "strong"; } })
          .on("img", { element(el) { el.setAttribute("src", el.getAttribute("src").replace(".png", ".webp")); } })"#,
    );
    let (headers, body) = run(&code).await.expect("rewrite");
    assert!(headers.get("content-length").is_none(), "length dropped");
    let seen = r#"data-seen="[&quot;div&quot;,&quot;x&quot;,true,false,null,&quot;id=a,class=x,data-drop=1&quot;,true,false]""#;
    assert_eq!(
        body,
        format!(
            r#"<hr><div id="a" class="y" {seen}><em>first</em><p><b>two</b></p>keep me<i>new</i><strong>in</strong>last</div>&lt;after&gt;<img src="/a.webp">"#
        )
    );
}

#[tokio::test]
async fn text_comments_end_tags_and_document() {
    let page = "<!DOCTYPE html><html><body><!-- note --><h1>Hello world</h1><p>a <b>b</b></p></body></html>";
    let code = module(
        page,
        r#"new HTMLRewriter()
          .on("h1", {
            text(t) {
              // (The last chunk of a text node may be empty, as in Workers.)
              t.replace(t.text.toUpperCase());
              if (t.lastInTextNode) t.after("!");
            },
            element(el) {
              el.onEndTag((end) => { end.before("<small>end of " + end.name + "</small>", { html: true }); end.after("|"); });
            },
          })
          .on("b", { element(el) { el.onEndTag((end) => { end.name = "i"; }); el.tagName = "i"; } })
          .on("body", { comments(c) { c.text = " " + c.text.trim().toUpperCase() + " "; c.after("<br>", { html: true }); } })
          .onDocument({
            doctype(d) { globalThis.doctype = [d.name, d.publicId, d.systemId]; },
            comments(c) { if (c.text.includes("NOTE")) c.before("[c]"); },
            text(t) { if (t.text === "a ") t.before("&"); },
            end(end) { end.append("<!-- done: " + JSON.stringify(globalThis.doctype) + " -->", { html: true }); },
          })"#,
    );
    let (_, body) = run(&code).await.expect("rewrite");
    assert_eq!(
        body,
        "<!DOCTYPE html><html><body>[c]<!-- NOTE --><br><h1>HELLO WORLD!<small>end of h1</small></h1>|<p>&amp;a <i>b</i></p></body></html><!-- done: [\"html\",null,null] -->"
    );
}

#[tokio::test]
async fn async_handlers_are_awaited_in_order() {
    let page = "<ul><li>1</li><li>2</li><li>3</li></ul>";
    let code = module(
        page,
        r#"new HTMLRewriter().on("li", {
            async element(el) {
              // A real wait on the host (a timer): the parser must not go on meanwhile.
              await new Promise((r) => setTimeout(r, 20));
              const n = (globalThis.n = (globalThis.n ?? 0) + 1);
              el.setAttribute("data-order", String(n));
              await null;
              el.append(" (async)");
            },
          })"#,
    );
    let (_, body) = run(&code).await.expect("rewrite");
    assert_eq!(
        body,
        r#"<ul><li data-order="1">1 (async)</li><li data-order="2">2 (async)</li><li data-order="3">3 (async)</li></ul>"#
    );
}

#[tokio::test]
async fn tokens_die_with_their_handler_and_bad_selectors_throw() {
    let code = r#"
        let kept;
        export default {
          async fetch() {
            let bad = "none";
            try { new HTMLRewriter().on("a:hover", {}); } catch (e) { bad = e.name + ": " + e.message; }
            const r = new HTMLRewriter().on("p", { element(el) { kept = el; } })
              .transform(new Response("<p>x</p>"));
            const text = await r.text();
            let late = "none";
            try { kept.setAttribute("a", "b"); } catch (e) { late = e.message; }
            return Response.json({ bad, text, late });
          },
        };
    "#;
    let (_, body) = run(code).await.expect("run");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        v["bad"]
            .as_str()
            .is_some_and(|s| s.starts_with("TypeError: invalid selector \"a:hover\"")),
        "{v}"
    );
    assert_eq!(v["text"], "<p>x</p>");
    assert!(
        v["late"]
            .as_str()
            .is_some_and(|s| s.contains("no longer valid")),
        "{v}"
    );
}

#[tokio::test]
async fn a_throwing_handler_cuts_the_response_short() {
    let page = format!(
        "<p>ok</p>{}<p class=bad>x</p>",
        "<i>filler</i>".repeat(1_000)
    );
    let code = module(
        &page,
        r#"new HTMLRewriter().on("p.bad", { element() { throw new Error("handler broke"); } })"#,
    );
    let e = patient(ScriptEngine::new(1, behaviour_limits()).expect("engine"));
    let err = run_with(&e, &code).await.expect_err("the body fails");
    let msg = err.to_string();
    assert!(msg.contains("handler broke"), "{msg}");
    // The thread and the script are fine afterwards.
    let (_, body) = run_with(
        &e,
        &module(
            "<p>x</p>",
            r#"new HTMLRewriter().on("p", { element(el) { el.setAttribute("ok", "1"); } })"#,
        ),
    )
    .await
    .expect("next request");
    assert_eq!(body, r#"<p ok="1">x</p>"#);
}

#[tokio::test]
async fn handlers_count_against_the_cpu_limit() {
    let page = "<p>x</p>".repeat(50);
    let code = module(
        &page,
        // (Work, not a clock: time stands still while a script computes, as in Workers.)
        r#"new HTMLRewriter().on("p", { element(el) { let n = 0; for (let i = 0; i < 50000; i++) n += i; } })"#,
    );
    let limits = Limits {
        cpu_time: std::time::Duration::from_millis(50),
        ..Limits::default()
    };
    let e = patient(ScriptEngine::new(1, limits).expect("engine"));
    let err = run_with(&e, &code).await.expect_err("stopped");
    assert!(err.to_string().contains("CPU limit"), "{err}");
}

/// An engine whose requests wait as long as they need for their JS thread: a thread
/// replaced after a runaway script sets up a new runtime, which takes seconds in a
/// debug build on a loaded CI machine, past the default 1 s queue deadline (tested on
/// its own in tests/script_queue.rs).
fn patient(engine: outpost_scripting::ScriptEngine) -> outpost_scripting::ScriptEngine {
    let wait = std::time::Duration::from_secs(60);
    engine.with_queue_limits(outpost_scripting::QueueLimits::new(1, 128, None, wait))
}

/// With no `async` handler the JS thread parses the page itself: a plain handler that
/// returns a promise settled by microtasks is still awaited, in order, and a page
/// that arrives in many chunks (a JS stream) comes out whole.
#[tokio::test]
async fn plain_handlers_returning_settled_promises_are_awaited() {
    let code = r#"
        export default {
          async fetch() {
            const parts = ["<ul>", "<li>1</li>", "<li>2", "</li><li>3</li>", "</ul>"];
            const page = new ReadableStream({
              pull(c) { const p = parts.shift(); if (p === undefined) c.close(); else c.enqueue(new TextEncoder().encode(p)); },
            });
            let n = 0;
            return new HTMLRewriter()
              .on("li", {
                element(el) {
                  return Promise.resolve().then(() => el.setAttribute("data-n", String(++n)));
                },
              })
              .onDocument({ end(end) { end.append("<!-- " + n + " -->", { html: true }); } })
              .transform(new Response(page));
          },
        };
    "#;
    let (_, body) = run(code).await.expect("rewrite");
    assert_eq!(
        body,
        r#"<ul><li data-n="1">1</li><li data-n="2">2</li><li data-n="3">3</li></ul><!-- 3 -->"#
    );
}

/// A plain (not `async`) handler whose promise waits on I/O cannot hold a page parsed
/// on the JS thread: the body fails with an error that says what to change, and the
/// same handler declared `async` works.
#[tokio::test]
async fn a_plain_handler_waiting_on_io_fails_clearly_and_async_works() {
    let handler = |decl: &str| {
        module(
            "<p>a</p><p>b</p>",
            &format!(
                r#"new HTMLRewriter().on("p", {{
                    {decl}(el) {{ return new Promise((r) => setTimeout(r, 5)).then(() => el.setAttribute("late", "1")); }},
                  }})"#
            ),
        )
    };
    let e = patient(ScriptEngine::new(1, behaviour_limits()).expect("engine"));
    let err = run_with(&e, &handler("element"))
        .await
        .expect_err("the body fails");
    let msg = err.to_string();
    assert!(
        msg.contains("waits on I/O") && msg.contains("async"),
        "{msg}"
    );
    let (_, body) = run_with(&e, &handler("async element"))
        .await
        .expect("async handler");
    assert_eq!(body, r#"<p late="1">a</p><p late="1">b</p>"#);
}

/// A page over the JS thread's slice size (64 KiB), given whole or as one big stream
/// chunk, is rewritten across the slices' boundaries (tags cut in two included).
#[tokio::test]
async fn pages_larger_than_a_slice_are_rewritten_whole() {
    let code = r#"
        export default {
          async fetch(request) {
            const page = ('<a href="http://x/">' + "link ".repeat(60) + "</a>").repeat(600); // ~196 KB
            const rewriter = () => new HTMLRewriter().on("a", {
              element(el) { el.setAttribute("href", el.getAttribute("href").replace("http:", "https:")); },
            });
            const whole = await rewriter().transform(new Response(page)).text();
            const big = new TextEncoder().encode(page);
            const streamed = await rewriter().transform(new Response(new ReadableStream({
              start(c) { c.enqueue(big); c.close(); },
            }))).text();
            const count = (s) => s.split('href="https://x/"').length - 1;
            return Response.json({ whole: count(whole), streamed: count(streamed), len: whole.length, same: whole === streamed });
          },
        };
    "#;
    // (A debug build runs the 1 200 handler calls slower than the default limit allows.)
    let limits = Limits {
        cpu_time: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let e = patient(ScriptEngine::new(1, limits).expect("engine"));
    let (_, body) = run_with(&e, code).await.expect("rewrite");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["whole"], 600, "{v}");
    assert_eq!(v["streamed"], 600, "{v}");
    assert_eq!(v["same"], true, "{v}");
    let one = format!(r#"<a href="https://x/">{}</a>"#, "link ".repeat(60));
    assert_eq!(v["len"], 600 * one.len(), "{v}");
}

/// A token object works only for its own handler's run: one kept from the previous
/// match throws while the next handler runs (on a page parsed on the JS thread and on
/// a parser thread), and a method called on something that is not a token throws.
#[tokio::test]
async fn a_token_kept_from_an_earlier_match_throws_in_the_next() {
    let code = |decl: &str| {
        format!(
            r#"
            export default {{
              async fetch() {{
                const seen = [];
                let last = null;
                const body = await new HTMLRewriter().on("p", {{
                  {decl}(el) {{
                    if (last !== null) {{
                      try {{ last.setAttribute("late", "1"); seen.push("no error"); }} catch (e) {{ seen.push(e.name); }}
                    }}
                    el.setAttribute("n", String(seen.length));
                    last = el;
                  }},
                }}).transform(new Response("<p>a</p><p>b</p><p>c</p>")).text();
                let illegal = "no error";
                try {{ Object.getPrototypeOf(last).getAttribute.call({{}}, "n"); }} catch (e) {{ illegal = e.name + ": " + e.message; }}
                return Response.json({{ body, seen, illegal }});
              }},
            }};
            "#
        )
    };
    for decl in ["element", "async element"] {
        let (_, body) = run(&code(decl)).await.expect("run");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            v["body"], r#"<p n="0">a</p><p n="1">b</p><p n="2">c</p>"#,
            "{decl}: {v}"
        );
        assert_eq!(
            v["seen"],
            serde_json::json!(["TypeError", "TypeError"]),
            "{decl}: {v}"
        );
        assert_eq!(v["illegal"], "TypeError: Illegal invocation", "{decl}: {v}");
    }
}
