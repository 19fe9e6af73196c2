// Fetch and URL standards conformance, written from the standards' text
// (https://fetch.spec.whatwg.org/, https://url.spec.whatwg.org/, https://webidl.spec.whatwg.org/).
// Each check names the section it comes from. Run by scripting/tests/web_standards.rs.
export default {
  async fetch() {
    const failures = [];
    const check = (name, got, want) => {
      const g = JSON.stringify(got), w = JSON.stringify(want);
      if (g !== w) failures.push(`${name}: got ${g}, want ${w}`);
    };
    const error = (f) => { try { f(); return "none"; } catch (e) { return e.name; } };
    const base = "https://example.com/a?b#c";

    // Fetch §2.2 (HTTP header layer): a header name is a field-name token.
    check("§2.2 empty name", error(() => new Headers({ "": "1" })), "TypeError");
    check("§2.2 non-ASCII name", error(() => new Headers().append("é", "1")), "TypeError");
    check("§2.2 name with space", error(() => new Headers().append("a b", "1")), "TypeError");
    // §2.2: to normalize a value, remove leading and trailing HTTP whitespace.
    check("§2.2 value normalised", new Headers({ a: "\t\r\n x y \r\n\t" }).get("a"), "x y");
    // §2.2: a value must not contain NUL, CR or LF.
    check("§2.2 value with NUL", error(() => new Headers({ a: "x\0" })), "TypeError");
    check("§2.2 value with LF", error(() => new Headers({ a: "x\ny" })), "TypeError");
    // §2.2: get combines values with ", ", empty ones included.
    check("§2.2 combine", (() => { const h = new Headers(); h.append("a", ""); h.append("A", "1"); return h.get("a"); })(), ", 1");
    // §2.2 sort and combine: names lowercased and sorted; set-cookie values apart.
    check("§2.2 sort and combine", [...new Headers([["b", "1"], ["Set-Cookie", "x"], ["set-cookie", "y"], ["A", "2"]])],
      [["a", "2"], ["b", "1"], ["set-cookie", "x"], ["set-cookie", "y"]]);
    // §5.2 (Headers class): a sequence's items must be pairs.
    check("§5.2 pair of three", error(() => new Headers([["a", "1", "2"]])), "TypeError");
    check("§5.2 pair of one", error(() => new Headers([["a"]])), "TypeError");
    check("§5.2 getSetCookie", new Headers([["set-cookie", "a=1, b"], ["set-cookie", "c"]]).getSetCookie(), ["a=1, b", "c"]);
    check("§5.2 append returns undefined", new Headers().append("a", "1"), undefined);
    // §5.4 (Request class): method is a token; six are upper-cased, others kept as given.
    check("§5.4 method normalised", new Request(base, { method: "delete" }).method, "DELETE");
    check("§5.4 patch kept as given", new Request(base, { method: "patch" }).method, "patch");
    check("§5.4 extension method", new Request(base, { method: "PROPFIND" }).method, "PROPFIND");
    check("§5.4 method not a token", error(() => new Request(base, { method: "a b" })), "TypeError");
    // §2.2.1: CONNECT, TRACE and TRACK are forbidden methods.
    check("§2.2.1 forbidden", ["CONNECT", "trace", "Track"].map((m) => error(() => new Request(base, { method: m }))), ["TypeError", "TypeError", "TypeError"]);
    check("§5.4 GET with body", error(() => new Request(base, { body: "x" })), "TypeError");
    check("§5.4 redirect enum", error(() => new Request(base, { redirect: "sometimes" })), "TypeError");
    check("§5.4 signal always present", new Request(base).signal instanceof AbortSignal, true);
    check("§5.4 URL keeps fragment", new Request(base).url, base);
    check("§5.4 invalid URL", error(() => new Request("http://[")), "TypeError");
    // WebIDL §3.7 (interface objects): a constructor's length is its required
    // arguments; an attribute's getter is named "get <name>" (workerd: 0 and "").
    check("WebIDL Request.length, Response.length", [Request.length, Response.length], [1, 0]);
    check("WebIDL getter names", ["signal", "url"].map((k) => Object.getOwnPropertyDescriptor(Request.prototype, k).get.name), ["get signal", "get url"]);
    check("WebIDL status is an unsigned short", new Response(null, { status: 65536 + 201 }).status, 201);
    // §5.5 (Response class).
    check("§5.5 status range", [199, 600].map((s) => error(() => new Response(null, { status: s }))), ["RangeError", "RangeError"]);
    check("§5.5 statusText reason-phrase", error(() => new Response(null, { statusText: "a\nb" })), "TypeError");
    check("§5.5 statusText ByteString", error(() => new Response(null, { statusText: "€" })), "TypeError");
    check("§5.5 null body status", error(() => new Response("x", { status: 304 })), "TypeError");
    const e = Response.error();
    check("§5.5 error()", [e.type, e.status, e.statusText, e.ok, e.body], ["error", 0, "", false, null]);
    check("§5.5 redirect() status", error(() => Response.redirect(base, 200)), "RangeError");
    check("§5.5 redirect() location", Response.redirect("https://example.com/x?y", 307).headers.get("location"), "https://example.com/x?y");
    check("§5.5 json()", Response.json({ a: 1 }).headers.get("content-type"), "application/json");
    // §5.1 (extract a body): each kind's Content-Type.
    check("§5.1 string", new Response("x").headers.get("content-type"), "text/plain;charset=UTF-8");
    check("§5.1 URLSearchParams", new Response(new URLSearchParams("a=1")).headers.get("content-type"), "application/x-www-form-urlencoded;charset=UTF-8");
    check("§5.1 bytes", new Response(new Uint8Array(1)).headers.get("content-type"), null);
    check("§5.1 Blob type", new Response(new Blob(["x"], { type: "text/x" })).headers.get("content-type"), "text/x");
    // URL §5.1 (application/x-www-form-urlencoded parsing): + is a space, valid
    // percent-escapes are decoded, invalid ones kept.
    check("URL §5.1 parse", new URLSearchParams("a=b+c%20d%zz&%E2%82%AC=1").toString(), "a=b+c+d%25zz&%E2%82%AC=1");
    check("URL §5.1 parse values", [...new URLSearchParams("a=b+c%20d%zz")], [["a", "b c d%zz"]]);
    // URL §5.2 (serializing): only *-._ and alphanumerics stay; space is +.
    check("URL §5.2 serialize", new URLSearchParams([["a b", "*-._~!'()"]]).toString(), "a+b=*-._%7E%21%27%28%29");
    // USVString: a lone surrogate becomes U+FFFD.
    check("URL §5.2 lone surrogate", new URLSearchParams([["a", "\uD800"]]).toString(), "a=%EF%BF%BD");
    // URL §6.2: a sequence's items must be pairs.
    check("URL §6.2 pair of three", error(() => new URLSearchParams([["a", "1", "2"]])), "TypeError");
    // URL §6.1: searchParams is the same object, in step with the URL both ways.
    const u = new URL("https://a.test/?x=1");
    const p = u.searchParams;
    p.append("y", "2 3");
    u.search = "?z=9";
    check("URL §6.1 same object", u.searchParams === p, true);
    check("URL §6.1 params follow search", [...p], [["z", "9"]]);
    p.delete("z");
    check("URL §6.1 empty query dropped", u.href, "https://a.test/");
    // Encoding §8.2.1 (TextEncoder encode): a lone surrogate is encoded as U+FFFD.
    check("Encoding lone surrogate", [...new TextEncoder().encode("a\uD800")], [97, 239, 191, 189]);
    // ECMA-262 §25.5.1 (JSON.parse): strings are code units; lone surrogates survive,
    // with a reviver too.
    check("JSON lone surrogate", JSON.parse('"\\uDC00"', (k, v) => v).charCodeAt(0), 0xdc00);
    return Response.json(failures);
  },
};
