//! The hook lane (proxy/src/hook_lane/) through the real binary: a hooked GET or
//! HEAD it takes gets the same answer — status, fields in order and body bytes, all
//! but `Date` and the request id — as the same script bound by a page rule, which
//! sends the request down pingora's path. `outpost_script_lane_requests_total` shows
//! which path ran each request. Over HTTP/2 (h2c here) the same holds for what a
//! client sees: status, fields and body.

mod common;

use common::origin::TestOrigin;
use common::{Outpost, TEST_TIMEOUT, metric, raw_exchange, scrape};
use std::time::Duration;

/// One script for both paths: under `/ruled/` a page rule binds it and sets one more
/// action (pingora's path: the lane takes only rules that do nothing but bind a
/// script), elsewhere the site does (the lane). It strips the prefix, so both see one
/// route.
const HOOK: &str = r#"
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/ruled/, "");
    switch (path) {
      case "/text": {
        const h = new Headers({ "x-hook": "yes" });
        h.append("set-cookie", "a=1");
        h.append("set-cookie", "b=2");
        return new Response(`hello ${request.headers.get("x-who")} ${request.method}\n`, { headers: h });
      }
      case "/empty": return new Response(null, { status: 204 });
      case "/gone": return new Response("gone\n", { status: 410, statusText: "Gone Away" });
      case "/big": return new Response("<p>abc</p>".repeat(3000), { headers: { "content-type": "text/html" } });
      // Fields the writer sets itself, given by the script too, between others.
      case "/fields": return new Response("<p>f</p>".repeat(40), {
        headers: { "x-a": "1", "date": "Mon, 01 Jan 2024 00:00:00 GMT", "content-type": "text/html",
                   "content-length": "5", "outpost-request-id": "mine", "connection": "close", "x-b": "2" },
      });
      case "/varied": return new Response("<p>v</p>".repeat(40), {
        headers: { "content-type": "text/html", "vary": "Origin" },
      });
      case "/cf": {
        // (A rule that binds the script is named in `cf.rule`; the rest must agree.)
        const { rule, ...facts } = request.cf;
        return Response.json(facts);
      }
      case "/throw": throw new Error("boom");
      case "/pass": ctx.passThroughOnException(); throw new Error("pass me on");
      case "/stream": {
        const { readable, writable } = new TransformStream();
        const w = writable.getWriter();
        ctx.waitUntil((async () => {
          for (let i = 0; i < 3; i++) {
            await w.write(new TextEncoder().encode(`part ${i}\n`));
            await new Promise((r) => setTimeout(r, 5));
          }
          await w.close();
        })());
        return new Response(readable, { headers: { "content-type": "text/plain" } });
      }
      default: return fetch(request);
    }
  },
};
"#;

/// The script of a rule that does nothing but bind it (`/only/*`): the lane runs it
/// instead of the site's, and tells it the rule.
const ONLY: &str = r#"
export default {
  async fetch(request) {
    if (new URL(request.url).pathname === "/only/rule") {
      return new Response(`only ${request.cf.rule}\n`);
    }
    const r = await fetch(request);
    const out = new Response(r.body, r);
    out.headers.set("x-only", "yes");
    return out;
  },
};
"#;

fn start(origin: &TestOrigin, admin: u16) -> Outpost {
    start_with(origin, admin, "")
}

/// [`start`] with more `listen:` keys (`h2c: true`).
fn start_with(origin: &TestOrigin, admin: u16, listen: &str) -> Outpost {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hook.js"), HOOK).expect("write");
    std::fs::write(dir.path().join("only.js"), ONLY).expect("write");
    std::fs::write(
        dir.path().join("rules.yaml"),
        // (`origin_cache_control: true` is the default: it changes nothing but the path.)
        "- match: \"/ruled/*\"\n  actions: { script: hook.js, origin_cache_control: true }\n- match: \"/only/*\"\n  actions: { script: only.js }\n",
    )
    .expect("write");
    let yaml = format!(
        "listen: {{ http: \"{{http}}\"{listen} }}\nadmin: {{ listen: \"127.0.0.1:{admin}\" }}\nserver: {{ threads: 1 }}\nsites:\n  - default: true\n    origins: [\"{}\"]\n    script: hook.js\n    rules: rules.yaml\n    compression: {{ enabled: true, min_size: 100 }}\n",
        origin.url()
    );
    Outpost::start_in(dir, &yaml, &[])
}

/// The answer to one request on its own connection, without the lines that differ on
/// every response (`Date`, the request id).
fn exchange(op: &Outpost, method: &str, path: &str, extra: &str) -> String {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-Who: ada\r\n{extra}Connection: close\r\n\r\n"
    );
    let raw = raw_exchange(op.http, request.as_bytes(), Duration::from_secs(10));
    raw.split("\r\n")
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("date:") && !l.starts_with("outpost-request-id:")
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

async fn lane_runs(admin: &str) -> f64 {
    metric(&scrape(admin).await, "outpost_script_lane_requests_total")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lane_answers_as_pingoras_path_does() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let admin_port = common::free_port();
        let admin = format!("127.0.0.1:{admin_port}");
        let op = start(&origin, admin_port);
        let cases = [
            ("GET", "/text", ""),
            ("HEAD", "/text", ""),
            ("GET", "/empty", ""),
            ("GET", "/gone", ""),
            ("GET", "/big", ""),
            ("GET", "/big", "Accept-Encoding: gzip\r\n"),
            ("HEAD", "/big", "Accept-Encoding: gzip\r\n"),
            ("GET", "/fields", ""),
            ("GET", "/fields", "Accept-Encoding: gzip\r\n"),
            ("GET", "/varied", ""),
            ("GET", "/varied", "Accept-Encoding: br\r\n"),
            ("GET", "/cf", ""),
            ("GET", "/throw", ""),
            ("HEAD", "/throw", ""),
            ("GET", "/pass", ""),
            ("GET", "/stream", ""),
            ("GET", "/plain", ""),
            ("HEAD", "/plain", ""),
        ];
        for (method, path, extra) in cases {
            let before = lane_runs(&admin).await;
            let lane = exchange(&op, method, path, extra);
            let after =
                common::series_reaching(&admin, "outpost_script_lane_requests_total", before + 1.0)
                    .await;
            assert_eq!(after, before + 1.0, "{method} {path}: not run by the lane");
            let pingora = exchange(&op, method, &format!("/ruled{path}"), extra);
            assert_eq!(
                lane_runs(&admin).await,
                after,
                "{method} /ruled{path}: a rule's hook must take pingora's path"
            );
            assert!(lane.starts_with("HTTP/1.1 "), "{method} {path}: {lane}");
            assert_eq!(lane, pingora, "{method} {path}: the two paths differ");
        }
        // What the cases above must have covered.
        let text = exchange(&op, "GET", "/text", "");
        assert!(
            text.to_ascii_lowercase()
                .contains("set-cookie: a=1\r\nset-cookie: b=2\r\n"),
            "{text}"
        );
        assert!(text.ends_with("hello ada GET\n"), "{text}");
        let gone = exchange(&op, "GET", "/gone", "");
        assert!(gone.starts_with("HTTP/1.1 410 "), "{gone}");
        let gz = exchange(&op, "GET", "/big", "Accept-Encoding: gzip\r\n");
        assert!(
            gz.to_ascii_lowercase().contains("content-encoding: gzip"),
            "{gz}"
        );
        let failed = exchange(&op, "GET", "/throw", "");
        assert!(failed.starts_with("HTTP/1.1 500 "), "{failed}");
        assert!(
            failed.contains("outpost-error: script-exception"),
            "{failed}"
        );
        let cf = exchange(&op, "GET", "/cf", "");
        assert!(
            cf.ends_with(r#"{"httpProtocol":"HTTP/1.1","clientIp":"127.0.0.1"}"#),
            "{cf}"
        );
        let passed = exchange(&op, "GET", "/pass", "");
        assert!(passed.ends_with("hello from o"), "{passed}");
        let streamed = exchange(&op, "GET", "/stream", "");
        assert!(
            streamed.contains("part 0\n") && streamed.contains("part 2\n"),
            "{streamed}"
        );
        // The fields the writer sets come once each, with its values (a second
        // request closes the connection).
        let raw = raw_exchange(
            op.http,
            b"GET /fields HTTP/1.1\r\nHost: localhost\r\n\r\n\
              GET /text HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            Duration::from_secs(10),
        )
        .to_ascii_lowercase();
        let head = raw.split("\r\n\r\n").next().unwrap_or_default().to_string();
        for (field, wrong) in [
            ("date: ", "2024"),
            ("outpost-request-id: ", "mine"),
            ("content-length: ", "content-length: 5\r"),
            ("connection: ", "close"),
        ] {
            assert_eq!(head.matches(field).count(), 1, "{field} in {head}");
            assert!(!head.contains(wrong), "{wrong} in {head}");
        }
        assert!(head.contains("content-length: 320\r"), "{head}");
        assert!(head.contains("\r\nvary: accept-encoding"), "{head}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_moves_between_the_lane_and_pingoras_path() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let admin_port = common::free_port();
        let admin = format!("127.0.0.1:{admin_port}");
        let op = start(&origin, admin_port);
        // Pipelined: the lane twice, then pingora's path (a body) and a close. (pingora
        // itself closes a connection whose next request arrived with the last one's
        // body: clients retry, RFC 9112 §9.3.2; so its request comes last.)
        let requests = "GET /text HTTP/1.1\r\nHost: localhost\r\nX-Who: one\r\n\r\n\
             GET /text HTTP/1.1\r\nHost: localhost\r\nX-Who: two\r\n\r\n\
             POST /text HTTP/1.1\r\nHost: localhost\r\nX-Who: three\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
        let raw = raw_exchange(op.http, requests.as_bytes(), Duration::from_secs(10));
        assert_eq!(raw.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{raw}");
        let one = raw.find("hello one GET").expect("first answer");
        let two = raw.find("hello two GET").expect("second answer");
        let three = raw.find("hello three POST").expect("third answer");
        assert!(one < two && two < three, "{raw}");
        assert!(raw.ends_with("hello three POST\n"), "{raw}");
        let ran = common::series_reaching(&admin, "outpost_script_lane_requests_total", 2.0).await;
        assert_eq!(ran, 2.0, "the POST went through pingora's path");

        // One kept-alive connection, one request at a time: the lane, pingora's path,
        // the lane again.
        let c = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(1)
            .build()
            .expect("client");
        for (method, who, want) in [
            (reqwest::Method::GET, "four", "hello four GET\n"),
            (reqwest::Method::POST, "five", "hello five POST\n"),
            (reqwest::Method::GET, "six", "hello six GET\n"),
        ] {
            let r = c
                .request(method, op.url("/text"))
                .header("x-who", who)
                .body(if who == "five" { "x" } else { "" })
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.expect("body"), want);
        }
        let ran = common::series_reaching(&admin, "outpost_script_lane_requests_total", 4.0).await;
        assert_eq!(ran, 4.0);
        // Every request, whichever path answered, leaves the in-flight count (what a
        // drain waits for) once it ends.
        assert_eq!(common::in_flight_settled(&admin).await, 0.0);
    })
    .await
    .expect("test timed out");
}

/// What an HTTP/2 answer says, without the fields that differ on every response.
async fn seen(r: reqwest::Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = r.status().as_u16();
    let fields = r
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "outpost-request-id"))
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (status, fields, r.bytes().await.expect("body").to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_streams_take_the_lane_with_the_same_answers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let admin_port = common::free_port();
        let admin = format!("127.0.0.1:{admin_port}");
        let op = start_with(&origin, admin_port, ", h2c: true");
        let h2 = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .expect("client");
        let cases = [
            ("GET", "/text", None),
            ("HEAD", "/text", None),
            ("GET", "/empty", None),
            ("GET", "/gone", None),
            ("GET", "/big", Some("gzip")),
            ("GET", "/big", None),
            ("GET", "/cf", None),
            ("GET", "/throw", None),
            ("GET", "/pass", None),
            ("GET", "/stream", None),
            ("GET", "/plain", None),
        ];
        for (method, path, accept) in cases {
            let ask = |p: String| {
                let mut r = h2
                    .request(method.parse().expect("method"), op.url(&p))
                    .header("x-who", "ada");
                if let Some(a) = accept {
                    r = r.header("accept-encoding", a);
                }
                r.send()
            };
            let before = lane_runs(&admin).await;
            let lane = ask(path.to_string()).await.expect("lane");
            assert_eq!(lane.version(), reqwest::Version::HTTP_2);
            let lane = seen(lane).await;
            let after =
                common::series_reaching(&admin, "outpost_script_lane_requests_total", before + 1.0)
                    .await;
            assert_eq!(after, before + 1.0, "{method} {path}: not run by the lane");
            let pingora = seen(ask(format!("/ruled{path}")).await.expect("pingora")).await;
            assert_eq!(lane_runs(&admin).await, after, "{method} /ruled{path}");
            assert_eq!(lane, pingora, "{method} {path}: the two paths differ");
        }
        let text = seen(
            h2.get(op.url("/text"))
                .header("x-who", "ada")
                .send()
                .await
                .expect("text"),
        )
        .await;
        assert_eq!(text.2, b"hello ada GET\n");
        assert!(
            text.1.iter().all(|(n, _)| n != "connection"),
            "{:?}",
            text.1
        );
        let gz = seen(
            h2.get(op.url("/big"))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .expect("gz"),
        )
        .await;
        assert!(
            gz.1.contains(&("content-encoding".to_string(), "gzip".to_string())),
            "{:?}",
            gz.1
        );
        let cf = seen(h2.get(op.url("/cf")).send().await.expect("cf")).await;
        assert_eq!(cf.2, br#"{"httpProtocol":"HTTP/2","clientIp":"127.0.0.1"}"#);
        let streamed = seen(h2.get(op.url("/stream")).send().await.expect("stream")).await;
        assert_eq!(streamed.2, b"part 0\npart 1\npart 2\n");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_that_only_binds_a_script_takes_the_lane() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let origin = TestOrigin::start("o").await;
        let admin_port = common::free_port();
        let admin = format!("127.0.0.1:{admin_port}");
        let op = start(&origin, admin_port);
        let rule_hits = |text: &str| {
            text.lines()
                .filter(|l| l.starts_with("outpost_rule_hits_total{") && l.contains("rules.yaml:"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        let before = scrape(&admin).await;
        let (runs, hits) = (
            metric(&before, "outpost_script_lane_requests_total"),
            rule_hits(&before),
        );
        // The rule's script, not the site's, and the rule named in `cf.rule`.
        let told = exchange(&op, "GET", "/only/rule", "");
        assert!(told.starts_with("HTTP/1.1 200 "), "{told}");
        assert!(told.ends_with("only rules.yaml:3\n"), "{told}");
        // Its `fetch(request)` goes to the origin: the rule does not run the script
        // again on its own subrequest.
        let fetched = exchange(&op, "GET", "/only/page", "");
        assert!(fetched.starts_with("HTTP/1.1 200 "), "{fetched}");
        assert!(
            fetched.to_ascii_lowercase().contains("x-only: yes\r\n"),
            "{fetched}"
        );
        assert!(fetched.ends_with("hello from o"), "{fetched}");
        let after =
            common::series_reaching(&admin, "outpost_script_lane_requests_total", runs + 2.0).await;
        assert_eq!(after, runs + 2.0, "both requests run by the lane");
        // Counted as the rule's hits, as pingora's path counts them (the page's
        // subrequest, if pingora's path serves it, counts once more).
        let counted = rule_hits(&scrape(&admin).await);
        assert!(counted >= hits + 2.0, "rule hits {hits} -> {counted}");
    })
    .await
    .expect("test timed out");
}
