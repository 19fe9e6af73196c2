// Differential test script (module form): HTMLRewriter, run by workerd and by Outpost.
// Every transformation here is independent of how the body is split into chunks.
const PAGE = `<!DOCTYPE html>
<html><head><title>Docs</title><!-- build 7 --></head>
<body class="docs" data-x="1">
  <nav><a href="http://example.com/a">A</a> <a href="/b" data-drop="y">B</a></nav>
  <h1>Hello world</h1>
  <p class="note">Some <b>bold</b> and <i>italic</i> text &amp; more.</p>
  <div id="gone">remove me</div><span class="unwrap">kept <em>inside</em></span>
  <img src="/pic.png" alt="pic"><br>
  <ul><li>1</li><li>2</li><li>3</li></ul>
</body></html>`;

function page() {
  return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8", "x-hook": "page" } });
}

export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/elements") {
      return new HTMLRewriter()
        .on("a[href]", {
          element(el) {
            const href = el.getAttribute("href");
            el.setAttribute("href", href.replace("http://", "https://"));
            el.removeAttribute("data-drop");
            // Names are case-insensitive; a new attribute goes after the others.
            el.setAttribute("Data-New", String(el.getAttribute("HREF") === el.getAttribute("href")));
            el.setAttribute("data-attrs", [...el.attributes].map(([k, v]) => `${k}=${v}`).join(";"));
          },
        })
        .on("body", { element(el) { el.setAttribute("data-has", String(el.hasAttribute("data-x"))); el.prepend("<header>top</header>", { html: true }); el.append("<bottom>"); } })
        .on("h1", { element(el) { el.before("<hr>", { html: true }); el.after("after h1"); el.setInnerContent("<i>Hi</i>", { html: true }); } })
        .on("#gone", { element(el) { el.remove(); } })
        .on("span.unwrap", { element(el) { el.removeAndKeepContent(); } })
        .on("img", { element(el) { el.replace(`<picture data-tag="${el.tagName}"></picture>`, { html: true }); } })
        .on("li", { element(el) { el.tagName = "div"; } })
        .transform(page());
    }
    if (path === "/text") {
      let doctype = "";
      return new HTMLRewriter()
        .on("p.note", { text(t) { t.replace(t.text.toUpperCase()); if (t.lastInTextNode) t.after("!"); } })
        .on("b", { element(el) { el.onEndTag((end) => { end.before("*"); end.after("<sup>1</sup>", { html: true }); }); } })
        .on("i", { element(el) { el.onEndTag((end) => { end.name = "i"; }); } })
        .on("head", { comments(c) { c.text = c.text.toUpperCase(); } })
        .onDocument({
          doctype(d) { doctype = `${d.name}|${d.publicId}|${d.systemId}`; },
          comments(c) { c.after("<!-- seen -->", { html: true }); },
          end(end) { end.append(`<!-- doctype ${doctype} -->`, { html: true }); },
        })
        .transform(page());
    }
    if (path === "/async") {
      let n = 0;
      return new HTMLRewriter()
        .on("li", {
          async element(el) {
            await new Promise((r) => setTimeout(r, 5));
            n += 1;
            el.setAttribute("data-n", String(n));
          },
        })
        .transform(page());
    }
    if (path === "/promises") {
      // No handler is declared async (Outpost parses this page on the JS thread):
      // promises that microtasks settle are awaited, in document order, and the page
      // comes in small chunks from a JS stream.
      const bytes = new TextEncoder().encode(PAGE);
      let at = 0;
      const chunked = new ReadableStream({
        pull(c) { if (at >= bytes.length) c.close(); else { c.enqueue(bytes.slice(at, at + 17)); at += 17; } },
      });
      const order = [];
      return new HTMLRewriter()
        .on("li", { element(el) { return Promise.resolve().then(() => { order.push(el.tagName); el.setAttribute("data-i", String(order.length)); }); } })
        .on("b", { element(el) { el.onEndTag(async (end) => { await null; end.after("[b]"); }); } })
        .on("a", { text(t) { if (t.lastInTextNode) t.after("+"); } })
        .onDocument({ end(end) { end.append(`<!-- ${order.join(",")} -->`, { html: true }); } })
        .transform(new Response(chunked, { headers: { "content-type": "text/html" } }));
    }
    if (path === "/tokens") {
      // What a token does after its handler, and async handlers that register end-tag
      // handlers, edit comments and text, and read what they wrote.
      const kept = {};
      const tryIt = (f) => { try { return String(f()); } catch (e) { return e.name; } };
      const body = await new HTMLRewriter()
        .on("a", { element(el) { kept.sync ??= el; } })
        .on("li", {
          async element(el) {
            await null;
            el.setAttribute("data-tag", el.tagName);
            el.onEndTag(async (end) => { await null; end.before(`[${end.name}]`); });
            kept.async ??= el;
          },
        })
        .on("head", { async comments(c) { await null; c.text = c.text + "!"; } })
        .on("h1", { async text(t) { await null; if (t.text) t.replace(t.text.replace("Hello", "Bye")); } })
        .on("nav", {
          element(el) {
            el.setAttribute("data-first", el.getAttribute("DATA-FIRST") ?? "none");
            el.setAttribute("data-attr", String(el.hasAttribute("data-first")));
            el.setAttribute("data-removed", String(el.removed));
            el.setAttribute("data-ns", el.namespaceURI);
          },
        })
        .transform(page())
        .text();
      const late = [];
      for (const el of [kept.sync, kept.async]) {
        late.push(tryIt(() => el.tagName), tryIt(() => el.getAttribute("href")), tryIt(() => el.setAttribute("x", "y")), tryIt(() => el.removed));
      }
      return new Response(`${body}\n${late.join(",")}`);
    }
    if (path === "/fetched") {
      const origin = request.headers.get("x-origin-url");
      const r = await fetch(`${origin}/echo`);
      const html = new Response(`<pre>${(await r.text()).split("\n")[0]}</pre>`, r);
      html.headers.set("content-type", "text/html");
      return new HTMLRewriter().on("pre", { element(el) { el.setAttribute("data-origin", "yes"); } }).transform(html);
    }
    return new Response("no such case", { status: 404 });
  },
};
