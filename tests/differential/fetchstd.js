// Differential test script (tests/workerd_diff.rs): the Fetch and URL standards'
// details for Headers, Request, Response, URL and URLSearchParams, each check written
// from the standard's text (section named beside it). Every route answers a list of
// [check, outcome], the outcome a value or the name of the error thrown. Where this
// workerd departs from the standards' text (it accepts empty and non-ASCII header
// names and non-Latin-1 status texts, and refuses methods outside its own list),
// Outpost follows the text: those checks are in scripting/tests/standards/fetch.js.
const outcome = (f) => {
  try {
    const v = f();
    return v === undefined ? "<undefined>" : v;
  } catch (e) {
    return e instanceof Error || e instanceof DOMException ? e.name : `threw ${typeof e}`;
  }
};
const run = (checks) => checks.map(([name, f]) => [name, outcome(f)]);

const routes = {
  // Fetch §5.2 (Headers class), §2.2 (header name/value), §4.? normalisation.
  "/headers"() {
    return run([
      ["record", () => [...new Headers({ b: "2", A: "1" })]],
      ["sequence", () => [...new Headers([["x", "1"], ["X", "2"]])]],
      ["sequence pair of 3", () => new Headers([["a", "1", "2"]])],
      ["sequence pair of 1", () => new Headers([["a"]])],
      ["not iterable object is a record", () => [...new Headers({ length: 1 })]],
      ["from Headers", () => [...new Headers(new Headers({ a: "1" }))]],
      ["null init", () => new Headers(null)],
      ["string init", () => new Headers("a")],
      ["invalid name", () => new Headers({ "a b": "1" })],
      ["name with colon", () => new Headers().append("a:b", "1")],
      ["value NUL", () => new Headers().append("a", "x\0y")],
      ["value LF", () => new Headers().append("a", "x\ny")],
      ["value CR", () => new Headers().append("a", "x\ry")],
      ["value trimmed", () => new Headers({ a: " \t x y \t " }).get("a")],
      ["value trims CRLF ends", () => new Headers({ a: "\r\n x \r\n" }).get("a")],
      ["value inner tab kept", () => new Headers({ a: "x\ty" }).get("a")],
      ["value non-Latin1", () => new Headers().append("a", "€")],
      ["get missing", () => new Headers().get("a")],
      ["combine", () => { const h = new Headers(); h.append("a", "1"); h.append("A", "2"); return h.get("a"); }],
      ["combine empty", () => { const h = new Headers(); h.append("a", ""); h.append("a", ""); return h.get("a"); }],
      ["set replaces all", () => { const h = new Headers([["a", "1"], ["a", "2"]]); h.set("a", "3"); return [...h]; }],
      ["delete", () => { const h = new Headers({ a: "1" }); h.delete("A"); return [h.has("a"), [...h]]; }],
      ["delete invalid name", () => new Headers().delete("a b")],
      ["has invalid name", () => new Headers().has("a b")],
      ["get invalid name", () => new Headers().get("a b")],
      ["sorted, lowercased", () => [...new Headers([["B", "1"], ["a", "2"], ["C", "3"]]).keys()]],
      ["set-cookie apart", () => [...new Headers([["set-cookie", "a=1"], ["Set-Cookie", "b=2"], ["x", "1"]])]],
      ["getSetCookie", () => new Headers([["set-cookie", "a=1, b"], ["set-cookie", "c=2"]]).getSetCookie()],
      ["getSetCookie none", () => new Headers().getSetCookie()],
      ["iteration sees changes", () => {
        const h = new Headers({ a: "1", c: "3" });
        const seen = [];
        for (const [k] of h) { seen.push(k); if (k === "a") h.set("b", "2"); }
        return seen;
      }],
      ["forEach args", () => { const out = []; new Headers({ a: "1" }).forEach((v, k, o) => out.push([v, k, o instanceof Headers])); return out; }],
      ["toStringTag", () => Object.prototype.toString.call(new Headers())],
      ["append returns", () => new Headers().append("a", "1")],
      ["numbers stringified", () => new Headers({ a: 1 }).get("a")],
      ["call without new", () => Headers()],
    ]);
  },
  // Fetch §5.4 (Request class).
  "/request"() {
    const base = "https://example.com/path?q=1#frag";
    return run([
      ["url keeps fragment", () => new Request(base).url],
      ["relative URL", () => new Request("/relative").url],
      ["invalid URL", () => new Request("http://[")],
      ["credentials in URL", () => new Request("https://user:pw@example.com/").url],
      ["method default", () => new Request(base).method],
      ["method normalised", () => ["get", "post", "delete", "head", "options", "put"].map((m) => new Request(base, { method: m }).method)],
      ["invalid method", () => new Request(base, { method: "a b" })],
      ["empty method", () => new Request(base, { method: "" })],
      ["forbidden CONNECT", () => new Request(base, { method: "CONNECT" })],
      ["forbidden trace", () => new Request(base, { method: "trace" })],
      ["GET with body", () => new Request(base, { body: "x" })],
      ["HEAD with body", () => new Request(base, { method: "HEAD", body: "x" })],
      ["GET with null body", () => new Request(base, { body: null }).method],
      ["redirect default", () => new Request(base).redirect],
      ["redirect manual", () => new Request(base, { redirect: "manual" }).redirect],
      ["redirect invalid", () => new Request(base, { redirect: "nope" })],
      ["headers from init", () => [...new Request(base, { headers: { "X-A": "1" } }).headers]],
      ["string body type", () => new Request(base, { method: "POST", body: "x" }).headers.get("content-type")],
      ["params body type", () => new Request(base, { method: "POST", body: new URLSearchParams("a=1") }).headers.get("content-type")],
      ["buffer body type", () => new Request(base, { method: "POST", body: new Uint8Array(1) }).headers.get("content-type")],
      ["blob body type", () => new Request(base, { method: "POST", body: new Blob(["x"], { type: "text/x" }) }).headers.get("content-type")],
      ["explicit type wins", () => new Request(base, { method: "POST", body: "x", headers: { "content-type": "a/b" } }).headers.get("content-type")],
      ["bodyUsed before", () => new Request(base, { method: "POST", body: "x" }).bodyUsed],
      ["body null for GET", () => new Request(base).body],
      ["from Request copies", () => { const r = new Request(base, { method: "PUT", headers: { a: "1" }, body: "x" }); const c = new Request(r); return [c.method, c.url, c.headers.get("a")]; }],
      ["from used Request", () => { const r = new Request(base, { method: "POST", body: "x" }); r.text(); return new Request(r); }],
      ["from Request, new URL ignored", () => new Request(new Request(base), {}).url],
      ["init overrides method", () => new Request(new Request(base, { method: "POST", body: "x" }), { method: "PUT" }).method],
      ["headers replaced not merged", () => [...new Request(new Request(base, { headers: { a: "1" } }), { headers: { b: "2" } }).headers]],
      ["clone", () => { const r = new Request(base, { method: "POST", body: "x", headers: { a: "1" } }); const c = r.clone(); return [c.method, c.url, c.headers.get("a"), c.bodyUsed]; }],
      ["clone of used", () => { const r = new Request(base, { method: "POST", body: "x" }); r.text(); return r.clone(); }],
      ["signal present", () => new Request(base).signal instanceof AbortSignal],
      ["toStringTag", () => Object.prototype.toString.call(new Request(base))],
      ["call without new", () => Request(base)],
      ["no arguments", () => new Request()],
      ["object URL stringified", () => new Request({ toString: () => base }).url],
      ["URL object", () => new Request(new URL(base)).url],
      ["subclass", () => {
        class R extends Request { constructor(u) { super(u, { method: "POST", body: "x" }); this.extra = 1; } get tag() { return "r"; } }
        const r = new R(base);
        return [r instanceof R, r instanceof Request, r.method, r.url, r.extra, r.tag, r.headers.get("content-type")];
      }],
      ["reader on another object", () => Object.getOwnPropertyDescriptor(Request.prototype, "url").get.call({})],
      ["clone keeps the head", () => {
        const r = new Request(base, { method: "PUT", headers: { a: "1" }, redirect: "manual" });
        const c = r.clone();
        c.headers.set("a", "2");
        return [c.method, c.url, c.redirect, c.headers.get("a"), r.headers.get("a"), c instanceof Request];
      }],
      ["own properties", () => Object.keys(new Request(base))],
    ]);
  },
  // Fetch §5.5 (Response class).
  "/response"() {
    return run([
      ["defaults", () => { const r = new Response(); return [r.status, r.statusText, r.ok, r.type, r.url, r.redirected, r.body, r.bodyUsed]; }],
      ["status 199", () => new Response(null, { status: 199 })],
      ["status 600", () => new Response(null, { status: 600 })],
      ["status 0", () => new Response(null, { status: 0 })],
      ["status string", () => new Response(null, { status: "201" }).status],
      ["status 204 with body", () => new Response("x", { status: 204 })],
      ["status 204 empty string body", () => new Response("", { status: 204 })],
      ["status 304 null body", () => new Response(null, { status: 304 }).status],
      ["statusText invalid", () => new Response(null, { statusText: "a\nb" })],
      ["statusText kept", () => new Response(null, { statusText: "Fine Thanks" }).statusText],
      ["ok range", () => [200, 299, 300].map((s) => new Response(null, { status: s }).ok)],
      ["string body type", () => new Response("x").headers.get("content-type")],
      ["params body type", () => new Response(new URLSearchParams("a=1")).headers.get("content-type")],
      ["blob body type", () => new Response(new Blob(["x"], { type: "Text/X" })).headers.get("content-type")],
      ["blob without type", () => new Response(new Blob(["x"])).headers.get("content-type")],
      ["buffer body type", () => new Response(new ArrayBuffer(1)).headers.get("content-type")],
      ["formdata body type", () => /^multipart\/form-data; boundary=/.test(new Response(new FormData()).headers.get("content-type"))],
      ["explicit type wins", () => new Response("x", { headers: { "content-type": "a/b" } }).headers.get("content-type")],
      ["error()", () => { const r = Response.error(); return [r.type, r.status, r.statusText, r.ok, [...r.headers]]; }],
      ["error() headers immutable", () => Response.error().headers.set("a", "1")],
      ["redirect()", () => { const r = Response.redirect("https://example.com/x", 301); return [r.status, r.headers.get("location"), r.statusText]; }],
      ["redirect() default 302", () => Response.redirect("https://example.com/").status],
      ["redirect() invalid status", () => Response.redirect("https://example.com/", 200)],
      ["redirect() invalid URL", () => Response.redirect("http://[", 302)],
      ["redirect() relative URL", () => Response.redirect("/x", 302)],
      ["json()", () => { const r = Response.json({ a: 1 }, { status: 201, headers: { "x-a": "1" } }); return [r.status, r.headers.get("content-type"), r.headers.get("x-a")]; }],
      ["json() keeps given type", () => Response.json(1, { headers: { "content-type": "a/b" } }).headers.get("content-type")],
      ["json() undefined", () => Response.json(undefined)],
      ["json() null body status", () => Response.json(1, { status: 204 })],
      ["json() BigInt", () => Response.json(1n)],
      ["clone after used", () => { const r = new Response("x"); r.text(); return r.clone(); }],
      ["bodyUsed after text()", () => { const r = new Response("x"); r.text(); return r.bodyUsed; }],
      ["null body not used", () => { const r = new Response(null); r.text(); return r.bodyUsed; }],
      ["headers init sequence", () => [...new Response(null, { headers: [["a", "1"]] }).headers]],
      ["headers init invalid", () => new Response(null, { headers: [["a"]] })],
      ["toStringTag", () => Object.prototype.toString.call(new Response())],
      ["call without new", () => Response()],
      ["init null", () => new Response("x", null).status],
      ["init not an object", () => new Response("x", 5)],
      ["status not an integer", () => new Response(null, { status: 200.5 })],
      ["length", () => Response.length],
      ["subclass", () => {
        class R extends Response { constructor() { super("x", { status: 201 }); this.extra = 1; } get tag() { return "r"; } }
        const r = new R();
        return [r instanceof R, r instanceof Response, r.status, r.extra, r.tag, r.headers.get("content-type")];
      }],
      ["reader on another object", () => Object.getOwnPropertyDescriptor(Response.prototype, "status").get.call({})],
      ["clone keeps the head", () => {
        const r = new Response("x", { status: 201, statusText: "S", headers: { a: "1" } });
        const c = r.clone();
        c.headers.set("a", "2");
        return [c.status, c.statusText, c.headers.get("a"), r.headers.get("a"), c.type, c.url, c.redirected, c.headers.get("content-type")];
      }],
      ["clone of an error", () => { const c = Response.error().clone(); return [c.type, c.status]; }],
      ["headers read once", () => { const r = new Response("x"); return r.headers === r.headers; }],
      ["init headers copied", () => { const h = new Headers({ a: "1" }); const r = new Response(null, { headers: h }); h.set("a", "2"); return r.headers.get("a"); }],
      ["own properties", () => Object.keys(new Response())],
    ]);
  },
  // URL Standard §6.1 (URL class) and §6.2 (URLSearchParams class).
  "/url"() {
    return run([
      ["canParse", () => [URL.canParse("https://a.test/"), URL.canParse("nope"), URL.canParse("/x", "https://a.test/")]],
      ["invalid", () => new URL("nope")],
      ["invalid base", () => new URL("/x", "nope")],
      ["setters", () => { const u = new URL("https://a.test/p?q#h"); u.pathname = "/a b"; u.search = "x=1 2"; u.hash = "h h"; u.port = "8443"; u.hostname = "B.test"; return u.href; }],
      ["default port dropped", () => new URL("https://a.test:443/").href],
      ["protocol setter special to non-special", () => { const u = new URL("https://a.test/"); u.protocol = "foo"; return u.href; }],
      ["IPv4 forms", () => new URL("http://0x7f.1/").host],
      ["IPv6 compressed", () => new URL("http://[0:0:0:0:0:0:0:1]/").host],
      ["IDNA", () => new URL("https://Bücher.example/").hostname],
      ["percent-encoding in path", () => new URL("https://a.test/ä ö|`{}").pathname],
      ["query encoding", () => new URL("https://a.test/?a='b c'<>").search],
      ["backslashes", () => new URL("https:\\\\a.test\\x\\y").href],
      ["dot segments", () => new URL("https://a.test/a/./b/../c/%2e%2E/d").pathname],
      ["origin of opaque", () => new URL("data:text/plain,x").origin],
      ["toJSON", () => new URL("https://a.test/x").toJSON()],
      ["searchParams live", () => { const u = new URL("https://a.test/?a=1"); u.searchParams.append("b", "2 3"); return [u.href, u.search]; }],
      ["search setter updates params", () => { const u = new URL("https://a.test/"); const p = u.searchParams; u.search = "?z=9"; return p.get("z"); }],
      ["params from record", () => new URLSearchParams({ a: "1", b: "2" }).toString()],
      ["params from sequence", () => new URLSearchParams([["a", "1"], ["a", "2"]]).getAll("a")],
      ["params sequence pair of 3", () => new URLSearchParams([["a", "1", "2"]])],
      ["params leading ?", () => new URLSearchParams("?a=1").get("a")],
      ["params plus and percent", () => new URLSearchParams("a=b+c%20d%zz").get("a")],
      ["params serialise", () => new URLSearchParams([["a b", "c&d=e"], ["é", "*-._~!"]]).toString()],
      ["params has/delete with value", () => { const p = new URLSearchParams("a=1&a=2&b=3"); p.delete("a", "1"); return [p.toString(), p.has("a", "2"), p.has("a", "1")]; }],
      ["params sort stable", () => { const p = new URLSearchParams("z=1&a=2&z=0&a=1"); p.sort(); return p.toString(); }],
      ["params size", () => new URLSearchParams("a=1&b=2&a=3").size],
      ["params lone surrogate", () => new URLSearchParams([["a", "\uD800"]]).toString()],
      ["URL toStringTag", () => Object.prototype.toString.call(new URL("https://a.test/"))],
      ["params toStringTag", () => Object.prototype.toString.call(new URLSearchParams())],
      ["params iterator", () => [...new URLSearchParams("a=1&b=2").entries()]],
    ]);
  },
};

export default {
  async fetch(request) {
    const route = routes[new URL(request.url).pathname];
    if (route === undefined) return new Response("no such route", { status: 404 });
    return Response.json(route());
  },
};
